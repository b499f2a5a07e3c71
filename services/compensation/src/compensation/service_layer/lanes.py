"""Salary lanes: publish lane rules (versions, like stipend rules), grant lanes on stack
completion, take them back when the completion is reversed.

Exactly once, like stipends: the award advisory lock on ``stack_completion:<id>`` serialises a
completion against its duplicates and its reversal, then a per educator-and-district advisory
lock serialises everything that moves that educator's lane; the unique keys
``uq_lane_grant_completion_rule``, the reversal's primary key and ``uq_lane_change_grant_reason``
are the last word. Lane changes and their events have deterministic ids.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from compensation.adapters import lanes_repository as lanes_repo
from compensation.adapters import repository as repo
from compensation.domain import ids
from compensation.domain.lanes import (
    Completion,
    LaneGrant,
    SalaryLaneRule,
    effective_lane,
    lane_for,
    lane_rules_in_force,
)
from compensation.domain.rules import Basis
from compensation.service_layer.errors import Conflict, NotFound
from compensation.service_layer.rules import ensure_publishable, rule_chain
from mc_events import audit
from mc_events.contracts.compensation import SalaryLaneChanged, SalaryLaneChangeReason
from mc_events.outbox import add_event

Clock = Callable[[], datetime]


class EducatorNotOnRosterForLane(Exception):
    """A lane rule applies but the roster has not told us who the educator is yet."""


def completion_key(stack_completion_id: str) -> str:
    """The award key of a completion (shared with stack bonuses and their revocation mark)."""
    return f"{Basis.STACK_COMPLETION}:{stack_completion_id}"


async def publish_lane_rule(
    session: AsyncSession,
    rule: SalaryLaneRule,
    *,
    published_by: str,
    acting_for_district: str | None,
    at: datetime,
) -> SalaryLaneRule:
    """Store ``rule`` as the next version of its rule id (the given version is ignored)."""
    existing = await lanes_repo.lane_rule_versions(session, rule.rule_id)
    latest = existing[-1] if existing else None
    await ensure_publishable(session, rule, latest, acting_for_district)
    versioned = replace(rule, version=(latest.version + 1) if latest else 1)
    if not await lanes_repo.insert_lane_rule(session, versioned, created_by=published_by, at=at):
        raise Conflict(f"version {versioned.version} of {rule.rule_id} was published concurrently")
    await audit.append(
        session,
        actor=published_by,
        action="lane_rule.published",
        object_type="salary_lane_rule",
        object_id=f"{versioned.rule_id}@v{versioned.version}",
        details={"lane": versioned.lane, "rank": versioned.rank, "state": versioned.state},
        chain=rule_chain(versioned),
        at=at,
    )
    return versioned


async def lane_rule_versions(session: AsyncSession, rule_id: str) -> list[SalaryLaneRule]:
    found = await lanes_repo.lane_rule_versions(session, rule_id)
    if not found:
        raise NotFound(f"no salary-lane rule {rule_id}")
    return found


def _lane_of(grant: LaneGrant | None) -> str | None:
    return grant.lane if grant is not None else None


async def _record_change(
    session: AsyncSession,
    *,
    grant_row: Any,
    from_lane: str | None,
    to_lane: str | None,
    reason: SalaryLaneChangeReason,
    reverts: str | None,
    effective_at: datetime,
    now: datetime,
) -> str | None:
    grant_id: str = grant_row.grant_id
    change_id = ids.lane_change_id(grant_id, reason.value)
    values = {
        "change_id": change_id,
        "educator_id": grant_row.educator_id,
        "district_id": grant_row.district_id,
        "from_lane": from_lane,
        "to_lane": to_lane,
        "reason": reason.value,
        "grant_id": grant_id,
        "stack_completion_id": grant_row.stack_completion_id,
        "stack_id": grant_row.stack_id,
        "rule_id": grant_row.rule_id,
        "rule_version": grant_row.rule_version,
        "reverts_change_id": reverts,
        "effective_at": effective_at,
        "recorded_at": now,
    }
    if not await lanes_repo.insert_lane_change(session, values):
        return None
    event = SalaryLaneChanged(
        lane_change_id=change_id,
        educator_id=values["educator_id"],
        district_id=values["district_id"],
        from_lane=from_lane,
        to_lane=to_lane,
        reason=reason,
        stack_completion_id=values["stack_completion_id"],
        stack_id=values["stack_id"],
        rule_id=values["rule_id"],
        rule_version=values["rule_version"],
        reverts_lane_change_id=reverts,
        effective_at=effective_at,
        changed_at=now,
    )
    await add_event(session, event, event_id=ids.event_id(event.event_type, change_id))
    await audit.append(
        session,
        actor=f"stack:{values['stack_completion_id']}",
        action="salary_lane.changed",
        object_type="salary_lane_change",
        object_id=change_id,
        details={"from_lane": from_lane, "to_lane": to_lane, "reason": reason.value},
        chain=f"educator:{values['educator_id']}",
        at=now,
    )
    return change_id


async def apply_completion(
    session: AsyncSession, completion: Completion, clock: Clock
) -> list[str]:
    """Grant the lanes the rules in force give for ``completion``; returns the lane change ids
    written now (empty: no rule, a lower lane than one held, a duplicate, or reversed already).

    Raises :class:`EducatorNotOnRosterForLane` if a rule applies and the educator is unknown.
    """
    state = await repo.district_state(session, completion.district_id)
    if state is None:
        return []
    rules = lane_rules_in_force(
        await lanes_repo.lane_rules_for(session, state, completion.district_id),
        completion,
        state=state,
    )
    if not rules:
        return []
    educator = await repo.get_educator(session, completion.educator_id)
    if educator is None:
        raise EducatorNotOnRosterForLane(
            f"educator {completion.educator_id} is not on the roster yet "
            f"(salary-lane rules {', '.join(rule.rule_id for rule in rules)} apply)"
        )
    await repo.lock_award(session, completion_key(completion.completion_id))
    if await repo.is_revoked(session, completion_key(completion.completion_id)):
        return []
    await lanes_repo.lock_lanes(session, completion.educator_id, completion.district_id)
    now = clock()
    before = effective_lane(
        await lanes_repo.standing_grants(session, completion.educator_id, completion.district_id)
    )
    for rule in rules:
        lane = lane_for(rule, completion, educator.role)
        if lane is None:
            continue
        await lanes_repo.insert_grant(
            session,
            {
                "grant_id": ids.lane_grant_id(completion.completion_id, rule.rule_id),
                "educator_id": completion.educator_id,
                "district_id": completion.district_id,
                "stack_completion_id": completion.completion_id,
                "stack_id": completion.stack_id,
                "rule_id": rule.rule_id,
                "rule_version": rule.version,
                "lane": lane,
                "rank": rule.rank,
                "granted_at": completion.completed_at,
                "recorded_at": now,
            },
        )
    after = effective_lane(
        await lanes_repo.standing_grants(session, completion.educator_id, completion.district_id)
    )
    if after is None or _lane_of(before) == _lane_of(after):
        return []
    change = await _record_change(
        session,
        grant_row=await lanes_repo.get_grant(session, after.grant_id),
        from_lane=_lane_of(before),
        to_lane=after.lane,
        reason=SalaryLaneChangeReason.STACK_COMPLETED,
        reverts=None,
        effective_at=completion.completed_at,
        now=now,
    )
    return [change] if change else []


async def revert_completion(
    session: AsyncSession,
    stack_completion_id: str,
    educator_id: str,
    district_id: str,
    reversed_at: datetime,
    clock: Clock,
) -> list[str]:
    """Take back the lanes ``stack_completion_id`` granted, once; returns the lane change ids
    written now (empty if the educator's lane does not change or this is a redelivery)."""
    await repo.lock_award(session, completion_key(stack_completion_id))
    await lanes_repo.lock_lanes(session, educator_id, district_id)
    grants = await lanes_repo.standing_grants_of_completion(session, stack_completion_id)
    if not grants:
        return []
    now = clock()
    changes: list[str] = []
    # A completion is granted in the district it happened in; group in case of a move.
    for scope in sorted({(g.educator_id, g.district_id) for g in grants}):
        if scope != (educator_id, district_id):
            await lanes_repo.lock_lanes(session, *scope)
        before = effective_lane(await lanes_repo.standing_grants(session, *scope))
        for grant in grants:
            if (grant.educator_id, grant.district_id) == scope:
                await lanes_repo.insert_grant_reversal(
                    session,
                    grant.grant_id,
                    SalaryLaneChangeReason.STACK_COMPLETION_REVERSED.value,
                    reversed_at,
                    now,
                )
        after = effective_lane(await lanes_repo.standing_grants(session, *scope))
        if before is None or _lane_of(before) == _lane_of(after):
            continue
        reverts = await lanes_repo.change_that_set(session, *scope, before.grant_id)
        change = await _record_change(
            session,
            grant_row=await lanes_repo.get_grant(session, before.grant_id),
            from_lane=before.lane,
            to_lane=_lane_of(after),
            reason=SalaryLaneChangeReason.STACK_COMPLETION_REVERSED,
            reverts=reverts,
            effective_at=reversed_at,
            now=now,
        )
        if change:
            changes.append(change)
    return changes
