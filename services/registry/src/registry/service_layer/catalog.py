"""The catalog: providers, and the versions of micro-credentials and stacks going through the
approval lifecycle (:mod:`registry.domain.qa`). Issuers write drafts of their own entries and
submit them; the state approves (publishes), rejects or retires them.

Both kinds of entry go through the same commands (the kind is a parameter): one transaction
each, the state's decisions appended to the provider's audit chain, and approval and
retirement announced on ``registry.catalog`` with an id derived from the entry and version, so
the event exists exactly when the state change does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError

from mc_events.contracts.base import Event
from mc_events.contracts.catalog import (
    MicroCredentialPublished,
    MicroCredentialRetired,
    StackPublished,
    StackRetired,
)
from mc_platform.refusals import NotFound
from registry.adapters.catalog_repository import AchievementFilter, Issuer, Listed
from registry.domain.catalog import (
    AlreadyExists,
    MicroCredential,
    Stack,
    UnknownIssuer,
    VersionStillOpen,
)
from registry.domain.ids import event_id, new_id
from registry.domain.qa import QaAction, QaStatus, QaStep
from registry.service_layer.unit_of_work import UnitOfWork

E = TypeVar("E", MicroCredential, Stack)

_ID_PREFIX = {MicroCredential: "mc", Stack: "stack"}
"""Of generated entry ids, and of the catalog events' ids."""

_AUDITED = {
    QaAction.APPROVE: "catalog.approved",
    QaAction.REJECT: "catalog.rejected",
    QaAction.RETIRE: "catalog.retired",
}
"""The state's decisions, as the audit trail names them (one chain per provider)."""


# -- providers -------------------------------------------------------------------------------


async def register_issuer(
    uow: UnitOfWork, *, issuer_id: str, name: str, url: str | None, description: str, now: datetime
) -> Issuer:
    issuer = Issuer(
        issuer_id=issuer_id, name=name, url=url, description=description, created_at=now
    )
    async with uow:
        if not await uow.catalog.add_issuer(issuer):
            raise AlreadyExists(f"issuer {issuer_id} already exists")
        await uow.commit()
    return issuer


async def issuer(uow: UnitOfWork, issuer_id: str) -> Issuer:
    async with uow:
        found = await uow.catalog.get_issuer(issuer_id)
    if found is None:
        raise NotFound(f"no issuer {issuer_id}")
    return found


async def _require_issuer(uow: UnitOfWork, issuer_id: str | None) -> Issuer:
    found = await uow.catalog.get_issuer(issuer_id) if issuer_id else None
    if found is None:
        raise UnknownIssuer(f"issuer {issuer_id!r} is not registered with the state")
    return found


# -- the approval lifecycle of micro-credentials and stacks ----------------------------------


@dataclass(frozen=True)
class Step:
    """One step of the lifecycle asked of an entry: ``create`` (with ``spec``), ``edit`` (with
    ``spec``) and ``submit`` by its issuer (``issuer_id``, who must own it); ``approve``,
    ``reject`` and ``retire`` by the state (with its ``reason``)."""

    action: QaAction
    actor: str
    now: datetime
    reason: str = ""
    issuer_id: str | None = None
    spec: BaseModel | None = None


async def create(uow: UnitOfWork, kind: type[E], step: Step, entry_id: str | None = None) -> E:
    """Version 1 of a new entry of the caller's issuer, a draft (``step``: its definition)."""
    assert step.spec is not None, "a new entry is created with its definition"
    async with uow:
        provider = await _require_issuer(uow, step.issuer_id)
        entry_id = entry_id or new_id(_ID_PREFIX[kind])
        if await uow.catalog.get(kind, entry_id) is not None:
            raise AlreadyExists(f"{kind.label} {entry_id} already exists")
        entry = kind.create(
            entry_id, provider.issuer_id, kind.checked(step.spec), step.actor, step.now
        )
        try:
            await uow.catalog.add(entry, step.now)
        except IntegrityError as exc:  # a concurrent create with the same id
            raise AlreadyExists(f"{kind.label} {entry_id} already exists") from exc
        await uow.commit()
    return entry


