"""Catalog persistence: issuers, micro-credential and stack versions. Queries only; the unit of
work commits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from mc_events.db import execute_core
from registry.adapters.tables import issuers, micro_credentials, stacks
from registry.domain.catalog import CatalogEntry, MicroCredential, MicroCredentialSpec, Stack
from registry.domain.qa import QaAction, QaStatus, QaStep


@dataclass(frozen=True)
class Issuer:
    issuer_id: str
    name: str
    url: str | None
    description: str
    created_at: datetime


@dataclass(frozen=True)
class Listed:
    """An approved micro-credential version and its provider's name, as the public catalog
    lists it."""

    micro_credential: MicroCredential
    issuer_name: str


@dataclass(frozen=True)
class AwardableVersion:
    """A micro-credential version as an award reads it, and its provider's name if known."""

    micro_credential: MicroCredential
    issuer_name: str | None


@dataclass(frozen=True)
class AchievementFilter:
    competency: str | None = None
    issuer_id: str | None = None
    purpose: str | None = None
    stack_id: str | None = None
    text: str | None = None


_TABLES: dict[type[CatalogEntry[Any]], sa.Table] = {
    MicroCredential: micro_credentials,
    Stack: stacks,
}

E = TypeVar("E", MicroCredential, Stack)


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


def entry_from_mapping(kind: type[E], values: Mapping[Any, Any]) -> E:
    """A version from its row's ``id``, ``version``, ``issuer_id``, ``status``, ``history``
    and ``spec`` (as stored)."""
    return kind(
        id=values["id"],
        version=values["version"],
        issuer_id=values["issuer_id"],
        status=QaStatus(values["status"]),
        history=_history(values["history"]),
        spec=kind.checked(kind.spec_type.model_validate(values["spec"])),
    )


def _mc(row: sa.Row[Any]) -> MicroCredential:
    return entry_from_mapping(MicroCredential, row._mapping)


def _stack(row: sa.Row[Any]) -> Stack:
    return entry_from_mapping(Stack, row._mapping)


def _values(entry: CatalogEntry[Any], now: datetime) -> dict[str, Any]:
    """The columns of a version's row (those the public search filters on, besides the
    definition and history as JSON)."""
    values = {
        "issuer_id": entry.issuer_id,
        "status": entry.status.value,
        "spec": entry.definition.model_dump(mode="json"),
        "history": _history_json(entry.history),
        "updated_at": now,
    }
    spec = entry.definition
    if isinstance(spec, MicroCredentialSpec):
        return values | {
            "title": spec.title,
            "competency": spec.competency,
            "description": spec.description,
            "purposes": [p.value for p in spec.allowed_purposes],
        }
    return values | {"name": spec.name, "members": list(spec.member_micro_credential_ids)}


def _version_digest() -> sa.ColumnElement[str]:
    """A digest of what an award takes from a micro-credential version: its status, issuer,
    definition and the issuer's name (over ``micro_credentials`` outer-joined to ``issuers``)."""
    row = sa.tuple_(
        micro_credentials.c.status,
        micro_credentials.c.issuer_id,
        micro_credentials.c.spec,
        issuers.c.name,
    )
    return sa.func.md5(sa.cast(row, sa.Text))


def awardable_digest(
    mc_id: sa.ColumnElement[str], version: sa.ColumnElement[int]
) -> sa.ScalarSelect[str]:
    """The digest of one version (NULL if unknown), for :meth:`CatalogRepository.version_for_award`;
    a subquery, so that the award path reads it together with its other checks."""
    return (
        sa.select(_version_digest())
        .select_from(micro_credentials.outerjoin(issuers))
        .where(micro_credentials.c.id == mc_id, micro_credentials.c.version == version)
        .scalar_subquery()
    )


_VERSION_FOR_AWARD = (
    sa.select(
        micro_credentials, issuers.c.name.label("issuer_name"), _version_digest().label("digest")
    )
    .select_from(micro_credentials.outerjoin(issuers))
    .where(
        micro_credentials.c.id == sa.bindparam("mc_id"),
        micro_credentials.c.version == sa.bindparam("version"),
    )
)


def _latest_approved_stacks() -> sa.Select[Any]:
    return (
        sa.select(stacks)
        .where(stacks.c.status == QaStatus.APPROVED.value)
        .ext(distinct_on(stacks.c.id))
        .order_by(stacks.c.id, stacks.c.version.desc())
    )


