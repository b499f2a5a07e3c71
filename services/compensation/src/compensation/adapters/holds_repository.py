"""Credential status and the ledger entries it holds from payroll. They run in the caller's
transaction and never commit. ``credential_status`` (a credential's status now, a read model)
is updated in place; every change is also one row of the append-only
``credential_status_history``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from compensation.adapters.ledger_repository import entry_of
from compensation.adapters.tables import (
    credential_status,
    credential_status_history,
    ledger_entries,
    payroll_items,
)
from compensation.domain.credentials import SUSPENDED, CredentialRef, CredentialStatus
from compensation.domain.ledger import LedgerEntry
from mc_events.db import execute_core, insert_once


def suspended_credential(credential_id: sa.ColumnElement[Any]) -> sa.Exists:
    """True where ``credential_id`` is currently suspended."""
    return sa.exists().where(
        credential_status.c.credential_id == credential_id,
        credential_status.c.status == SUSPENDED,
    )


def in_live_batch() -> sa.Exists:
    """True where a batch carries the ledger entry and payroll did not reject it."""
    return sa.exists().where(
        payroll_items.c.entry_id == ledger_entries.c.entry_id,
        payroll_items.c.status != "rejected",
    )


def held_entries_query() -> sa.Select[Any]:
    """Ledger entries held from payroll: their credential is suspended and no live batch
    carries them (an entry already exported stays in its batch)."""
    return sa.select(ledger_entries).where(
        ledger_entries.c.credential_id.is_not(None),
        suspended_credential(ledger_entries.c.credential_id),
        ~in_live_batch(),
    )


class Holds:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def status(self, credential_id: str, *, lock: bool = False) -> CredentialStatus | None:
        stmt = sa.select(credential_status).where(
            credential_status.c.credential_id == credential_id
        )
        if lock:
            stmt = stmt.with_for_update()
        row = (await execute_core(self.session, stmt)).first()
        return CredentialStatus(**row._mapping) if row else None

    async def set_status(
        self,
        credential: CredentialRef,
        status: str,
        *,
        changed_at: datetime,
        reason: str,
        at: datetime,
    ) -> None:
        """The credential's status now, and one more row of its history (recorded ``at``)."""
        values = {
            "educator_id": credential.educator_id,
            "district_id": credential.district_id,
            "status": status,
            "changed_at": changed_at,
            "reason": reason,
        }
        await execute_core(
            self.session,
            pg_insert(credential_status)
            .values(credential_id=credential.credential_id, **values)
            .on_conflict_do_update(index_elements=[credential_status.c.credential_id], set_=values),
        )
        await self.note(
            credential.credential_id, status, changed_at=changed_at, reason=reason, at=at
        )

    async def note(
        self, credential_id: str, status: str, *, changed_at: datetime, reason: str, at: datetime
    ) -> bool:
        """One row of the status history; False if noted already (unique on credential,
        status and time: a redelivered change)."""
        return await insert_once(
            self.session,
            credential_status_history,
            {
                "credential_id": credential_id,
                "status": status,
                "changed_at": changed_at,
                "reason": reason,
                "recorded_at": at,
            },
        )

    async def held_entry_ids(self, credential_id: str) -> list[str]:
        """The credential's held entries, in ledger order."""
        rows = await execute_core(
            self.session,
            held_entries_query()
            .where(ledger_entries.c.credential_id == credential_id)
            .order_by(ledger_entries.c.seq),
        )
        return [row.entry_id for row in rows]

    async def held_entries(
        self,
        *,
        district_id: str | None = None,
        educator_id: str | None = None,
        fiscal_year: int | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[LedgerEntry]:
        """Held entries by ledger seq (unique: pages never overlap or skip); all without a
        limit."""
        stmt = held_entries_query()
        if district_id is not None:
            stmt = stmt.where(ledger_entries.c.district_id == district_id)
        if educator_id is not None:
            stmt = stmt.where(ledger_entries.c.educator_id == educator_id)
        if fiscal_year is not None:
            stmt = stmt.where(ledger_entries.c.fiscal_year == fiscal_year)
        stmt = stmt.order_by(ledger_entries.c.seq).offset(offset).limit(limit)
        return [entry_of(row) for row in await execute_core(self.session, stmt)]
