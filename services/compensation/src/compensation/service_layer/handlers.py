"""What compensation does with the events it consumes, each in the consumer runtime's
transaction (a unit of work joined to it: handlers never commit).

- ``registry.credentials``: an award or a stack completion is paid by the stipend rules
  (:mod:`.stipends`), a completion also moves the salary lane (:mod:`.lanes`), their reversals
  claw back; suspensions and reinstatements hold and release (:mod:`.holds`); revocations and
  reissues follow the award through its credential ids (:mod:`.reissues`);
- ``enrollment.roster``: the educators read model that eligibility is judged on.

A handler raises :class:`~compensation.service_layer.errors.Undeliverable` for an event it can
never apply as it is (the consumer dead-letters it).
"""

from __future__ import annotations

from compensation.domain.credentials import CredentialRef, Reissue
from compensation.domain.lanes import Completion
from compensation.domain.rules import Award, Basis, Educator
from compensation.service_layer import holds, lanes, reissues
from compensation.service_layer.stipends import apply_award, reverse_award
from compensation.service_layer.unit_of_work import UnitOfWork
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
from mc_platform.clock import Clock

CredentialEvent = CredentialSuspended | CredentialReinstated | CredentialRevoked


def _ref(event: CredentialEvent) -> CredentialRef:
    return CredentialRef(event.credential_id, event.educator_id, event.district_id)


async def on_credential_awarded(uow: UnitOfWork, event: CredentialAwarded, clock: Clock) -> None:
    # A reissued id is the original award (apply_award resolves it; its keys pay it once).
    award = Award(
        Basis.CREDENTIAL,
        event.credential_id,
        event.micro_credential_id,
        event.educator_id,
        event.district_id,
        event.awarded_at,
    )
    await apply_award(uow, award, clock)


async def on_stack_completed(uow: UnitOfWork, event: StackCompleted, clock: Clock) -> None:
    """A stack bonus (per-stack stipend rules) and a salary-lane change (lane rules)."""
    award = Award(
        Basis.STACK_COMPLETION,
        event.stack_completion_id,
        event.stack_id,
        event.educator_id,
        event.district_id,
        event.completed_at,
    )
    await apply_award(uow, award, clock)
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
    await lanes.apply_completion(uow, completion, clock)


async def on_stack_completion_reversed(
    uow: UnitOfWork, event: StackCompletionReversed, clock: Clock
) -> None:
    """Claw the stack bonus back once (cancel it if still deferred) and revert the lane."""
    await reverse_award(
        uow,
        lanes.completion_key(event.stack_completion_id),
        StipendReversalReason.STACK_COMPLETION_REVERSED,
        clock,
    )
    await lanes.revert_completion(
        uow,
        event.stack_completion_id,
        event.educator_id,
        event.district_id,
        event.reversed_at,
        clock,
    )


async def on_credential_suspended(
    uow: UnitOfWork, event: CredentialSuspended, clock: Clock
) -> None:
    credential = await reissues.original_of(uow, _ref(event))
    await holds.suspend(uow, credential, at=event.suspended_at, reason=event.reason, clock=clock)


async def on_credential_reinstated(
    uow: UnitOfWork, event: CredentialReinstated, clock: Clock
) -> None:
    credential = await reissues.original_of(uow, _ref(event))
    await holds.reinstate(uow, credential, at=event.reinstated_at, reason=event.reason, clock=clock)


async def on_credential_revoked(uow: UnitOfWork, event: CredentialRevoked, clock: Clock) -> None:
    await reissues.revoke(
        uow, _ref(event), at=event.revoked_at, reason=event.reason.value, clock=clock
    )


async def on_credential_reissued(uow: UnitOfWork, event: CredentialReissued, clock: Clock) -> None:
    """Record that the new id continues the original award: nothing paid, nothing reversed."""
    reissue = Reissue(
        credential_id=event.credential_id,
        previous_credential_id=event.previous_credential_id,
        educator_id=event.educator_id,
        district_id=event.district_id,
        enrollment_id=event.enrollment_id,
        reason=event.reason,
        awarded_at=event.awarded_at,
        reissued_at=event.reissued_at,
    )
    await reissues.record_reissue(uow, reissue, clock)


async def on_educator_snapshot(
    uow: UnitOfWork, event: EducatorRegistered | EducatorUpdated, clock: Clock
) -> None:
    license_ = event.license
    educator = Educator(
        event.educator_id,
        event.district_id,
        event.role.value,
        license_.license_type if license_ else None,
        license_.expires_on if license_ else None,
    )
    await uow.roster.upsert_educator(educator, clock())


async def on_educator_moved(uow: UnitOfWork, event: EducatorMovedDistrict, clock: Clock) -> None:
    await uow.roster.move_educator(event.educator_id, event.to_district_id, clock())
