"""Queries behind payroll batches and district reports (they never commit)."""

from __future__ import annotations

import zlib
from dataclasses import fields
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from compensation.adapters.holds_repository import in_live_batch, suspended_credential
from compensation.adapters.ledger_repository import deferral_of, entry_of
from compensation.adapters.tables import (
    budgets,
    deferrals,
    ledger_entries,
    payroll_batches,
    payroll_items,
)
from compensation.domain.ledger import APPROVAL, REVERSAL, Deferral, LedgerEntry
from compensation.domain.payroll import (
    EXPORTED,
    Acknowledgement,
    Batch,
    BatchHeader,
    BatchRecord,
    PayrollLine,
)
from compensation.domain.reports import SourceBudget, SourceDeferred, SourceSpend
from mc_events.db import execute_core

_HEADER_FIELDS = tuple(f.name for f in fields(BatchHeader))


def paid_item() -> sa.Exists:
    """True where payroll acknowledged the ledger entry as paid."""
    return sa.exists().where(
        payroll_items.c.entry_id == ledger_entries.c.entry_id, payroll_items.c.status == "paid"
    )


def _of_district_year(
    table: sa.Table, district_id: str, fiscal_year: int
) -> sa.ColumnElement[bool]:
    return sa.and_(table.c.district_id == district_id, table.c.fiscal_year == fiscal_year)


def _page(
    stmt: sa.Select[Any], seq: sa.ColumnElement[int], limit: int | None, offset: int
) -> sa.Select[Any]:
    """By ``seq`` (unique: pages never overlap or skip); all without a limit."""
    return stmt.order_by(seq).offset(offset).limit(limit)


