"""Lane grants, their reversals and the lane history. They run in the caller's transaction and
never commit. Grants, grant reversals and lane changes are append-only (database triggers refuse
UPDATE and DELETE)."""

from __future__ import annotations

import zlib
from dataclasses import fields
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from compensation.adapters.tables import lane_changes, lane_grant_reversals, lane_grants
from compensation.domain.lanes import GrantRecord, LaneChange, LaneGrant
from mc_events.db import execute_core, insert_once

_GRANT_FIELDS = tuple(f.name for f in fields(GrantRecord))
_CHANGE_FIELDS = tuple(f.name for f in fields(LaneChange))
_STORED_GRANT = tuple(name for name in _GRANT_FIELDS if name in lane_grants.c)


def _grant_of(row: sa.Row[Any]) -> GrantRecord:
    values = row._mapping
    return GrantRecord(**{name: values[name] for name in _GRANT_FIELDS if name in values})


def _change_of(row: sa.Row[Any]) -> LaneChange:
    values = row._mapping
    return LaneChange(**{name: values[name] for name in _CHANGE_FIELDS})


def _standing() -> sa.ColumnElement[bool]:
    return ~sa.exists().where(lane_grant_reversals.c.grant_id == lane_grants.c.grant_id)


class Lanes:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock(self, educator_id: str, district_id: str) -> None:
        """Serialise lane commands of one educator in one district (their lane is one value)."""
        key = zlib.crc32(f"lanes:{educator_id}:{district_id}".encode())
        await execute_core(self.session, sa.select(sa.func.pg_advisory_xact_lock(key)))

    async def standing_grants(self, educator_id: str, district_id: str) -> list[LaneGrant]:
        rows = await execute_core(
            self.session,
            sa.select(
                lane_grants.c.grant_id, lane_grants.c.lane, lane_grants.c.rank, lane_grants.c.seq
            )
            .where(
                lane_grants.c.educator_id == educator_id,
                lane_grants.c.district_id == district_id,
                _standing(),
            )
            .order_by(lane_grants.c.seq),
        )
        return [LaneGrant(row.grant_id, row.lane, row.rank, row.seq) for row in rows]

    async def insert_grant(self, grant: GrantRecord) -> bool:
        """False if this completion was granted under this rule already."""
        values = {name: getattr(grant, name) for name in _STORED_GRANT if name != "seq"}
        return await insert_once(self.session, lane_grants, values)

    async def grant(self, grant_id: str) -> GrantRecord:
        row = (
            await execute_core(
                self.session, sa.select(lane_grants).where(lane_grants.c.grant_id == grant_id)
            )
        ).one()
        return _grant_of(row)

    async def standing_grants_of_completion(self, stack_completion_id: str) -> list[GrantRecord]:
        rows = await execute_core(
            self.session,
            sa.select(lane_grants)
            .where(lane_grants.c.stack_completion_id == stack_completion_id, _standing())
            .order_by(lane_grants.c.rule_id),
        )
        return [_grant_of(row) for row in rows]

    async def insert_grant_reversal(
        self, grant_id: str, reason: str, reversed_at: datetime, at: datetime
    ) -> bool:
        """False if the grant was reversed already."""
        return await insert_once(
            self.session,
            lane_grant_reversals,
            {"grant_id": grant_id, "reason": reason, "reversed_at": reversed_at, "recorded_at": at},
        )

    async def insert_change(self, change: LaneChange) -> bool:
        """False if the grant made this change already (one per grant and direction)."""
        values = {name: getattr(change, name) for name in _CHANGE_FIELDS if name != "seq"}
        return await insert_once(self.session, lane_changes, values)

    async def change_that_set(
        self, educator_id: str, district_id: str, grant_id: str
    ) -> str | None:
        """The lane change ``grant_id`` made when granted; else the educator's latest change."""
        own = (
            await execute_core(
                self.session,
                sa.select(lane_changes.c.change_id).where(
                    lane_changes.c.grant_id == grant_id,
                    lane_changes.c.reason == "stack_completed",
                ),
            )
        ).first()
        if own is not None:
            return str(own.change_id)
        latest = (
            await execute_core(
                self.session,
                sa.select(lane_changes.c.change_id)
                .where(
                    lane_changes.c.educator_id == educator_id,
                    lane_changes.c.district_id == district_id,
                )
                .order_by(lane_changes.c.seq.desc())
                .limit(1),
            )
        ).first()
        return str(latest.change_id) if latest else None

    async def educator_changes(self, educator_id: str) -> list[LaneChange]:
        """Oldest first."""
        return await self._changes(
            sa.select(lane_changes).where(lane_changes.c.educator_id == educator_id)
        )

    async def district_changes(
        self, district_id: str, *, after_seq: int, limit: int
    ) -> list[LaneChange]:
        """The district's changes after ``after_seq``, in order, ``limit`` at most."""
        return await self._changes(
            sa.select(lane_changes)
            .where(lane_changes.c.district_id == district_id, lane_changes.c.seq > after_seq)
            .limit(limit)
        )

    async def _changes(self, stmt: sa.Select[Any]) -> list[LaneChange]:
        rows = await execute_core(self.session, stmt.order_by(lane_changes.c.seq))
        return [_change_of(row) for row in rows]

    async def educator_grants(self, educator_id: str) -> list[GrantRecord]:
        """Every grant, with its reversal if its completion was reversed; oldest first."""
        rows = await execute_core(
            self.session,
            sa.select(
                lane_grants,
                lane_grant_reversals.c.reversed_at,
                lane_grant_reversals.c.reason.label("reversal_reason"),
            )
            .outerjoin(
                lane_grant_reversals, lane_grant_reversals.c.grant_id == lane_grants.c.grant_id
            )
            .where(lane_grants.c.educator_id == educator_id)
            .order_by(lane_grants.c.seq),
        )
        return [_grant_of(row) for row in rows]
