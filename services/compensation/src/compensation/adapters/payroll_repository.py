"""Queries behind payroll batches and district reports (they never commit)."""

from __future__ import annotations

import zlib
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from compensation.adapters.lanes_repository import suspended_credential
from compensation.adapters.tables import (
    budgets,
    deferrals,
    ledger_entries,
    payroll_batches,
    payroll_items,
)
from compensation.domain.payroll import BatchHeader, PayrollLine
from mc_events.db import execute_core


async def lock_district_payroll(session: AsyncSession, district_id: str) -> None:
    """One batch is composed at a time per district (they would compete for entries)."""
    key = zlib.crc32(f"payroll:{district_id}".encode())
    await execute_core(session, sa.select(sa.func.pg_advisory_xact_lock(key)))


async def get_batch(session: AsyncSession, batch_id: str, *, lock: bool = False) -> Any:
    stmt = sa.select(payroll_batches).where(payroll_batches.c.batch_id == batch_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await execute_core(session, stmt)).first()


async def unbatched_entries(session: AsyncSession, district_id: str, before: datetime) -> list[Any]:
    """The district's ledger entries recorded before ``before`` that no live batch carries,
    except those held because their credential is suspended (they wait for reinstatement)."""
    live = sa.select(payroll_items.c.entry_id).where(
        payroll_items.c.entry_id == ledger_entries.c.entry_id,
        payroll_items.c.status != "rejected",
    )
    rows = await execute_core(
        session,
        sa.select(ledger_entries)
        .where(
            ledger_entries.c.district_id == district_id,
            ledger_entries.c.recorded_at < before,
            ~sa.exists(live),
            ~suspended_credential(ledger_entries.c.credential_id),
        )
        .order_by(ledger_entries.c.seq),
    )
    return list(rows)


async def insert_batch(
    session: AsyncSession,
    header: BatchHeader,
    entry_ids: list[str],
    *,
    total_cents: int,
    checksum: str,
) -> None:
    await execute_core(
        session,
        payroll_batches.insert().values(
            batch_id=header.batch_id,
            district_id=header.district_id,
            pay_period_id=header.pay_period_id,
            pay_period_start=header.pay_period_start,
            pay_period_end=header.pay_period_end,
            idempotency_key=header.idempotency_key,
            entry_count=len(entry_ids),
            total_cents=total_cents,
            checksum_sha256=checksum,
            exported_at=header.exported_at,
            status="exported",
        ),
    )
    if entry_ids:
        await execute_core(
            session,
            payroll_items.insert(),
            [
                {
                    "batch_id": header.batch_id,
                    "entry_id": entry_id,
                    "line_no": n,
                    "status": "exported",
                }
                for n, entry_id in enumerate(entry_ids, start=1)
            ],
        )


def header_of(row: Any) -> BatchHeader:
    start: date = row.pay_period_start
    end: date = row.pay_period_end
    return BatchHeader(
        batch_id=row.batch_id,
        district_id=row.district_id,
        pay_period_id=row.pay_period_id,
        pay_period_start=start,
        pay_period_end=end,
        idempotency_key=row.idempotency_key,
        exported_at=row.exported_at,
    )


async def batch_lines(session: AsyncSession, batch_id: str) -> list[PayrollLine]:
    rows = await execute_core(
        session,
        sa.select(payroll_items.c.line_no, ledger_entries)
        .join(ledger_entries, ledger_entries.c.entry_id == payroll_items.c.entry_id)
        .where(payroll_items.c.batch_id == batch_id)
        .order_by(payroll_items.c.line_no),
    )
    return [
        PayrollLine(
            line_no=row.line_no,
            entry_id=row.entry_id,
            kind=row.kind,
            educator_id=row.educator_id,
            amount_cents=row.amount_cents,
            funding_source=row.funding_source,
            rule_id=row.rule_id,
            rule_version=row.rule_version,
            fiscal_year=row.fiscal_year,
            fiscal_period=row.fiscal_period,
            credential_id=row.credential_id,
            stack_completion_id=row.stack_completion_id,
            reverses_entry_id=row.reverses_entry_id,
        )
        for row in rows
    ]


