"""Catalog persistence: issuers, micro-credential and stack versions. Queries only; the unit of
work commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from mc_events.db import execute_core
from registry.adapters.tables import issuers, micro_credentials, stacks
from registry.domain.catalog import MicroCredential, MicroCredentialSpec, Stack, StackSpec
from registry.domain.qa import QaAction, QaStatus, QaStep


@dataclass(frozen=True)
class Issuer:
    issuer_id: str
    name: str
    url: str | None
    description: str
    created_at: datetime


@dataclass(frozen=True)
class AchievementFilter:
    competency: str | None = None
    issuer_id: str | None = None
    purpose: str | None = None
    stack_id: str | None = None
    text: str | None = None


def _history_json(history: list[QaStep]) -> list[dict[str, Any]]:
    return [
        {
            "action": step.action.value,
            "actor": step.actor,
            "at": step.at.isoformat(),
            "reason": step.reason,
            "from_status": step.from_status.value if step.from_status else None,
            "to_status": step.to_status.value,
        }
        for step in history
    ]


def _history(raw: list[dict[str, Any]]) -> list[QaStep]:
    return [
        QaStep(
            action=QaAction(item["action"]),
            actor=item["actor"],
            at=datetime.fromisoformat(item["at"]),
            reason=item["reason"],
            from_status=QaStatus(item["from_status"]) if item["from_status"] else None,
            to_status=QaStatus(item["to_status"]),
        )
        for item in raw
    ]


def _mc(row: sa.Row[Any]) -> MicroCredential:
    return MicroCredential(
        id=row.id,
        version=row.version,
        issuer_id=row.issuer_id,
        status=QaStatus(row.status),
        history=_history(row.history),
        spec=MicroCredentialSpec.model_validate(row.spec),
    )


def _stack(row: sa.Row[Any]) -> Stack:
    return Stack(
        id=row.id,
        version=row.version,
        issuer_id=row.issuer_id,
        status=QaStatus(row.status),
        history=_history(row.history),
        spec=StackSpec.model_validate(row.spec),
    )


def _mc_values(mc: MicroCredential, now: datetime) -> dict[str, Any]:
    spec = mc.definition
    return {
        "issuer_id": mc.issuer_id,
        "status": mc.status.value,
        "title": spec.title,
        "competency": spec.competency,
        "description": spec.description,
        "purposes": [p.value for p in spec.allowed_purposes],
        "spec": spec.model_dump(mode="json"),
        "history": _history_json(mc.history),
        "updated_at": now,
    }


def _stack_values(stack: Stack, now: datetime) -> dict[str, Any]:
    spec = stack.definition
    return {
        "issuer_id": stack.issuer_id,
        "status": stack.status.value,
        "name": spec.name,
        "members": list(spec.member_micro_credential_ids),
        "spec": spec.model_dump(mode="json"),
        "history": _history_json(stack.history),
        "updated_at": now,
    }


# Same expression as the GIN index of migration 0002, so the index serves the search.
_SEARCH_DOCUMENT = sa.func.to_tsvector(
    sa.literal_column("'english'"),
    micro_credentials.c.title
    + " "
    + micro_credentials.c.competency
    + " "
    + micro_credentials.c.description,
)


class CatalogRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- issuers ---------------------------------------------------------------------------

    async def get_issuer(self, issuer_id: str) -> Issuer | None:
        row = (
            await execute_core(
                self.session, sa.select(issuers).where(issuers.c.issuer_id == issuer_id)
            )
        ).first()
        return Issuer(**row._mapping) if row else None

    async def add_issuer(self, issuer: Issuer) -> bool:
        """Insert; False if the id is taken."""
        result = await execute_core(
            self.session,
            pg_insert(issuers)
            .values(**issuer.__dict__)
            .on_conflict_do_nothing()
            .returning(issuers.c.issuer_id),
        )
        return result.first() is not None

    # -- micro-credentials -----------------------------------------------------------------

    async def get_mc(
        self, mc_id: str, version: int | None = None, *, for_update: bool = False
    ) -> MicroCredential | None:
        """One version, or the latest one when ``version`` is None."""
        query = sa.select(micro_credentials).where(micro_credentials.c.id == mc_id)
        if version is not None:
            query = query.where(micro_credentials.c.version == version)
        query = query.order_by(micro_credentials.c.version.desc()).limit(1)
        if for_update:
            query = query.with_for_update()
        row = (await execute_core(self.session, query)).first()
        return _mc(row) if row else None

    async def latest_approved_mc(self, mc_id: str) -> MicroCredential | None:
        query = (
            sa.select(micro_credentials)
            .where(
                micro_credentials.c.id == mc_id,
                micro_credentials.c.status == QaStatus.APPROVED.value,
            )
            .order_by(micro_credentials.c.version.desc())
            .limit(1)
        )
        row = (await execute_core(self.session, query)).first()
        return _mc(row) if row else None

    async def add_mc(self, mc: MicroCredential, now: datetime) -> None:
        await execute_core(
            self.session,
            sa.insert(micro_credentials).values(
                id=mc.id, version=mc.version, created_at=now, **_mc_values(mc, now)
            ),
        )

    async def save_mc(self, mc: MicroCredential, now: datetime) -> None:
        await execute_core(
            self.session,
            sa.update(micro_credentials)
            .where(micro_credentials.c.id == mc.id, micro_credentials.c.version == mc.version)
            .values(**_mc_values(mc, now)),
        )

    async def list_mcs(
        self, *, issuer_id: str | None, status: QaStatus | None, limit: int, offset: int
    ) -> list[MicroCredential]:
        query = sa.select(micro_credentials)
        if issuer_id is not None:
            query = query.where(micro_credentials.c.issuer_id == issuer_id)
        if status is not None:
            query = query.where(micro_credentials.c.status == status.value)
        query = query.order_by(micro_credentials.c.updated_at, micro_credentials.c.id)
        rows = await execute_core(self.session, query.limit(limit).offset(offset))
        return [_mc(row) for row in rows]

    async def approved_mc_ids(self, mc_ids: list[str]) -> set[str]:
        rows = await execute_core(
            self.session,
            sa.select(micro_credentials.c.id)
            .where(
                micro_credentials.c.id.in_(mc_ids),
                micro_credentials.c.status == QaStatus.APPROVED.value,
            )
            .distinct(),
        )
        return {row.id for row in rows}

    # -- stacks ----------------------------------------------------------------------------

    async def get_stack(
        self, stack_id: str, version: int | None = None, *, for_update: bool = False
    ) -> Stack | None:
        query = sa.select(stacks).where(stacks.c.id == stack_id)
        if version is not None:
            query = query.where(stacks.c.version == version)
        query = query.order_by(stacks.c.version.desc()).limit(1)
        if for_update:
            query = query.with_for_update()
        row = (await execute_core(self.session, query)).first()
        return _stack(row) if row else None

    async def add_stack(self, stack: Stack, now: datetime) -> None:
        await execute_core(
            self.session,
            sa.insert(stacks).values(
                id=stack.id, version=stack.version, created_at=now, **_stack_values(stack, now)
            ),
        )

    async def save_stack(self, stack: Stack, now: datetime) -> None:
        await execute_core(
            self.session,
            sa.update(stacks)
            .where(stacks.c.id == stack.id, stacks.c.version == stack.version)
            .values(**_stack_values(stack, now)),
        )

    async def latest_approved_stack(self, stack_id: str) -> Stack | None:
        query = (
            sa.select(stacks)
            .where(stacks.c.id == stack_id, stacks.c.status == QaStatus.APPROVED.value)
            .order_by(stacks.c.version.desc())
            .limit(1)
        )
        row = (await execute_core(self.session, query)).first()
        return _stack(row) if row else None

    async def approved_stacks_containing(self, mc_id: str) -> list[Stack]:
        latest = self._latest_approved_stacks().subquery()
        rows = await execute_core(
            self.session,
            sa.select(latest).where(latest.c.members.contains([mc_id])).order_by(latest.c.id),
        )
        return [_stack(row) for row in rows]

    def _latest_approved_stacks(self) -> sa.Select[Any]:
        return (
            sa.select(stacks)
            .where(stacks.c.status == QaStatus.APPROVED.value)
            .ext(distinct_on(stacks.c.id))
            .order_by(stacks.c.id, stacks.c.version.desc())
        )

    # -- the public catalog ----------------------------------------------------------------

    async def search_achievements(
        self, filters: AchievementFilter, *, limit: int, offset: int
    ) -> tuple[list[tuple[MicroCredential, str]], int]:
        """The latest approved version of each micro-credential matching ``filters``, with its
        issuer's name, ordered by title; and the total number of matches."""
        mc = micro_credentials
        latest = (
            sa.select(mc)
            .where(mc.c.status == QaStatus.APPROVED.value)
            .ext(distinct_on(mc.c.id))
            .order_by(mc.c.id, mc.c.version.desc())
        )
        if filters.issuer_id:
            latest = latest.where(mc.c.issuer_id == filters.issuer_id)
        if filters.purpose:
            latest = latest.where(mc.c.purposes.contains([filters.purpose]))
        if filters.competency:
            pattern = "%" + _escape_like(filters.competency) + "%"
            latest = latest.where(mc.c.competency.ilike(pattern, escape="\\"))
        if filters.text:
            latest = latest.where(
                _SEARCH_DOCUMENT.op("@@")(
                    sa.func.websearch_to_tsquery(sa.literal_column("'english'"), filters.text)
                )
            )
        if filters.stack_id:
            stack = self._latest_approved_stacks().subquery()
            latest = latest.where(
                sa.exists().where(
                    stack.c.id == filters.stack_id, mc.c.id == sa.any_(stack.c.members)
                )
            )
        found = latest.subquery()
        total = (
            await execute_core(self.session, sa.select(sa.func.count()).select_from(found))
        ).scalar_one()
        rows = await execute_core(
            self.session,
            sa.select(found, issuers.c.name.label("issuer_name"))
            .join(issuers, issuers.c.issuer_id == found.c.issuer_id)
            .order_by(found.c.title, found.c.id)
            .limit(limit)
            .offset(offset),
        )
        return [(_mc(row), row.issuer_name) for row in rows], int(total)


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