def approved_stacks_containing_query() -> sa.Select[Any]:
    """The latest approved version of each stack with the member ``:members`` (a one-element
    list), by stack id."""
    latest = _latest_approved_stacks().subquery()
    return (
        sa.select(latest)
        .where(latest.c.members.contains(sa.bindparam("members")))
        .order_by(latest.c.id)
    )


_APPROVED_STACKS_CONTAINING = approved_stacks_containing_query()

_AWARDABLE_VERSIONS: dict[tuple[str, int], tuple[str, AwardableVersion]] = {}
"""Awardable versions as read, by ``(id, version)``: ``(digest, version)``. What an
award takes from an approved version never changes (its definition is frozen and its issuer
never renamed); the digest, read with every award, still decides whether an entry is current."""
_AWARDABLE_VERSIONS_MAX = 1024


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

    # -- versions of micro-credentials and stacks --------------------------------------------

    async def get(
        self, kind: type[E], entry_id: str, version: int | None = None, *, for_update: bool = False
    ) -> E | None:
        """One version, or the latest one when ``version`` is None."""
        table = _TABLES[kind]
        query = sa.select(table).where(table.c.id == entry_id)
        if version is not None:
            query = query.where(table.c.version == version)
        query = query.order_by(table.c.version.desc()).limit(1)
        if for_update:
            query = query.with_for_update()
        row = (await execute_core(self.session, query)).first()
        return entry_from_mapping(kind, row._mapping) if row else None

    async def latest_approved(self, kind: type[E], entry_id: str) -> E | None:
        table = _TABLES[kind]
        query = (
            sa.select(table)
            .where(table.c.id == entry_id, table.c.status == QaStatus.APPROVED.value)
            .order_by(table.c.version.desc())
            .limit(1)
        )
        row = (await execute_core(self.session, query)).first()
        return entry_from_mapping(kind, row._mapping) if row else None

    async def add(self, entry: CatalogEntry[Any], now: datetime) -> None:
        await execute_core(
            self.session,
            sa.insert(_TABLES[type(entry)]).values(
                id=entry.id, version=entry.version, created_at=now, **_values(entry, now)
            ),
        )

    async def save(self, entry: CatalogEntry[Any], now: datetime) -> None:
        table = _TABLES[type(entry)]
        await execute_core(
            self.session,
            sa.update(table)
            .where(table.c.id == entry.id, table.c.version == entry.version)
            .values(**_values(entry, now)),
        )

    # -- micro-credentials -----------------------------------------------------------------

    async def version_for_award(
        self, mc_id: str, version: int, digest: str | None
    ) -> AwardableVersion | None:
        """The version and its issuer's name if known, or None if the version does not exist;
        ``digest`` is the version's :func:`awardable_digest`, read in this transaction. An
        awardable version whose digest matches the one last read is not read again."""
        if digest is None:
            return None
        known = _AWARDABLE_VERSIONS.get((mc_id, version))
        if known is not None and known[0] == digest:
            return known[1]
        row = (
            await execute_core(
                self.session, _VERSION_FOR_AWARD, {"mc_id": mc_id, "version": version}
            )
        ).first()
        if row is None:
            return None
        found = AwardableVersion(_mc(row), row.issuer_name)
        if found.micro_credential.awardable and row.issuer_name is not None:
            if len(_AWARDABLE_VERSIONS) >= _AWARDABLE_VERSIONS_MAX:
                _AWARDABLE_VERSIONS.clear()
            _AWARDABLE_VERSIONS[(mc_id, version)] = (row.digest, found)
        return found

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

    async def approved_stacks_containing(self, mc_id: str) -> list[Stack]:
        rows = await execute_core(self.session, _APPROVED_STACKS_CONTAINING, {"members": [mc_id]})
        return [_stack(row) for row in rows]

    # -- the public catalog ----------------------------------------------------------------

    async def search_achievements(
        self, filters: AchievementFilter, *, limit: int, offset: int
    ) -> tuple[list[Listed], int]:
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
            stack = _latest_approved_stacks().subquery()
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
        return [Listed(_mc(row), row.issuer_name) for row in rows], int(total)


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
