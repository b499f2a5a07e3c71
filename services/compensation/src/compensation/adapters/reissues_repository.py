"""Queries behind credential reissues. They run in the caller's transaction and never commit.

``credential_reissues`` is append-only (a trigger refuses UPDATE and DELETE); its primary key is
the new credential id, so every credential has at most one predecessor and following
predecessors from any id ends at exactly one original credential (the award's)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from compensation.adapters.tables import credential_reissues, credential_status_history
from mc_events.db import execute_core, insert_once

MAX_CHAIN = 1000
"""Reissues followed at most (a backstop: inserts refuse cycles, so chains end)."""


def original_credential_query(credential_id: sa.ColumnElement[str]) -> sa.Select[tuple[str]]:
    """The query of :func:`original_credential_id` (one row), to embed in larger reads;
    ``credential_id`` is a literal or a bound parameter."""
    chain = sa.select(
        credential_id.label("credential_id"),
        sa.literal(0, sa.Integer).label("depth"),
    ).cte("chain", recursive=True)
    chain = chain.union_all(
        sa.select(
            credential_reissues.c.previous_credential_id,
            chain.c.depth + 1,
        ).where(
            credential_reissues.c.credential_id == chain.c.credential_id,
            chain.c.depth < MAX_CHAIN,
        )
    )
    return sa.select(chain.c.credential_id).order_by(chain.c.depth.desc()).limit(1)


async def original_credential_id(session: AsyncSession, credential_id: str) -> str:
    """The credential the award was made for: ``credential_id`` followed back through its
    reissues (itself if it was never reissued from another)."""
    row = (
        await execute_core(session, original_credential_query(sa.literal(credential_id, sa.Text)))
    ).one()
    return str(row.credential_id)


async def insert_reissue(session: AsyncSession, values: Mapping[str, Any]) -> bool:
    """False if this new credential id was recorded already (a redelivered reissue)."""
    result = await execute_core(
        session,
        pg_insert(credential_reissues)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[credential_reissues.c.credential_id])
        .returning(credential_reissues.c.credential_id),
    )
    return result.first() is not None


async def get_reissue(session: AsyncSession, credential_id: str) -> Any:
    """The reissue that created ``credential_id``, if any."""
    return (
        await execute_core(
            session,
            sa.select(credential_reissues).where(
                credential_reissues.c.credential_id == credential_id
            ),
        )
    ).first()


async def superseded_at(session: AsyncSession, credential_id: str) -> datetime | None:
    """When ``credential_id`` was first reissued as another credential; None: never."""
    value = (
        await execute_core(
            session,
            sa.select(sa.func.min(credential_reissues.c.reissued_at)).where(
                credential_reissues.c.previous_credential_id == credential_id
            ),
        )
    ).scalar()
    return value if isinstance(value, datetime) else None


async def record_superseded_revocation(
    session: AsyncSession, credential_id: str, *, changed_at: datetime, reason: str, at: datetime
) -> bool:
    """Note in the status history that a superseded credential was revoked, as status
    ``superseded`` (its own value: the award's status, and a revocation of the award at the same
    time, are not touched). False if noted already (a redelivered or duplicated revocation)."""
    return await insert_once(
        session,
        credential_status_history,
        {
            "credential_id": credential_id,
            "status": "superseded",
            "changed_at": changed_at,
            "reason": reason,
            "recorded_at": at,
        },
    )
