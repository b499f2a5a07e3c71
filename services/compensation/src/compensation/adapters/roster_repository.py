"""Districts registered with compensation and the roster read model (who an educator is, for
eligibility). They run in the caller's transaction and never commit."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from compensation.adapters.tables import districts, educators
from compensation.domain.rules import Educator
from mc_events.db import execute_core


class Roster:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def register_district(
        self, district_id: str, state: str, name: str, at: datetime
    ) -> None:
        stmt = pg_insert(districts).values(
            district_id=district_id, state=state, name=name, registered_at=at
        )
        await execute_core(
            self.session,
            stmt.on_conflict_do_update(
                index_elements=[districts.c.district_id],
                set_={"state": stmt.excluded.state, "name": stmt.excluded.name},
            ),
        )

    async def district_state(self, district_id: str) -> str | None:
        """The district's state; None: not registered with compensation."""
        row = (
            await execute_core(
                self.session,
                sa.select(districts.c.state).where(districts.c.district_id == district_id),
            )
        ).first()
        return str(row.state) if row else None

    async def upsert_educator(self, educator: Educator, at: datetime) -> None:
        values = {
            "district_id": educator.district_id,
            "role": educator.role,
            "license_type": educator.license_type,
            "license_expires_on": educator.license_expires_on,
            "updated_at": at,
        }
        await execute_core(
            self.session,
            pg_insert(educators)
            .values(educator_id=educator.educator_id, **values)
            .on_conflict_do_update(index_elements=[educators.c.educator_id], set_=values),
        )

    async def move_educator(self, educator_id: str, district_id: str, at: datetime) -> bool:
        """False if the educator is not on the roster read model."""
        result = await execute_core(
            self.session,
            educators.update()
            .where(educators.c.educator_id == educator_id)
            .values(district_id=district_id, updated_at=at)
            .returning(educators.c.educator_id),
        )
        return result.first() is not None

    async def educator(self, educator_id: str) -> Educator | None:
        row = (
            await execute_core(
                self.session, sa.select(educators).where(educators.c.educator_id == educator_id)
            )
        ).first()
        if row is None:
            return None
        return Educator(
            row.educator_id, row.district_id, row.role, row.license_type, row.license_expires_on
        )
