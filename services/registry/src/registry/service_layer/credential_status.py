"""Status changes of an awarded credential besides revocation by the state: suspension and
reinstatement, reissue, and revocation requested by review (confirmed misconduct).

Each change, its status-list bit, its event and its audit record commit in one transaction.
A suspension with a planned end (``until``) is lifted by the sweep ``serve`` runs
(:func:`end_due_suspensions`) once that time has passed.

Expiry needs no state change: ``validUntil`` is on the signed credential (and on
``credential_awarded`` / ``credential_reissued``, so consumers know it from the start) and
verification compares it with the clock; no event is emitted when the moment passes.

Status lists: the OB 3.0 JSON Schema allows one ``credentialStatus`` object, so a credential
names its revocation entry (list ``revocation-N``, index i). Its suspension bit is the same
index i of the parallel list ``suspension-N`` (``statusPurpose: suspension``), published at the
same base URL; the registry's verifier reads both.
"""

from __future__ import annotations

import dataclasses
import secrets
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mc_events import audit
from mc_events.contracts.registry import (
    CredentialReinstated,
    CredentialReissued,
    CredentialRevoked,
    CredentialSuspended,
    RevocationReason,
)
from mc_events.contracts.review import MisconductKind, RevocationRequested
from mc_events.db import execute_core
from mc_events.outbox import add_event
from registry.adapters.awards_repository import AwardsRepository, StoredCredential
from registry.adapters.catalog_repository import CatalogRepository
from registry.adapters.tables import credentials, status_lists
from registry.domain import openbadges, status_list
from registry.domain.awards import Award, CredentialStateError, CredentialStatus
from registry.domain.openbadges import StatusEntry
from registry.service_layer import licensure
from registry.service_layer.catalog import event_id
from registry.service_layer.errors import NotFound
from registry.service_layer.signing import Issuance, current_signer
from registry.service_layer.unit_of_work import UnitOfWork

REISSUE_NAMESPACE = uuid.UUID("5d0c7a43-6f1e-4f58-9f87-3f8e2b1c9a10")


def suspension_entry(revocation: StatusEntry) -> StatusEntry:
    """The suspension bit of a credential whose revocation entry is ``revocation``."""
    prefix = f"{status_list.StatusPurpose.REVOCATION.value}-"
    if not revocation.list_id.startswith(prefix):
        raise ValueError(f"not a revocation list: {revocation.list_id}")
    sequence = revocation.list_id.removeprefix(prefix)
    return StatusEntry(
        list_id=f"{status_list.StatusPurpose.SUSPENSION.value}-{sequence}",
        index=revocation.index,
        purpose=status_list.StatusPurpose.SUSPENSION.value,
    )


def reissued_id(credential_id: str) -> str:
    """The id of a credential's reissue (one per credential: a reissue can be reissued)."""
    return str(uuid.uuid5(REISSUE_NAMESPACE, credential_id))


def misconduct_reason(kind: MisconductKind, detail: str) -> tuple[RevocationReason, str]:
    """The revocation reason (and detail) for confirmed misconduct of ``kind``."""
    if kind is MisconductKind.PLAGIARISM:
        return RevocationReason.PLAGIARISM, detail
    if kind is MisconductKind.FABRICATED_EVIDENCE:
        return RevocationReason.FABRICATED_EVIDENCE, detail
    words = "identifiable student data in the evidence"
    return RevocationReason.OTHER, f"{words}: {detail}" if detail.strip() else words


async def _ensure_suspension_list(session: AsyncSession, entry: StatusEntry, now: datetime) -> None:
    """The parallel suspension list exists (made on first suspension; never allocates)."""
    await execute_core(
        session,
        pg_insert(status_lists)
        .values(
            list_id=entry.list_id,
            purpose=entry.purpose,
            sequence=int(entry.list_id.rsplit("-", 1)[1]),
            size=status_list.MIN_BITS,
            next_index=status_list.MIN_BITS,
            bits=status_list.empty_list(),
            updated_at=now,
        )
        .on_conflict_do_nothing(),
    )


async def _update(session: AsyncSession, credential_id: str, **values: Any) -> None:
    await execute_core(
        session,
        sa.update(credentials).where(credentials.c.credential_id == credential_id).values(**values),
    )


async def _locked(session: AsyncSession, credential_id: str) -> StoredCredential:
    stored = await AwardsRepository(session).get(credential_id, for_update=True)
    if stored is None:
        raise NotFound(f"no credential {credential_id}")
    return stored