async def new_version(uow: UnitOfWork, kind: type[E], entry_id: str, step: Step) -> E:
    """The next version of an entry: a draft copying the latest one."""
    async with uow:
        latest = await uow.catalog.get(kind, entry_id, for_update=True)
        if latest is None:
            raise NotFound(f"no {kind.label} {entry_id}")
        latest.ensure_owned_by(step.issuer_id)
        draft = latest.next_version(step.actor, step.now)
        try:
            await uow.catalog.add(draft, step.now)
        except IntegrityError as exc:  # a concurrent request opened it first
            raise VersionStillOpen(f"a new version of {entry_id} is already open") from exc
        await uow.commit()
    return draft


async def take_step(uow: UnitOfWork, kind: type[E], entry_id: str, version: int, step: Step) -> E:
    """Apply ``step`` to a version (locked): the decision audited, publication and retirement
    announced, in one transaction."""
    async with uow:
        entry = await uow.catalog.get(kind, entry_id, version, for_update=True)
        if entry is None:
            raise NotFound(f"no {kind.label} {entry_id} version {version}")
        if not step.action.decision:
            entry.ensure_owned_by(step.issuer_id)
        await _apply(uow, entry, step)
        taken = entry.history[-1]
        audited = _AUDITED.get(taken.action)
        if audited is not None:
            uow.audit(
                actor=taken.actor,
                action=audited,
                object_type=entry.kind,
                object_id=entry.ref,
                details={"reason": taken.reason},
                chain=f"issuer:{entry.issuer_id}",
                at=taken.at,
            )
        if taken.action.publishes or taken.action.withdraws:
            provider = await _require_issuer(uow, entry.issuer_id)
            event, about = catalog_event(entry, taken, provider.name)
            uow.emit(event, event_id=event_id(about, entry.id, entry.version))
        await uow.catalog.save(entry, step.now)
        await uow.commit()
    return entry


async def _apply(uow: UnitOfWork, entry: E, step: Step) -> None:
    match step.action:
        case QaAction.EDIT if step.spec is not None:
            entry.edit(entry.checked(step.spec), step.actor, step.now)
        case QaAction.SUBMIT:
            entry.submit(step.actor, step.now)
        case QaAction.APPROVE:
            published = await _approved_members(uow, entry.members)
            entry.approve(step.actor, step.now, step.reason, published_mc_ids=published)
        case QaAction.REJECT:
            entry.reject(step.actor, step.now, step.reason)
        case QaAction.RETIRE:
            entry.retire(step.actor, step.now, step.reason)
        case _:
            raise ValueError(f"{step.action.value} is not a step of an existing version")


async def _approved_members(uow: UnitOfWork, members: Iterable[str]) -> set[str]:
    wanted = list(members)
    return await uow.catalog.approved_mc_ids(wanted) if wanted else set()


