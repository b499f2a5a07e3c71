"""Inbound events of the compensation service, mapped to command handlers.

What is skipped and what is dead-lettered (topics are shared, so we see events about districts,
educators and credentials that concern us not at all):

- an award in a district not registered with compensation, or that no rule covers: skipped
  (no stipend programme; nothing to do, now or later);
- an award a rule covers, for an educator the roster has not told us about: dead-lettered
  (``NonRetryableError``), because paying without an eligibility check would be wrong and
  skipping would lose pay; replay it from ``registry.credentials.dlq`` once the roster arrived;
- a revocation of a credential we never paid: recorded (so a late award is never paid), no
  ledger entry;
- a district move for an educator not on our roster: skipped;
- a stack completion a salary-lane rule covers, for an educator not on the roster:
  dead-lettered, like an award (the stack bonus and the lane are decided together);
- a reversal of a stack completion never seen: recorded (a late completion grants nothing);
- a suspension or reinstatement older than the credential's current status: skipped;
- a reissue: recorded (the new id continues the original award; see service_layer/reissues.py),
  nothing paid or reversed; every later award, suspension, reinstatement or revocation naming
  any id of the chain acts on the original award; a revocation of a credential superseded
  before it was revoked claws nothing back; a reissue that would make a credential its own
  predecessor: dead-lettered.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from compensation.adapters import repository as repo
from compensation.domain.lanes import Completion
from compensation.domain.rules import Award, Basis, Educator
from compensation.service_layer import holds, lanes, reissues
from compensation.service_layer.stipends import (
    EducatorNotOnRoster,
    apply_award,
    reverse_award,
)
from mc_events.consumer import Handler, NonRetryableError
from mc_events.contracts.base import Event
from mc_events.contracts.common import GrantKind
from mc_events.contracts.compensation import StipendReversalReason
from mc_events.contracts.registry import (
    CredentialAwarded,
    CredentialReinstated,
    CredentialReissued,
    CredentialRevoked,
    CredentialSuspended,
    StackCompleted,
    StackCompletionReversed,
)
from mc_events.contracts.roster import EducatorMovedDistrict, EducatorRegistered, EducatorUpdated
from mc_events.envelope import Received

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def build_handlers(clock: Clock = utc_now) -> dict[type[Event], Handler]:
    async def _apply(session: AsyncSession, award: Award) -> None:
        try:
            await apply_award(session, award, clock)
        except EducatorNotOnRoster as exc:
            raise NonRetryableError(str(exc)) from exc

    async def credential_awarded(
        session: AsyncSession, received: Received[CredentialAwarded]
    ) -> None:
        event = received.event
        # A reissued id is the original award (apply_award resolves it; its keys pay it once).
        await _apply(
            session,
            Award(
                Basis.CREDENTIAL,
                event.credential_id,
                event.micro_credential_id,
                event.educator_id,
                event.district_id,
                event.awarded_at,
            ),
        )

    async def stack_completed(session: AsyncSession, received: Received[StackCompleted]) -> None:
        """A stack bonus (per-stack stipend rules) and a salary-lane change (lane rules)."""
        event = received.event
        await _apply(
            session,
            Award(
                Basis.STACK_COMPLETION,
                event.stack_completion_id,
                event.stack_id,
                event.educator_id,
                event.district_id,
                event.completed_at,
            ),
        )
        completion = Completion(
            completion_id=event.stack_completion_id,
            stack_id=event.stack_id,
            educator_id=event.educator_id,
            district_id=event.district_id,
            completed_at=event.completed_at,
            granted_lanes=tuple(
                grant.salary_lane or grant.code
                for grant in event.grants
                if grant.kind is GrantKind.SALARY_LANE
            ),
        )
        try:
            await lanes.apply_completion(session, completion, clock)
        except lanes.EducatorNotOnRosterForLane as exc:
            raise NonRetryableError(str(exc)) from exc

    async def stack_completion_reversed(
        session: AsyncSession, received: Received[StackCompletionReversed]
    ) -> None:
        """Claw the stack bonus back once (cancel it if still deferred) and revert the lane."""
        event = received.event
        await reverse_award(
            session,
            lanes.completion_key(event.stack_completion_id),
            StipendReversalReason.STACK_COMPLETION_REVERSED,
            clock,
        )
        await lanes.revert_completion(
            session,
            event.stack_completion_id,
            event.educator_id,
            event.district_id,
            event.reversed_at,
            clock,
        )

    def _ref(
        event: CredentialAwarded | CredentialSuspended | CredentialReinstated | CredentialRevoked,
    ) -> holds.CredentialRef:
        return holds.CredentialRef(event.credential_id, event.educator_id, event.district_id)

    async def _credential(
        session: AsyncSession, event: CredentialSuspended | CredentialReinstated
    ) -> holds.CredentialRef:
        """The original credential of the award the event's (possibly reissued) id carries."""
        return await reissues.original_of(session, _ref(event))

    async def credential_suspended(
        session: AsyncSession, received: Received[CredentialSuspended]
    ) -> None:
        event = received.event
        await holds.suspend(
            session,
            await _credential(session, event),
            at=event.suspended_at,
            reason=event.reason,
            clock=clock,
        )

    async def credential_reinstated(
        session: AsyncSession, received: Received[CredentialReinstated]
    ) -> None:
        event = received.event
        await holds.reinstate(
            session,
            await _credential(session, event),
            at=event.reinstated_at,
            reason=event.reason,
            clock=clock,
        )

    async def credential_revoked(
        session: AsyncSession, received: Received[CredentialRevoked]
    ) -> None:
        event = received.event
        await reissues.revoke(
            session, _ref(event), at=event.revoked_at, reason=event.reason.value, clock=clock
        )

    async def credential_reissued(
        session: AsyncSession, received: Received[CredentialReissued]
    ) -> None:
        """Record that the new id continues the original award: nothing paid, nothing reversed."""
        event = received.event
        try:
            await reissues.record_reissue(
                session,
                reissues.Reissue(
                    credential_id=event.credential_id,
                    previous_credential_id=event.previous_credential_id,
                    educator_id=event.educator_id,
                    district_id=event.district_id,
                    enrollment_id=event.enrollment_id,
                    reason=event.reason,
                    awarded_at=event.awarded_at,
                    reissued_at=event.reissued_at,
                ),
                clock,
            )
        except reissues.ReissueCycle as exc:
            raise NonRetryableError(str(exc)) from exc

    async def educator_snapshot(
        session: AsyncSession, received: Received[EducatorRegistered | EducatorUpdated]
    ) -> None:
        event = received.event
        license_ = event.license
        await repo.upsert_educator(
            session,
            Educator(
                event.educator_id,
                event.district_id,
                event.role.value,
                license_.license_type if license_ else None,
                license_.expires_on if license_ else None,
            ),
            clock(),
        )

    async def educator_moved(
        session: AsyncSession, received: Received[EducatorMovedDistrict]
    ) -> None:
        event = received.event
        await repo.move_educator(session, event.educator_id, event.to_district_id, clock())

    handlers: dict[type[Event], Any] = {
        CredentialAwarded: credential_awarded,
        StackCompleted: stack_completed,
        CredentialRevoked: credential_revoked,
        StackCompletionReversed: stack_completion_reversed,
        CredentialSuspended: credential_suspended,
        CredentialReinstated: credential_reinstated,
        CredentialReissued: credential_reissued,
        EducatorRegistered: educator_snapshot,
        EducatorUpdated: educator_snapshot,
        EducatorMovedDistrict: educator_moved,
    }
    return handlers


HANDLERS: dict[type[Event], Handler] = build_handlers()