async def settle_items(
    session: AsyncSession, batch_id: str, entry_ids: list[str], status: str, at: datetime
) -> None:
    if not entry_ids:
        return
    await execute_core(
        session,
        payroll_items.update()
        .where(payroll_items.c.batch_id == batch_id, payroll_items.c.entry_id.in_(entry_ids))
        .values(status=status, settled_at=at),
    )


async def record_acknowledgement(
    session: AsyncSession, batch_id: str, status: str, ack: dict[str, Any], at: datetime
) -> None:
    await execute_core(
        session,
        payroll_batches.update()
        .where(payroll_batches.c.batch_id == batch_id)
        .values(status=status, acknowledgement=ack, acknowledged_at=at),
    )


# -- district reports -----------------------------------------------------------------------


def _paid_item() -> sa.Exists:
    return sa.exists().where(
        payroll_items.c.entry_id == ledger_entries.c.entry_id, payroll_items.c.status == "paid"
    )


async def spend_by_source(session: AsyncSession, district_id: str, fiscal_year: int) -> list[Any]:
    paid = _paid_item()
    amount = ledger_entries.c.amount_cents
    rows = await execute_core(
        session,
        sa.select(
            ledger_entries.c.funding_source,
            sa.func.coalesce(
                sa.func.sum(amount).filter(ledger_entries.c.kind == "approval"), 0
            ).label("approved_cents"),
            sa.func.coalesce(
                sa.func.sum(amount).filter(ledger_entries.c.kind == "reversal"), 0
            ).label("reversed_cents"),
            sa.func.coalesce(sa.func.sum(amount).filter(paid), 0).label("paid_cents"),
            sa.func.coalesce(sa.func.sum(amount).filter(~paid), 0).label("pending_cents"),
            sa.func.count().filter(~paid).label("pending_count"),
        )
        .where(
            ledger_entries.c.district_id == district_id, ledger_entries.c.fiscal_year == fiscal_year
        )
        .group_by(ledger_entries.c.funding_source)
        .order_by(ledger_entries.c.funding_source),
    )
    return list(rows)


async def budgets_of(session: AsyncSession, district_id: str, fiscal_year: int) -> list[Any]:
    rows = await execute_core(
        session,
        sa.select(budgets)
        .where(budgets.c.district_id == district_id, budgets.c.fiscal_year == fiscal_year)
        .order_by(budgets.c.funding_source),
    )
    return list(rows)


async def deferred_by_source(
    session: AsyncSession, district_id: str, fiscal_year: int
) -> list[Any]:
    rows = await execute_core(
        session,
        sa.select(
            deferrals.c.funding_source,
            sa.func.count().label("deferred_count"),
            sa.func.sum(deferrals.c.amount_cents).label("deferred_cents"),
        )
        .where(
            deferrals.c.district_id == district_id,
            deferrals.c.fiscal_year == fiscal_year,
            deferrals.c.status == "deferred",
        )
        .group_by(deferrals.c.funding_source),
    )
    return list(rows)


async def pending_entries(
    session: AsyncSession,
    district_id: str,
    fiscal_year: int,
    *,
    limit: int | None = None,
    offset: int = 0,
) -> list[Any]:
    """By seq (unique: pages never overlap or skip); all without a limit."""
    rows = await execute_core(
        session,
        sa.select(ledger_entries)
        .where(
            ledger_entries.c.district_id == district_id,
            ledger_entries.c.fiscal_year == fiscal_year,
            ~_paid_item(),
        )
        .order_by(ledger_entries.c.seq)
        .offset(offset)
        .limit(limit),
    )
    return list(rows)


async def deferred_stipends(
    session: AsyncSession,
    district_id: str,
    fiscal_year: int,
    *,
    limit: int | None = None,
    offset: int = 0,
) -> list[Any]:
    """By seq (unique: pages never overlap or skip); all without a limit."""
    rows = await execute_core(
        session,
        sa.select(deferrals)
        .where(
            deferrals.c.district_id == district_id,
            deferrals.c.fiscal_year == fiscal_year,
            deferrals.c.status == "deferred",
        )
        .order_by(deferrals.c.seq)
        .offset(offset)
        .limit(limit),
    )
    return list(rows)
