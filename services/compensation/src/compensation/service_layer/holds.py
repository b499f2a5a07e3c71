"""Suspension and reinstatement: what a suspended credential does to its stipends.

The rule: a suspension is not a revocation, and it may be lifted.

- A suspended credential's ledger entries that no payroll batch carries yet are *held*: they
  stay in the ledger (approved, budget committed) but no batch picks them up.
- What was already exported (or paid) stays exported: a suspension claws nothing back.
- A reinstatement releases the held entries; the next batch carries them.
- A revocation ends the suspension for good: the approval is reversed once (``reverse_award``)
  and the hold ends, so the held approval and its reversal reach payroll together and net to
  zero; an approval paid before the suspension is clawed back by its reversal alone. Nothing is
  paid twice and nothing is lost.

Status changes are ordered by the registry's timestamps, not by arrival: a suspension or
reinstatement older than the status we have (a late duplicate, a replay) changes nothing, and a
revoked credential stays revoked. Each change is recorded once in the append-only
``credential_status_history`` (unique on credential, status and time).
"""

from __future__ import annotations

from datetime import datetime

from compensation.domain.credentials import (
    REINSTATED,
    REVOKED,
    SUSPENDED,
    CredentialRef,
    CredentialStatus,
    changes_status,
)
from compensation.service_layer.unit_of_work import UnitOfWork
from mc_platform.clock import Clock


async def _locked_status(uow: UnitOfWork, credential: CredentialRef) -> CredentialStatus | None:
    """The credential's status, under the award's lock and the status row's (lock order: award
    lock first, like every command about the award)."""
    await uow.ledger.lock_award(credential.award_key)
    return await uow.holds.status(credential.credential_id, lock=True)


def _audit(
    uow: UnitOfWork,
    credential: CredentialRef,
    *,
    actor: str,
    action: str,
    details: dict[str, object],
    now: datetime,
) -> None:
    uow.audit(
        actor=f"{actor}:{credential.credential_id}",
        action=action,
        object_type="credential",
        object_id=credential.credential_id,
        details=details,
        chain=f"educator:{credential.educator_id}",
        at=now,
    )


async def suspend(
    uow: UnitOfWork, credential: CredentialRef, *, at: datetime, reason: str, clock: Clock
) -> list[str]:
    """Hold the credential's unexported stipends. Returns the entry ids held now (empty for a
    stale or repeated suspension)."""
    current = await _locked_status(uow, credential)
    if not changes_status(current, at):
        return []
    now = clock()
    await uow.holds.set_status(credential, SUSPENDED, changed_at=at, reason=reason, at=now)
    held = await uow.holds.held_entry_ids(credential.credential_id)
    _audit(
        uow,
        credential,
        actor="suspension",
        action="stipend.held",
        details={"held_entry_ids": held, "reason": reason},
        now=now,
    )
    return held


async def reinstate(
    uow: UnitOfWork, credential: CredentialRef, *, at: datetime, reason: str, clock: Clock
) -> list[str]:
    """Release the credential's held stipends. Returns the entry ids released now."""
    current = await _locked_status(uow, credential)
    if not changes_status(current, at):
        return []
    was_suspended = current is not None and current.status == SUSPENDED
    released = await uow.holds.held_entry_ids(credential.credential_id) if was_suspended else []
    now = clock()
    await uow.holds.set_status(credential, REINSTATED, changed_at=at, reason=reason, at=now)
    if was_suspended:
        _audit(
            uow,
            credential,
            actor="reinstatement",
            action="stipend.released",
            details={"released_entry_ids": released, "reason": reason},
            now=now,
        )
    return released


async def mark_revoked(
    uow: UnitOfWork, credential: CredentialRef, *, at: datetime, reason: str, clock: Clock
) -> None:
    """A revocation is final: it ends any suspension (the reversal follows in the same
    transaction, see ``reverse_award``)."""
    current = await _locked_status(uow, credential)
    if current is not None and current.status == REVOKED:
        return
    await uow.holds.set_status(credential, REVOKED, changed_at=at, reason=reason, at=clock())
