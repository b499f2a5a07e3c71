"""Reissued credentials: a new credential id for the same award.

The registry reissues a credential to correct it or move it to a new key or validity
(``registry.credential_reissued``): the new credential has a new id and the same award
(enrollment, ``awarded_at``); the old one is superseded and set revoked in the registry's status
list, but the registry emits no ``CredentialRevoked`` for it. Compensation keys stipends, holds
and clawbacks by credential id, so it records that the new id *continues* the old one and
resolves every credential id it is told about to the **original credential** (the one the award
was made for, found by following reissues back, however many there were):

- a reissue pays nothing and reverses nothing; it is one append-only row of
  ``credential_reissues`` (primary key: the new id, so a redelivered or duplicated reissue
  records nothing twice) and one audit record;
- a suspension, reinstatement or revocation of any id of the chain acts on the original
  award's ledger entries, deferrals and status (``credential_status`` of the original id);
  an award event naming a reissued id is the original award (its unique keys pay it once);
- **one award, one clawback**: a revocation reverses the award's approvals once
  (``uq_ledger_reverses``) and cancels its deferrals once, whichever id of the chain it names;
  a second revocation (of the new id after the original id was revoked, or the other way round)
  finds nothing left to reverse;
- **a superseded credential's revocation is not the award's**: a revocation naming an id that
  had been reissued as another before the revocation's time is the registry marking the old
  document revoked (what a reissue does), so it claws nothing back (it is audited as
  ``credential.superseded_revocation_ignored`` and noted once in ``credential_status_history``
  under the superseded id, status ``superseded``). The award stays valid under its current id,
  and revoking that id claws back. A revocation dated before the reissue (a replay of the
  original's revocation) is the award's.

Order: ``registry.credentials`` is keyed by educator id, so one educator's events reach us in
the order the registry emitted them: a reissue before anything about the new id, a revocation
of the original before a reissue made after it. We rely on that. Should a replay (from the DLQ,
say) still bring events about the new id before its reissue, they are applied to the new id as
its own credential (there are no ledger entries under it), and recording the reissue later
carries that status over to the original award: a revocation then claws back (once), a
suspension or reinstatement applies by its own timestamp.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from compensation.adapters import lanes_repository as lanes_repo
from compensation.adapters import reissues_repository as reissues_repo
from compensation.adapters import repository as repo
from compensation.service_layer import holds
from compensation.service_layer.stipends import reverse_award
from mc_events import audit
from mc_events.contracts.compensation import StipendReversalReason

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


class ReissueCycle(Exception):
    """The reissue would make a credential its own predecessor (a registry error)."""


@dataclass(frozen=True)
class Reissue:
    credential_id: str
    """The new credential."""
    previous_credential_id: str
    educator_id: str
    district_id: str
    enrollment_id: str
    reason: str
    awarded_at: datetime
    reissued_at: datetime


async def original_of(
    session: AsyncSession, credential: holds.CredentialRef
) -> holds.CredentialRef:
    """``credential`` resolved to the original credential of its award."""
    original = await reissues_repo.original_credential_id(session, credential.credential_id)
    if original == credential.credential_id:
        return credential
    return holds.CredentialRef(original, credential.educator_id, credential.district_id)


async def record_reissue(session: AsyncSession, reissue: Reissue, clock: Clock) -> bool:
    """Record that ``reissue.credential_id`` continues the award of the credential it
    supersedes. Pays nothing, reverses nothing (except carrying over a revocation of the new id
    that a replay delivered before the reissue). Returns False for a reissue recorded already."""
    original = holds.CredentialRef(
        await reissues_repo.original_credential_id(session, reissue.previous_credential_id),
        reissue.educator_id,
        reissue.district_id,
    )
    if original.credential_id == reissue.credential_id:
        raise ReissueCycle(
            f"reissuing {reissue.previous_credential_id} as {reissue.credential_id} would make "
            "a credential its own predecessor"
        )
    # The award's lock: a reissue queues behind (and before) status changes of the award.
    await repo.lock_award(session, original.award_key)
    existing = await reissues_repo.get_reissue(session, reissue.credential_id)
    if existing is not None:
        if existing.previous_credential_id != reissue.previous_credential_id:
            log.warning(
                "credential %s was recorded as reissued from %s; ignoring a reissue from %s",
                reissue.credential_id,
                existing.previous_credential_id,
                reissue.previous_credential_id,
            )
        return False
    now = clock()
    inserted = await reissues_repo.insert_reissue(
        session,
        {
            "credential_id": reissue.credential_id,
            "previous_credential_id": reissue.previous_credential_id,
            "educator_id": reissue.educator_id,
            "district_id": reissue.district_id,
            "enrollment_id": reissue.enrollment_id,
            "reason": reissue.reason,
            "awarded_at": reissue.awarded_at,
            "reissued_at": reissue.reissued_at,
            "recorded_at": now,
        },
    )
    if not inserted:  # the same new id from another predecessor, recorded meanwhile
        return False
    await audit.append(
        session,
        actor=f"reissue:{reissue.credential_id}",
        action="credential.reissued",
        object_type="credential",
        object_id=reissue.credential_id,
        details={
            "previous_credential_id": reissue.previous_credential_id,
            "original_credential_id": original.credential_id,
            "reason": reissue.reason,
        },
        chain=f"educator:{reissue.educator_id}",
        at=now,
    )
    await _carry_over_early_status(session, reissue.credential_id, original, clock)
    return True


async def _carry_over_early_status(
    session: AsyncSession, new_credential_id: str, original: holds.CredentialRef, clock: Clock
) -> None:
    """Status recorded under the new id before its reissue arrived (only a replay can do that)
    now applies to the original award, by its own timestamp."""
    early = await lanes_repo.get_status(session, new_credential_id, lock=True)
    if early is None:
        return
    log.warning(
        "credential %s was %s before its reissue arrived; applying that to %s",
        new_credential_id,
        early.status,
        original.credential_id,
    )
    if early.status == "revoked":
        await _revoke(session, original, at=early.changed_at, reason=early.reason, clock=clock)
    elif early.status == "suspended":
        await holds.suspend(
            session, original, at=early.changed_at, reason=early.reason, clock=clock
        )
    else:
        await holds.reinstate(
            session, original, at=early.changed_at, reason=early.reason, clock=clock
        )


async def _revoke(
    session: AsyncSession, original: holds.CredentialRef, *, at: datetime, reason: str, clock: Clock
) -> list[str]:
    await holds.mark_revoked(session, original, at=at, reason=reason, clock=clock)
    return await reverse_award(
        session, original.award_key, StipendReversalReason.CREDENTIAL_REVOKED, clock
    )


async def revoke(
    session: AsyncSession,
    credential: holds.CredentialRef,
    *,
    at: datetime,
    reason: str,
    clock: Clock,
) -> list[str]:
    """Revoke the award ``credential`` belongs to: claw back its approvals once and cancel its
    deferrals once. A revocation of a credential superseded (reissued) before ``at`` claws
    nothing back. Returns the reversal entry ids written now."""
    superseded = await reissues_repo.superseded_at(session, credential.credential_id)
    if superseded is not None and superseded <= at:
        now = clock()
        noted = await reissues_repo.record_superseded_revocation(
            session, credential.credential_id, changed_at=at, reason=reason, at=now
        )
        if not noted:
            return []
        await audit.append(
            session,
            actor=f"revocation:{credential.credential_id}",
            action="credential.superseded_revocation_ignored",
            object_type="credential",
            object_id=credential.credential_id,
            details={"reason": reason, "superseded_at": superseded.isoformat()},
            chain=f"educator:{credential.educator_id}",
            at=now,
        )
        return []
    return await _revoke(
        session, await original_of(session, credential), at=at, reason=reason, clock=clock
    )