def _ref(award: Award) -> dict[str, Any]:
    return {
        "credential_id": award.credential_id,
        "educator_id": award.educator_id,
        "district_id": award.district_id,
        "micro_credential_id": award.micro_credential_id,
        "micro_credential_version": award.micro_credential_version,
    }


async def suspend_credential(
    uow: UnitOfWork,
    *,
    credential_id: str,
    reason: str,
    until: datetime | None,
    actor: str,
    now: datetime,
) -> Award:
    async with uow:
        stored = await _locked(uow.session, credential_id)
        award = stored.award
        award.suspend(reason, now, actor, until)
        entry = suspension_entry(stored.status)
        await _ensure_suspension_list(uow.session, entry, now)
        await AwardsRepository(uow.session).set_status(entry, True, now)
        assert award.suspension is not None
        await _update(
            uow.session,
            credential_id,
            status=award.status.value,
            suspended_at=now,
            suspended_by=actor,
            suspension_reason=award.suspension.reason,
            suspended_until=until,
        )
        await add_event(
            uow.session,
            CredentialSuspended(
                **_ref(award),
                reason=award.suspension.reason,
                suspended_at=now,
                suspended_until=until,
            ),
            event_id=event_id("credential_suspended", credential_id, now.isoformat()),
        )
        await audit.append(
            uow.session,
            actor=actor,
            action="credential.suspended",
            object_type="credential",
            object_id=credential_id,
            details={
                "reason": award.suspension.reason,
                "until": until.isoformat() if until else None,
            },
            chain=f"educator:{award.educator_id}",
            at=now,
        )
        await licensure.after_suspension(uow.session, award, award.suspension.at, now)
        await uow.commit()
    return award


async def reinstate_credential(
    uow: UnitOfWork, *, credential_id: str, reason: str, actor: str, now: datetime
) -> Award:
    async with uow:
        stored = await _locked(uow.session, credential_id)
        award = stored.award
        ended = award.reinstate()
        entry = suspension_entry(stored.status)
        await _ensure_suspension_list(uow.session, entry, now)
        await AwardsRepository(uow.session).set_status(entry, False, now)
        await _update(
            uow.session,
            credential_id,
            status=award.status.value,
            suspended_at=None,
            suspended_by=None,
            suspension_reason=None,
            suspended_until=None,
        )
        await add_event(
            uow.session,
            CredentialReinstated(**_ref(award), reason=reason.strip(), reinstated_at=now),
            event_id=event_id("credential_reinstated", credential_id, ended.at.isoformat()),
        )
        await audit.append(
            uow.session,
            actor=actor,
            action="credential.reinstated",
            object_type="credential",
            object_id=credential_id,
            details={"reason": reason.strip(), "suspended_at": ended.at.isoformat()},
            chain=f"educator:{award.educator_id}",
            at=now,
        )
        await licensure.after_reinstatement(uow.session, award, ended.at, now)
        await uow.commit()
    return award


