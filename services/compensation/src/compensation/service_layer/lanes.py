"""Salary lanes: grant lanes on stack completion, take them back when the completion is
reversed, read an educator's lanes and a district's lane changes. (Lane rules are versioned data
like stipend rules, published by service_layer/rules.py.)

Exactly once, like stipends: the award advisory lock on ``stack_completion:<id>`` serialises a
completion against its duplicates and its reversal, then a per educator-and-district advisory
lock serialises everything that moves that educator's lane; the unique keys
``uq_lane_grant_completion_rule``, the reversal's primary key and ``uq_lane_change_grant_reason``
are the last word. Lane changes and their events have deterministic ids.
"""

from __future__ import annotations

from datetime import datetime

from compensation.domain.lanes import (
    Completion,
    EducatorLanes,
    GrantRecord,
    LaneChange,
    effective_lane,
    grant_for,
    lane_of,
    lane_rules_in_force,
)
from compensation.domain.rules import Basis
from compensation.service_layer.errors import Undeliverable
from compensation.service_layer.unit_of_work import UnitOfWork
from mc_events.contracts.compensation import SalaryLaneChangeReason
from mc_platform.clock import Clock


class EducatorNotOnRosterForLane(Undeliverable):
    """A lane rule applies but the roster has not told us who the educator is yet."""


def completion_key(stack_completion_id: str) -> str:
    """The award key of a completion (shared with stack bonuses and their revocation mark)."""
    return f"{Basis.STACK_COMPLETION}:{stack_completion_id}"


# -- grants and lane changes ----------------------------------------------------------------


async def _record_change(uow: UnitOfWork, change: LaneChange) -> str | None:
    """Store ``change`` (once per grant and direction), announce and audit it."""
    if not await uow.lanes.insert_change(change):
        return None
    uow.announce(
        change.changed(),
        about=change.change_id,
        object_type="salary_lane_change",
        actor=f"stack:{change.stack_completion_id}",
        action="salary_lane.changed",
        details={"from_lane": change.from_lane, "to_lane": change.to_lane, "reason": change.reason},
        chain=f"educator:{change.educator_id}",
        at=change.recorded_at,
    )
    return change.change_id


async def apply_completion(uow: UnitOfWork, completion: Completion, clock: Clock) -> list[str]:
    """Grant the lanes the rules in force give for ``completion``; returns the lane change ids
    written now (empty: no rule, a lower lane than one held, a duplicate, or reversed already).

    Raises :class:`EducatorNotOnRosterForLane` if a rule applies and the educator is unknown.
    """
    state = await uow.roster.district_state(completion.district_id)
    if state is None:
        return []
    rules = lane_rules_in_force(
        await uow.lane_rules.of_scope(state, completion.district_id), completion, state=state
    )
    if not rules:
        return []
    educator = await uow.roster.educator(completion.educator_id)
    if educator is None:
        raise EducatorNotOnRosterForLane(
            f"educator {completion.educator_id} is not on the roster yet "
            f"(salary-lane rules {', '.join(rule.rule_id for rule in rules)} apply)"
        )
    award_key = completion_key(completion.completion_id)
    await uow.ledger.lock_award(award_key)
    if await uow.ledger.is_revoked(award_key):
        return []
    lanes = uow.lanes
    await lanes.lock(completion.educator_id, completion.district_id)
    now = clock()
    before = effective_lane(
        await lanes.standing_grants(completion.educator_id, completion.district_id)
    )
    for rule in rules:
        grant = grant_for(rule, completion, educator.role, now)
        if grant is not None:
            await lanes.insert_grant(grant)
    after = effective_lane(
        await lanes.standing_grants(completion.educator_id, completion.district_id)
    )
    if after is None or lane_of(before) == lane_of(after):
        return []
    change = await _record_change(
        uow,
        LaneChange.by(
            await lanes.grant(after.grant_id),
            from_lane=lane_of(before),
            to_lane=after.lane,
            reason=SalaryLaneChangeReason.STACK_COMPLETED,
            reverts=None,
            effective_at=completion.completed_at,
            now=now,
        ),
    )
    return [change] if change else []


async def revert_completion(
    uow: UnitOfWork,
    stack_completion_id: str,
    educator_id: str,
    district_id: str,
    reversed_at: datetime,
    clock: Clock,
) -> list[str]:
    """Take back the lanes ``stack_completion_id`` granted, once; returns the lane change ids
    written now (empty if the educator's lane does not change or this is a redelivery)."""
    lanes = uow.lanes
    await uow.ledger.lock_award(completion_key(stack_completion_id))
    await lanes.lock(educator_id, district_id)
    grants = await lanes.standing_grants_of_completion(stack_completion_id)
    if not grants:
        return []
    now = clock()
    reason = SalaryLaneChangeReason.STACK_COMPLETION_REVERSED
    changes: list[str] = []
    # A completion is granted in the district it happened in; group in case of a move.
    for scope in sorted({(g.educator_id, g.district_id) for g in grants}):
        if scope != (educator_id, district_id):
            await lanes.lock(*scope)
        before = effective_lane(await lanes.standing_grants(*scope))
        for grant in _in_scope(grants, scope):
            await lanes.insert_grant_reversal(grant.grant_id, reason.value, reversed_at, now)
        after = effective_lane(await lanes.standing_grants(*scope))
        if before is None or lane_of(before) == lane_of(after):
            continue
        change = await _record_change(
            uow,
            LaneChange.by(
                await lanes.grant(before.grant_id),
                from_lane=before.lane,
                to_lane=lane_of(after),
                reason=reason,
                reverts=await lanes.change_that_set(*scope, before.grant_id),
                effective_at=reversed_at,
                now=now,
            ),
        )
        if change:
            changes.append(change)
    return changes


def _in_scope(grants: list[GrantRecord], scope: tuple[str, str]) -> list[GrantRecord]:
    return [grant for grant in grants if (grant.educator_id, grant.district_id) == scope]


# -- reading --------------------------------------------------------------------------------


async def educator_lanes(
    uow: UnitOfWork, educator_id: str, *, district_scope: str | None
) -> EducatorLanes:
    """The educator's lane history and grants (``district_scope``: only that district's)."""
    async with uow:
        changes = await uow.lanes.educator_changes(educator_id)
        grants = await uow.lanes.educator_grants(educator_id)
    if district_scope is not None:
        changes = [change for change in changes if change.district_id == district_scope]
        grants = [grant for grant in grants if grant.district_id == district_scope]
    return EducatorLanes(educator_id, changes, grants)


async def district_changes(
    uow: UnitOfWork, district_id: str, *, after_seq: int, limit: int
) -> list[LaneChange]:
    """The district's lane changes in the order they happened, after ``after_seq``."""
    async with uow:
        return await uow.lanes.district_changes(district_id, after_seq=after_seq, limit=limit)
