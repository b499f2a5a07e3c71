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
from datetime import datetime

from compensation.domain.credentials import (
    REVOKED,
    SUPERSEDED,
    SUSPENDED,
    CredentialRef,
    Reissue,
)
from compensation.service_layer import holds
from compensation.service_layer.errors import Undeliverable
from compensation.service_layer.stipends import reverse_award
from compensation.service_layer.unit_of_work import UnitOfWork
from mc_events.contracts.compensation import StipendReversalReason
from mc_platform.clock import Clock

log = logging.getLogger(__name__)


class ReissueCycle(Undeliverable):
    """The reissue would make a credential its own predecessor (a registry error)."""


async def original_of(uow: UnitOfWork, credential: CredentialRef) -> CredentialRef:
    """``credential`` resolved to the original credential of its award."""
    return credential.as_original(
        await uow.reissues.original_credential_id(credential.credential_id)
    )


async def record_reissue(uow: UnitOfWork, reissue: Reissue, clock: Clock) -> bool:
    """Record that ``reissue.credential_id`` continues the award of the credential it
    supersedes. Pays nothing, reverses nothing (except carrying over a revocation of the new id
    that a replay delivered before the reissue). Returns False for a reissue recorded already."""
    original = CredentialRef(
        await uow.reissues.original_credential_id(reissue.previous_credential_id),
        reissue.educator_id,
        reissue.district_id,
    )
    if original.credential_id == reissue.credential_id:
        raise ReissueCycle(
            f"reissuing {reissue.previous_credential_id} as {reissue.credential_id} would make "
            "a credential its own predecessor"
        )
    # The award's lock: a reissue queues behind (and before) status changes of the award.
    await uow.ledger.lock_award(original.award_key)
    existing = await uow.reissues.reissue(reissue.credential_id)
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
    if not await uow.reissues.insert(reissue, recorded_at=now):
        return False  # the same new id from another predecessor, recorded meanwhile
    uow.audit(
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
    await _carry_over_early_status(uow, reissue.credential_id, original, clock)
    return True


async def _carry_over_early_status(
    uow: UnitOfWork, new_credential_id: str, original: CredentialRef, clock: Clock
) -> None:
    """Status recorded under the new id before its reissue arrived (only a replay can do that)
    now applies to the original award, by its own timestamp."""
    early = await uow.holds.status(new_credential_id, lock=True)
    if early is None:
        return
    log.warning(
        "credential %s was %s before its reissue arrived; applying that to %s",
        new_credential_id,
        early.status,
        original.credential_id,
    )
    if early.status == REVOKED:
        await _revoke(uow, original, at=early.changed_at, reason=early.reason, clock=clock)
    elif early.status == SUSPENDED:
        await holds.suspend(uow, original, at=early.changed_at, reason=early.reason, clock=clock)
    else:
        await holds.reinstate(uow, original, at=early.changed_at, reason=early.reason, clock=clock)


async def _revoke(
    uow: UnitOfWork, original: CredentialRef, *, at: datetime, reason: str, clock: Clock
) -> list[str]:
    await holds.mark_revoked(uow, original, at=at, reason=reason, clock=clock)
    return await reverse_award(
        uow, original.award_key, StipendReversalReason.CREDENTIAL_REVOKED, clock
    )


async def revoke(
    uow: UnitOfWork, credential: CredentialRef, *, at: datetime, reason: str, clock: Clock
) -> list[str]:
    """Revoke the award ``credential`` belongs to: claw back its approvals once and cancel its
    deferrals once. A revocation of a credential superseded (reissued) before ``at`` claws
    nothing back. Returns the reversal entry ids written now."""
    superseded = await uow.reissues.superseded_at(credential.credential_id)
    if superseded is None or superseded > at:
        return await _revoke(
            uow, await original_of(uow, credential), at=at, reason=reason, clock=clock
        )
    now = clock()
    noted = await uow.holds.note(
        credential.credential_id, SUPERSEDED, changed_at=at, reason=reason, at=now
    )
    if noted:
        uow.audit(
            actor=f"revocation:{credential.credential_id}",
            action="credential.superseded_revocation_ignored",
            object_type="credential",
            object_id=credential.credential_id,
            details={"reason": reason, "superseded_at": superseded.isoformat()},
            chain=f"educator:{credential.educator_id}",
            at=now,
        )
    return []
