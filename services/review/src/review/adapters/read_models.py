"""The catalog and roster read models: what review keeps from the registry's and enrollment's
events (a version's rubric, attempt cap and competency; an educator's district, school and
supervisor; never names or emails)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlmodel.ext.asyncio.session import AsyncSession

from mc_events.db import execute_core
from review.adapters.tables import catalog_versions, roster_educators
from review.domain.scoring import Criterion, Rubric


@dataclass(frozen=True)
class CatalogEntry:
    """A published micro-credential version, as review keeps it."""

    micro_credential_id: str
    micro_credential_version: int
    competency: str
    rubric: Rubric
    published_at: datetime


def rubric_of(criteria: Any, attempt_cap: int) -> Rubric:
    """A stored rubric (``[{id, level_ids, required_level_id}]``) and attempt cap."""
    return Rubric(
        tuple(Criterion(c["id"], tuple(c["level_ids"]), c["required_level_id"]) for c in criteria),
        int(attempt_cap),
    )


def _stored_rubric(rubric: Rubric) -> list[dict[str, Any]]:
    return [
        {"id": c.id, "level_ids": list(c.level_ids), "required_level_id": c.required_level_id}
        for c in rubric.criteria
    ]


def _version(mc_id: str, version: int) -> sa.ColumnElement[bool]:
    return sa.and_(
        catalog_versions.c.micro_credential_id == mc_id,
        catalog_versions.c.micro_credential_version == version,
    )


class CatalogRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def upsert(self, entry: CatalogEntry) -> None:
        stmt = pg_insert(catalog_versions).values(
            micro_credential_id=entry.micro_credential_id,
            micro_credential_version=entry.micro_credential_version,
            competency=entry.competency,
            rubric=_stored_rubric(entry.rubric),
            attempt_cap=entry.rubric.attempt_cap,
            published_at=entry.published_at,
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["micro_credential_id", "micro_credential_version"],
            set_={k: stmt.excluded[k] for k in ("competency", "rubric", "attempt_cap")},
        )
        await execute_core(self._session, stmt)

    async def retire(self, mc_id: str, version: int, at: datetime) -> bool:
        """Mark a version retired; False if review never saw it."""
        result = await execute_core(
            self._session,
            sa.update(catalog_versions).where(_version(mc_id, version)).values(retired_at=at),
        )
        return bool(result.rowcount)

    async def competency(self, mc_id: str, version: int) -> str | None:
        result = await execute_core(
            self._session,
            sa.select(catalog_versions.c.competency).where(_version(mc_id, version)),
        )
        value = result.scalar_one_or_none()
        return str(value) if value is not None else None

    async def rubric(self, mc_id: str, version: int) -> Rubric | None:
        """The version's rubric and attempt cap; None while its catalog entry has not arrived."""
        result = await execute_core(
            self._session,
            sa.select(catalog_versions.c.rubric, catalog_versions.c.attempt_cap).where(
                _version(mc_id, version)
            ),
        )
        row = result.one_or_none()
        return rubric_of(row.rubric, row.attempt_cap) if row else None


_CHAIN = sa.text(
    """
    WITH RECURSIVE chain(educator_id, supervisor_id) AS (
        SELECT educator_id, supervisor_id FROM roster_educators
         WHERE educator_id = ANY(CAST(:start AS text[]))
        UNION
        SELECT r.educator_id, r.supervisor_id
          FROM roster_educators r JOIN chain c ON r.educator_id = c.supervisor_id
    )
    SELECT educator_id, supervisor_id FROM chain
    """
)


class RosterRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def upsert(
        self,
        *,
        educator_id: str,
        district_id: str,
        school_id: str | None,
        supervisor_id: str | None,
        at: datetime,
    ) -> None:
        stmt = pg_insert(roster_educators).values(
            educator_id=educator_id,
            district_id=district_id,
            school_id=school_id,
            supervisor_id=supervisor_id,
            updated_at=at,
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["educator_id"],
            set_={
                "district_id": stmt.excluded.district_id,
                "school_id": stmt.excluded.school_id,
                "supervisor_id": stmt.excluded.supervisor_id,
                "updated_at": stmt.excluded.updated_at,
            },
        )
        await execute_core(self._session, stmt)

    async def supervisor_links(self, start: Sequence[str]) -> dict[str, str | None]:
        """``{educator: supervisor}`` for everyone above ``start`` (UNION ends cycles)."""
        result = await execute_core(self._session, _CHAIN, {"start": list(start)})
        return {row.educator_id: row.supervisor_id for row in result}
