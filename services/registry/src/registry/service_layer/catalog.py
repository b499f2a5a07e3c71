"""Catalog commands: issuers write drafts and submit them, the state approves, rejects, retires.

Each command is one transaction. Approval and retirement write their catalog event to the
outbox in that same transaction, with an id derived from the entry and version, so the event
exists exactly when the state change does.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

from sqlalchemy.exc import IntegrityError

from mc_events import audit
from mc_events.contracts.catalog import (
    MicroCredentialPublished,
    MicroCredentialRetired,
    StackPublished,
    StackRetired,
)
from mc_events.outbox import add_event
from registry.adapters.catalog_repository import Issuer
from registry.domain.catalog import (
    MicroCredential,
    MicroCredentialSpec,
    Stack,
    StackSpec,
    VersionStillOpen,
)
from registry.domain.qa import QaAction
from registry.service_layer.errors import AlreadyExists, NotFound, UnknownIssuer
from registry.service_layer.unit_of_work import UnitOfWork

# Namespace of the registry's deterministic event ids (uuid5 of what the event is about).
EVENT_NAMESPACE = uuid.UUID("6f1c3c2e-5b9a-4d53-9d7e-3c0f8a0f2b61")


def event_id(kind: str, *parts: object) -> str:
    return str(uuid.uuid5(EVENT_NAMESPACE, ":".join([kind, *map(str, parts)])))


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


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


async def _require_issuer(uow: UnitOfWork, issuer_id: str | None) -> Issuer:
    issuer = await uow.catalog.get_issuer(issuer_id) if issuer_id else None
    if issuer is None:
        raise UnknownIssuer(f"issuer {issuer_id!r} is not registered with the state")
    return issuer


# -- micro-credentials ---------------------------------------------------------------------


async def create_micro_credential(
    uow: UnitOfWork,
    *,
    issuer_id: str | None,
    actor: str,
    spec: MicroCredentialSpec,
    now: datetime,
    mc_id: str | None = None,
) -> MicroCredential:
    async with uow:
        issuer = await _require_issuer(uow, issuer_id)
        mc_id = mc_id or new_id("mc")
        if await uow.catalog.get_mc(mc_id) is not None:
            raise AlreadyExists(f"micro-credential {mc_id} already exists")
        mc = MicroCredential.create(mc_id, issuer.issuer_id, spec, actor, now)
        try:
            await uow.catalog.add_mc(mc, now)
        except IntegrityError as exc:  # a concurrent create with the same id
            raise AlreadyExists(f"micro-credential {mc_id} already exists") from exc
        await uow.commit()
    return mc


async def new_micro_credential_version(
    uow: UnitOfWork, *, issuer_id: str | None, actor: str, mc_id: str, now: datetime
) -> MicroCredential:
    async with uow:
        latest = await uow.catalog.get_mc(mc_id, for_update=True)
        if latest is None:
            raise NotFound(f"no micro-credential {mc_id}")
        latest.ensure_owned_by(issuer_id)
        draft = latest.next_version(actor, now)
        try:
            await uow.catalog.add_mc(draft, now)
        except IntegrityError as exc:  # a concurrent request opened it first
            raise VersionStillOpen(f"a new version of {mc_id} is already open") from exc
        await uow.commit()
    return draft


_E = TypeVar("_E", MicroCredential, Stack)

# QA decisions go to the tamper-evident trail, one chain per provider.
_AUDITED_STEPS = {
    QaAction.APPROVE: "catalog.approved",
    QaAction.REJECT: "catalog.rejected",
    QaAction.RETIRE: "catalog.retired",
}


async def _apply(
    uow: UnitOfWork, entry: _E, kind: str, change: Callable[[_E], Awaitable[None]]
) -> None:
    """Run ``change`` on a locked entry and audit the decision steps it recorded."""
    recorded = len(entry.history)
    await change(entry)
    for step in entry.history[recorded:]:
        action = _AUDITED_STEPS.get(step.action)
        if action is None:
            continue
        await audit.append(
            uow.session,
            actor=step.actor,
            action=action,
            object_type=kind,
            object_id=f"{entry.id}@v{entry.version}",
            details={"reason": step.reason.strip()},
            chain=f"issuer:{entry.issuer_id}",
            at=step.at,
        )


async def _change_mc(
    uow: UnitOfWork,
    mc_id: str,
    version: int,
    now: datetime,
    change: Callable[[MicroCredential], Awaitable[None]],
) -> MicroCredential:
    async with uow:
        mc = await uow.catalog.get_mc(mc_id, version, for_update=True)
        if mc is None:
            raise NotFound(f"no micro-credential {mc_id} version {version}")
        await _apply(uow, mc, "micro_credential", change)
        await uow.catalog.save_mc(mc, now)
        await uow.commit()
    return mc


async def edit_micro_credential(
    uow: UnitOfWork,
    *,
    issuer_id: str | None,
    actor: str,
    mc_id: str,
    version: int,
    spec: MicroCredentialSpec,
    now: datetime,
) -> MicroCredential:
    async def change(mc: MicroCredential) -> None:
        mc.ensure_owned_by(issuer_id)
        mc.edit(spec, actor, now)

    return await _change_mc(uow, mc_id, version, now, change)


async def submit_micro_credential(
    uow: UnitOfWork, *, issuer_id: str | None, actor: str, mc_id: str, version: int, now: datetime
) -> MicroCredential:
    async def change(mc: MicroCredential) -> None:
        mc.ensure_owned_by(issuer_id)
        mc.submit(actor, now)

    return await _change_mc(uow, mc_id, version, now, change)


async def approve_micro_credential(
    uow: UnitOfWork, *, actor: str, mc_id: str, version: int, reason: str, now: datetime
) -> MicroCredential:
    async def change(mc: MicroCredential) -> None:
        mc.approve(actor, now, reason)
        issuer = await _require_issuer(uow, mc.issuer_id)
        await add_event(
            uow.session,
            published_event(mc, issuer.name, now),
            event_id=event_id("mc_published", mc.id, mc.version),
        )

    return await _change_mc(uow, mc_id, version, now, change)


async def reject_micro_credential(
    uow: UnitOfWork, *, actor: str, mc_id: str, version: int, reason: str, now: datetime
) -> MicroCredential:
    async def change(mc: MicroCredential) -> None:
        mc.reject(actor, now, reason)

    return await _change_mc(uow, mc_id, version, now, change)


async def retire_micro_credential(
    uow: UnitOfWork, *, actor: str, mc_id: str, version: int, reason: str, now: datetime
) -> MicroCredential:
    async def change(mc: MicroCredential) -> None:
        mc.retire(actor, now, reason)
        await add_event(
            uow.session,
            MicroCredentialRetired(
                micro_credential_id=mc.id,
                micro_credential_version=mc.version,
                reason=reason.strip(),
                retired_at=now,
            ),
            event_id=event_id("mc_retired", mc.id, mc.version),
        )

    return await _change_mc(uow, mc_id, version, now, change)


def published_event(
    mc: MicroCredential, issuer_name: str, approved_at: datetime
) -> MicroCredentialPublished:
    spec = mc.definition
    return MicroCredentialPublished(
        micro_credential_id=mc.id,
        micro_credential_version=mc.version,
        issuer_id=mc.issuer_id,
        issuer_name=issuer_name,
        title=spec.title,
        competency=spec.competency,
        description=spec.description,
        evidence_requirements=spec.evidence_requirements,
        rubric=spec.rubric,
        credits=spec.credits,
        attempt_cap=spec.attempt_cap,
        completion_window_days=spec.completion_window_days,
        cooldown_days=spec.cooldown_days,
        fee=spec.fee,
        allowed_purposes=spec.allowed_purposes,
        approved_at=approved_at,
    )


# -- stacks --------------------------------------------------------------------------------


async def create_stack(
    uow: UnitOfWork,
    *,
    issuer_id: str | None,
    actor: str,
    spec: StackSpec,
    now: datetime,
    stack_id: str | None = None,
) -> Stack:
    async with uow:
        issuer = await _require_issuer(uow, issuer_id)
        stack_id = stack_id or new_id("stack")
        if await uow.catalog.get_stack(stack_id) is not None:
            raise AlreadyExists(f"stack {stack_id} already exists")
        stack = Stack.create(stack_id, issuer.issuer_id, spec, actor, now)
        try:
            await uow.catalog.add_stack(stack, now)
        except IntegrityError as exc:
            raise AlreadyExists(f"stack {stack_id} already exists") from exc
        await uow.commit()
    return stack


async def new_stack_version(
    uow: UnitOfWork, *, issuer_id: str | None, actor: str, stack_id: str, now: datetime
) -> Stack:
    async with uow:
        latest = await uow.catalog.get_stack(stack_id, for_update=True)
        if latest is None:
            raise NotFound(f"no stack {stack_id}")
        latest.ensure_owned_by(issuer_id)
        draft = latest.next_version(actor, now)
        try:
            await uow.catalog.add_stack(draft, now)
        except IntegrityError as exc:
            raise VersionStillOpen(f"a new version of {stack_id} is already open") from exc
        await uow.commit()
    return draft


async def _change_stack(
    uow: UnitOfWork,
    stack_id: str,
    version: int,
    now: datetime,
    change: Callable[[Stack], Awaitable[None]],
) -> Stack:
    async with uow:
        stack = await uow.catalog.get_stack(stack_id, version, for_update=True)
        if stack is None:
            raise NotFound(f"no stack {stack_id} version {version}")
        await _apply(uow, stack, "stack", change)
        await uow.catalog.save_stack(stack, now)
        await uow.commit()
    return stack


async def edit_stack(
    uow: UnitOfWork,
    *,
    issuer_id: str | None,
    actor: str,
    stack_id: str,
    version: int,
    spec: StackSpec,
    now: datetime,
) -> Stack:
    async def change(stack: Stack) -> None:
        stack.ensure_owned_by(issuer_id)
        stack.edit(spec, actor, now)

    return await _change_stack(uow, stack_id, version, now, change)


async def submit_stack(
    uow: UnitOfWork,
    *,
    issuer_id: str | None,
    actor: str,
    stack_id: str,
    version: int,
    now: datetime,
) -> Stack:
    async def change(stack: Stack) -> None:
        stack.ensure_owned_by(issuer_id)
        stack.submit(actor, now)

    return await _change_stack(uow, stack_id, version, now, change)


async def approve_stack(
    uow: UnitOfWork, *, actor: str, stack_id: str, version: int, reason: str, now: datetime
) -> Stack:
    async def change(stack: Stack) -> None:
        members = list(stack.definition.member_micro_credential_ids)
        stack.approve(actor, now, await uow.catalog.approved_mc_ids(members), reason)
        spec = stack.definition
        await add_event(
            uow.session,
            StackPublished(
                stack_id=stack.id,
                stack_version=stack.version,
                issuer_id=stack.issuer_id,
                name=spec.name,
                description=spec.description,
                member_micro_credential_ids=spec.member_micro_credential_ids,
                rule=spec.rule,
                grants=spec.grants,
                approved_at=now,
            ),
            event_id=event_id("stack_published", stack.id, stack.version),
        )

    return await _change_stack(uow, stack_id, version, now, change)


async def reject_stack(
    uow: UnitOfWork, *, actor: str, stack_id: str, version: int, reason: str, now: datetime
) -> Stack:
    async def change(stack: Stack) -> None:
        stack.reject(actor, now, reason)

    return await _change_stack(uow, stack_id, version, now, change)


async def retire_stack(
    uow: UnitOfWork, *, actor: str, stack_id: str, version: int, reason: str, now: datetime
) -> Stack:
    async def change(stack: Stack) -> None:
        stack.retire(actor, now, reason)
        await add_event(
            uow.session,
            StackRetired(
                stack_id=stack.id,
                stack_version=stack.version,
                reason=reason.strip(),
                retired_at=now,
            ),
            event_id=event_id("stack_retired", stack.id, stack.version),
        )

    return await _change_stack(uow, stack_id, version, now, change)