class Payroll:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _rows(self, stmt: sa.Executable) -> list[sa.Row[Any]]:
        return list(await execute_core(self.session, stmt))

    # -- batches -----------------------------------------------------------------------------

    async def lock_district(self, district_id: str) -> None:
        """One batch is composed at a time per district (they would compete for entries)."""
        key = zlib.crc32(f"payroll:{district_id}".encode())
        await execute_core(self.session, sa.select(sa.func.pg_advisory_xact_lock(key)))

    async def batch(self, batch_id: str, *, lock: bool = False) -> BatchRecord | None:
        stmt = sa.select(payroll_batches).where(payroll_batches.c.batch_id == batch_id)
        if lock:
            stmt = stmt.with_for_update()
        row = (await execute_core(self.session, stmt)).first()
        if row is None:
            return None
        header = BatchHeader(**{name: row._mapping[name] for name in _HEADER_FIELDS})
        return BatchRecord(header, row.status, row.checksum_sha256, row.acknowledgement)

    async def lines(self, batch_id: str) -> list[PayrollLine]:
        rows = await self._rows(
            sa.select(payroll_items.c.line_no, ledger_entries)
            .join(ledger_entries, ledger_entries.c.entry_id == payroll_items.c.entry_id)
            .where(payroll_items.c.batch_id == batch_id)
            .order_by(payroll_items.c.line_no)
        )
        return [PayrollLine.of(row.line_no, entry_of(row)) for row in rows]

    async def unbatched_entries(self, district_id: str, before: datetime) -> list[LedgerEntry]:
        """The district's ledger entries recorded before ``before`` that no live batch
        carries, except those held because their credential is suspended (they wait for
        reinstatement)."""
        rows = await self._rows(
            sa.select(ledger_entries)
            .where(
                ledger_entries.c.district_id == district_id,
                ledger_entries.c.recorded_at < before,
                ~in_live_batch(),
                ~suspended_credential(ledger_entries.c.credential_id),
            )
            .order_by(ledger_entries.c.seq)
        )
        return [entry_of(row) for row in rows]

    async def insert_batch(self, batch: Batch) -> None:
        header = batch.header
        await execute_core(
            self.session,
            payroll_batches.insert().values(
                **{name: getattr(header, name) for name in _HEADER_FIELDS},
                entry_count=len(batch.lines),
                total_cents=batch.total_cents,
                checksum_sha256=batch.checksum_sha256,
                status=EXPORTED,
            ),
        )
        if batch.lines:
            await execute_core(
                self.session,
                payroll_items.insert(),
                [
                    {
                        "batch_id": header.batch_id,
                        "entry_id": line.entry_id,
                        "line_no": line.line_no,
                        "status": EXPORTED,
                    }
                    for line in batch.lines
                ],
            )

    async def settle_items(
        self, batch_id: str, entry_ids: list[str], status: str, at: datetime
    ) -> None:
        if not entry_ids:
            return
        await execute_core(
            self.session,
            payroll_items.update()
            .where(payroll_items.c.batch_id == batch_id, payroll_items.c.entry_id.in_(entry_ids))
            .values(status=status, settled_at=at),
        )

    async def settle(
        self,
        batch_id: str,
        ack: Acknowledgement,
        *,
        paid: list[str],
        rejected: list[str],
        at: datetime,
    ) -> None:
        """Settle the batch's items as ``ack`` says and keep ``ack`` on the batch."""
        await self.settle_items(batch_id, paid, "paid", at)
        await self.settle_items(batch_id, rejected, "rejected", at)
        await execute_core(
            self.session,
            payroll_batches.update()
            .where(payroll_batches.c.batch_id == batch_id)
            .values(status=ack.status.value, acknowledgement=ack.as_stored(), acknowledged_at=at),
        )

    # -- district reports --------------------------------------------------------------------

    async def spend_by_source(self, district_id: str, fiscal_year: int) -> list[SourceSpend]:
        paid = paid_item()
        amount = ledger_entries.c.amount_cents
        rows = await self._rows(
            sa.select(
                ledger_entries.c.funding_source,
                sa.func.coalesce(
                    sa.func.sum(amount).filter(ledger_entries.c.kind == APPROVAL), 0
                ).label("approved_cents"),
                sa.func.coalesce(
                    sa.func.sum(amount).filter(ledger_entries.c.kind == REVERSAL), 0
                ).label("reversed_cents"),
                sa.func.coalesce(sa.func.sum(amount).filter(paid), 0).label("paid_cents"),
                sa.func.coalesce(sa.func.sum(amount).filter(~paid), 0).label("pending_cents"),
                sa.func.count().filter(~paid).label("pending_count"),
            )
            .where(_of_district_year(ledger_entries, district_id, fiscal_year))
            .group_by(ledger_entries.c.funding_source)
            .order_by(ledger_entries.c.funding_source)
        )
        return [
            SourceSpend(
                funding_source=row.funding_source,
                approved_cents=int(row.approved_cents),
                reversed_cents=int(row.reversed_cents),
                paid_cents=int(row.paid_cents),
                pending_cents=int(row.pending_cents),
                pending_count=int(row.pending_count),
            )
            for row in rows
        ]

    async def budgets_of(self, district_id: str, fiscal_year: int) -> list[SourceBudget]:
        rows = await self._rows(
            sa.select(budgets)
            .where(_of_district_year(budgets, district_id, fiscal_year))
            .order_by(budgets.c.funding_source)
        )
        return [
            SourceBudget(row.funding_source, int(row.allocated_cents), int(row.committed_cents))
            for row in rows
        ]

    async def deferred_by_source(self, district_id: str, fiscal_year: int) -> list[SourceDeferred]:
        rows = await self._rows(
            sa.select(
                deferrals.c.funding_source,
                sa.func.count().label("deferred_count"),
                sa.func.sum(deferrals.c.amount_cents).label("deferred_cents"),
            )
            .where(
                _of_district_year(deferrals, district_id, fiscal_year),
                deferrals.c.status == "deferred",
            )
            .group_by(deferrals.c.funding_source)
        )
        return [
            SourceDeferred(row.funding_source, int(row.deferred_count), int(row.deferred_cents))
            for row in rows
        ]

    async def pending_entries(
        self, district_id: str, fiscal_year: int, *, limit: int | None = None, offset: int = 0
    ) -> list[LedgerEntry]:
        """Entries payroll has not paid yet, in ledger order."""
        stmt = sa.select(ledger_entries).where(
            _of_district_year(ledger_entries, district_id, fiscal_year), ~paid_item()
        )
        rows = await self._rows(_page(stmt, ledger_entries.c.seq, limit, offset))
        return [entry_of(row) for row in rows]

    async def deferred_stipends(
        self, district_id: str, fiscal_year: int, *, limit: int | None = None, offset: int = 0
    ) -> list[Deferral]:
        """Stipends waiting for budget, oldest first."""
        stmt = sa.select(deferrals).where(
            _of_district_year(deferrals, district_id, fiscal_year),
            deferrals.c.status == "deferred",
        )
        rows = await self._rows(_page(stmt, deferrals.c.seq, limit, offset))
        return [deferral_of(row) for row in rows]