def catalog_event(
    entry: MicroCredential | Stack, step: QaStep, issuer_name: str
) -> tuple[Event, str]:
    """The announcement of ``step`` (an approval or a retirement) on ``registry.catalog``, and
    the kind its event id is derived from."""
    prefix = _ID_PREFIX[type(entry)]
    if step.action.withdraws:
        retired: Event
        if isinstance(entry, MicroCredential):
            retired = MicroCredentialRetired(
                micro_credential_id=entry.id,
                micro_credential_version=entry.version,
                reason=step.reason,
                retired_at=step.at,
            )
        else:
            retired = StackRetired(
                stack_id=entry.id,
                stack_version=entry.version,
                reason=step.reason,
                retired_at=step.at,
            )
        return retired, f"{prefix}_retired"
    if isinstance(entry, Stack):
        spec = entry.definition
        return (
            StackPublished(
                stack_id=entry.id,
                stack_version=entry.version,
                issuer_id=entry.issuer_id,
                name=spec.name,
                description=spec.description,
                member_micro_credential_ids=spec.member_micro_credential_ids,
                rule=spec.rule,
                grants=spec.grants,
                approved_at=step.at,
            ),
            f"{prefix}_published",
        )
    mc = entry.definition
    return (
        MicroCredentialPublished(
            micro_credential_id=entry.id,
            micro_credential_version=entry.version,
            issuer_id=entry.issuer_id,
            issuer_name=issuer_name,
            title=mc.title,
            competency=mc.competency,
            description=mc.description,
            evidence_requirements=mc.evidence_requirements,
            rubric=mc.rubric,
            credits=mc.credits,
            attempt_cap=mc.attempt_cap,
            completion_window_days=mc.completion_window_days,
            cooldown_days=mc.cooldown_days,
            fee=mc.fee,
            allowed_purposes=mc.allowed_purposes,
            approved_at=step.at,
        ),
        f"{prefix}_published",
    )


# -- reading the catalog ---------------------------------------------------------------------


async def version_of(
    uow: UnitOfWork,
    kind: type[E],
    entry_id: str,
    version: int,
    *,
    by_the_state: bool,
    issuer_id: str | None = None,
) -> E:
    """One version in any status, for the state or for its own issuer (``issuer_id``)."""
    async with uow:
        entry = await uow.catalog.get(kind, entry_id, version)
    if entry is None:
        raise NotFound(f"no {entry_id} v{version}")
    if not by_the_state:
        entry.ensure_owned_by(issuer_id)
    return entry


async def micro_credentials(
    uow: UnitOfWork, *, issuer_id: str | None, status: QaStatus | None, limit: int, offset: int
) -> list[MicroCredential]:
    """Versions in any status: an issuer's own (``issuer_id``), or all (None: the state)."""
    async with uow:
        return await uow.catalog.list_mcs(
            issuer_id=issuer_id, status=status, limit=limit, offset=offset
        )


async def public_stack(uow: UnitOfWork, stack_id: str) -> Stack:
    """The latest approved version of a stack."""
    async with uow:
        stack = await uow.catalog.latest_approved(Stack, stack_id)
    if stack is None:
        raise NotFound(f"no approved stack {stack_id}")
    return stack


async def search_achievements(
    uow: UnitOfWork, filters: AchievementFilter, *, limit: int, offset: int
) -> tuple[list[Listed], int]:
    """The latest approved version of each micro-credential matching ``filters`` (a page, by
    title), and how many match."""
    async with uow:
        return await uow.catalog.search_achievements(filters, limit=limit, offset=offset)


@dataclass(frozen=True)
class Achievement:
    """An approved micro-credential version as the public catalog shows it."""

    listed: Listed
    stacks: tuple[Stack, ...] = ()
    """The approved stacks it belongs to (on the latest version's page)."""


async def achievement(uow: UnitOfWork, mc_id: str) -> Achievement:
    """The latest approved version of a micro-credential, with the stacks it belongs to."""
    async with uow:
        mc = await uow.catalog.latest_approved(MicroCredential, mc_id)
        provider = await uow.catalog.get_issuer(mc.issuer_id) if mc else None
        stacks = await uow.catalog.approved_stacks_containing(mc_id) if mc else []
    if mc is None or provider is None:
        raise NotFound(f"no approved {mc_id}")
    return Achievement(Listed(mc, provider.name), tuple(stacks))


async def achievement_version(uow: UnitOfWork, mc_id: str, version: int) -> Achievement:
    """A version the state approved (retired ones too: credentials awarded for them point
    here)."""
    async with uow:
        mc = await uow.catalog.get(MicroCredential, mc_id, version)
        provider = await uow.catalog.get_issuer(mc.issuer_id) if mc else None
    if mc is None or provider is None or not mc.awardable:
        raise NotFound(f"no approved {mc_id} v{version}")
    return Achievement(Listed(mc, provider.name))
