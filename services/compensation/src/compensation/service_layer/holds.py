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

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from compensation.adapters import lanes_repository as lanes_repo
from compensation.adapters import repository as repo
from compensation.domain.rules import Basis
from mc_events import audit

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class CredentialRef:
    credential_id: str
    educator_id: str
    district_id: str

    @property
    def award_key(self) -> str:
        return f"{Basis.CREDENTIAL}:{self.credential_id}"


def _newer_than(current: Any, at: datetime) -> bool:
    """Whether a change stamped ``at`` follows the status we have (a revocation is final)."""
    return current is None or (current.status != "revoked" and current.changed_at < at)


async def _set_status(
    session: AsyncSession,
    credential: CredentialRef,
    status: str,
    *,
    at: datetime,
    reason: str,
    now: datetime,
) -> None:
    await lanes_repo.set_status(
        session,
        credential_id=credential.credential_id,
        educator_id=credential.educator_id,
        district_id=credential.district_id,
        status=status,
        changed_at=at,
        reason=reason,
        at=now,
    )


async def _audit(
    session: AsyncSession,
    credential: CredentialRef,
    *,
    actor: str,
    action: str,
    details: dict[str, object],
    now: datetime,
) -> None:
    await audit.append(
        session,
        actor=f"{actor}:{credential.credential_id}",
        action=action,
        object_type="credential",
        object_id=credential.credential_id,
        details=details,
        chain=f"educator:{credential.educator_id}",
        at=now,
    )


async def suspend(
    session: AsyncSession, credential: CredentialRef, *, at: datetime, reason: str, clock: Clock
) -> list[str]:
    """Hold the credential's unexported stipends. Returns the entry ids held now (empty for a
    stale or repeated suspension)."""
    await repo.lock_award(session, credential.award_key)
    current = await lanes_repo.get_status(session, credential.credential_id, lock=True)
    if not _newer_than(current, at):
        return []
    now = clock()
    await _set_status(session, credential, "suspended", at=at, reason=reason, now=now)
    held = await lanes_repo.held_entries_of_credential(session, credential.credential_id)
    await _audit(
        session,
        credential,
        actor="suspension",
        action="stipend.held",
        details={"held_entry_ids": held, "reason": reason},
        now=now,
    )
    return held


async def reinstate(
    session: AsyncSession, credential: CredentialRef, *, at: datetime, reason: str, clock: Clock
) -> list[str]:
    """Release the credential's held stipends. Returns the entry ids released now."""
    await repo.lock_award(session, credential.award_key)
    current = await lanes_repo.get_status(session, credential.credential_id, lock=True)
    if not _newer_than(current, at):
        return []
    was_suspended = current is not None and current.status == "suspended"
    released = (
        await lanes_repo.held_entries_of_credential(session, credential.credential_id)
        if was_suspended
        else []
    )
    now = clock()
    await _set_status(session, credential, "reinstated", at=at, reason=reason, now=now)
    if was_suspended:
        await _audit(
            session,
            credential,
            actor="reinstatement",
            action="stipend.released",
            details={"released_entry_ids": released, "reason": reason},
            now=now,
        )
    return released


async def mark_revoked(
    session: AsyncSession, credential: CredentialRef, *, at: datetime, reason: str, clock: Clock
) -> None:
    """A revocation is final: it ends any suspension (the reversal follows in the same
    transaction, see ``reverse_award``)."""
    await repo.lock_award(session, credential.award_key)
    current = await lanes_repo.get_status(session, credential.credential_id, lock=True)
    if current is not None and current.status == "revoked":
        return
    await _set_status(session, credential, "revoked", at=at, reason=reason, now=clock())