async def reissue_credential(
    uow: UnitOfWork,
    *,
    credential_id: str,
    reason: str,
    valid_until: datetime | None,
    keep_valid_until: bool,
    actor: str,
    now: datetime,
    urls: openbadges.PublicUrls,
    issuance: Issuance,
) -> tuple[Award, dict[str, Any]]:
    """A new document for the same award: new id, new status entry, new proof, the same
    ``awardedDate``; the old credential is superseded and set revoked in its status list.
    The catalog version awarded is rendered as the registry knows it now (a correction)."""
    if not reason.strip():
        raise CredentialStateError("a reissue needs a reason")
    async with uow:
        session = uow.session
        stored = await _locked(session, credential_id)
        old = stored.award
        new_id = reissued_id(credential_id)
        old.supersede(new_id)
        await _update(session, credential_id, status=old.status.value, superseded_by=new_id)
        repo = AwardsRepository(session)
        await repo.set_status(stored.status, True, now)  # the old document no longer verifies
        catalog = CatalogRepository(session)
        mc = await catalog.get_mc(old.micro_credential_id, old.micro_credential_version)
        if mc is None:
            raise NotFound(f"micro-credential {old.micro_credential_id} is not in the catalog")
        provider = await catalog.get_issuer(mc.issuer_id)
        new = dataclasses.replace(
            old,
            credential_id=new_id,
            status=CredentialStatus.ACTIVE,
            revocation=None,
            suspension=None,
            superseded_by=None,
            reissued_from=credential_id,
            valid_until=old.valid_until if keep_valid_until else valid_until,
        )
        entry = await repo.allocate_status_index(status_list.StatusPurpose.REVOCATION, now)
        document = openbadges.open_badge_credential(
            new,
            mc,
            provider.name if provider else mc.issuer_id,
            urls,
            entry,
            salt=secrets.token_hex(16),
        )
        signer = await current_signer(session, issuance, urls, now)
        document = signer.sign(document, now)
        if not await repo.add_credential(new, entry, document, now, signer.key.key_id):
            raise RuntimeError("the enrollment already has a current credential")
        await licensure.after_award(session, new, now)  # a reissue: the same award, no effects
        await add_event(
            session,
            CredentialReissued(
                **_ref(new),
                enrollment_id=new.enrollment_id,
                previous_credential_id=credential_id,
                reason=reason.strip(),
                awarded_at=new.awarded_at,
                valid_until=new.valid_until,
                credential_url=urls.credential(new_id),  # type: ignore[arg-type]
                reissued_at=now,
            ),
            event_id=event_id("credential_reissued", credential_id),
        )
        await audit.append(
            session,
            actor=actor,
            action="credential.reissued",
            object_type="credential",
            object_id=new_id,
            details={"previous": credential_id, "reason": reason.strip()},
            chain=f"educator:{new.educator_id}",
            at=now,
        )
        await uow.commit()
    return new, document


async def revoke_on_request(
    session: AsyncSession, request: RevocationRequested, now: datetime
) -> Award | None:
    """Revoke the enrollment's current credential for confirmed misconduct, in the caller's
    transaction; None when it is already revoked (a second request, or the state got there
    first). Raises :class:`NotFound` when the enrollment has no credential."""
    repo = AwardsRepository(session)
    credential_id = await repo.credential_for_enrollment(request.enrollment_id)
    if credential_id is None:
        raise NotFound(f"enrollment {request.enrollment_id} has no credential to revoke")
    stored = await _locked(session, credential_id)
    award = stored.award
    if award.status is CredentialStatus.REVOKED:
        return None
    reason, detail = misconduct_reason(request.kind, request.detail)
    actor = f"review-approver:{request.approver_id}"
    award.revoke(reason, detail, now, actor)
    await repo.save_revocation(award)
    await repo.set_status(stored.status, True, now)
    await add_event(
        session,
        CredentialRevoked(
            **_ref(award),
            enrollment_id=award.enrollment_id,
            reason=reason,
            reason_detail=detail.strip(),
            revoked_at=now,
        ),
        event_id=event_id("credential_revoked", award.credential_id),
    )
    await audit.append(
        session,
        actor=actor,
        action="credential.revoked",
        object_type="credential",
        object_id=award.credential_id,
        details={
            "reason": str(reason),
            "detail": detail.strip(),
            "request_id": request.request_id,
            "misconduct": request.kind.value,
        },
        chain=f"educator:{award.educator_id}",
        at=now,
    )
    await licensure.after_revocation(session, award, now)  # stacks and credits reversed
    return award


SWEEP_ACTOR = "registry:suspension-sweep"


async def end_due_suspensions(
    sessions: async_sessionmaker[Any], now: datetime, *, limit: int = 200
) -> int:
    """Reinstate the suspended credentials whose planned end (``suspended_until``) has passed,
    each in its own transaction, as the state lifting it would; returns how many. Safe on
    several replicas at once: a credential another sweep reinstated first is skipped."""
    async with sessions() as session:
        due = (
            await execute_core(
                session,
                sa.select(credentials.c.credential_id)
                .where(
                    credentials.c.status == CredentialStatus.SUSPENDED.value,
                    credentials.c.suspended_until <= now,
                )
                .order_by(credentials.c.suspended_until)
                .limit(limit),
            )
        ).scalars()
        ids = list(due)
    done = 0
    for credential_id in ids:
        try:
            await reinstate_credential(
                UnitOfWork(sessions),
                credential_id=credential_id,
                reason="the planned end of the suspension passed",
                actor=SWEEP_ACTOR,
                now=now,
            )
            done += 1
        except CredentialStateError:
            continue  # reinstated (or revoked) meanwhile
    return done
