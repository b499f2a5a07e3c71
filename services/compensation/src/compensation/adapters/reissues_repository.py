"""Queries behind credential reissues. They run in the caller's transaction and never commit.

``credential_reissues`` is append-only (a trigger refuses UPDATE and DELETE); its primary key is
the new credential id, so every credential has at most one predecessor and following
predecessors from any id ends at exactly one original credential (the award's)."""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from compensation.adapters.tables import credential_reissues
from compensation.domain.credentials import Reissue
from mc_events.db import execute_core

_FIELDS = tuple(f.name for f in fields(Reissue))

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


class Reissues:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def original_credential_id(self, credential_id: str) -> str:
        """The credential the award was made for: ``credential_id`` followed back through its
        reissues (itself if it was never reissued from another)."""
        row = (
            await execute_core(
                self.session, original_credential_query(sa.literal(credential_id, sa.Text))
            )
        ).one()
        return str(row.credential_id)

    async def insert(self, reissue: Reissue, *, recorded_at: datetime) -> bool:
        """False if this new credential id was recorded already (a redelivered reissue)."""
        values = {**{name: getattr(reissue, name) for name in _FIELDS}, "recorded_at": recorded_at}
        result = await execute_core(
            self.session,
            pg_insert(credential_reissues)
            .values(**values)
            .on_conflict_do_nothing(index_elements=[credential_reissues.c.credential_id])
            .returning(credential_reissues.c.credential_id),
        )
        return result.first() is not None

    async def reissue(self, credential_id: str) -> Reissue | None:
        """The reissue that created ``credential_id``, if any."""
        row = (
            await execute_core(
                self.session,
                sa.select(*(credential_reissues.c[name] for name in _FIELDS)).where(
                    credential_reissues.c.credential_id == credential_id
                ),
            )
        ).first()
        return Reissue(**row._mapping) if row else None

    async def superseded_at(self, credential_id: str) -> datetime | None:
        """When ``credential_id`` was first reissued as another credential; None: never."""
        value = (
            await execute_core(
                self.session,
                sa.select(sa.func.min(credential_reissues.c.reissued_at)).where(
                    credential_reissues.c.previous_credential_id == credential_id
                ),
            )
        ).scalar()
        return value if isinstance(value, datetime) else None
