"""Salary-lane rules as data: which version applies to a stack completion, which lane it grants,
and which lane an educator is on (highest rank among standing grants, whatever the order)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from compensation.adapters.rules_repository import lane_rule_from_json, lane_rule_to_json
from compensation.domain.ids import lane_change_id, lane_grant_id
from compensation.domain.lanes import (
    Completion,
    LaneGrant,
    SalaryLaneRule,
    effective_lane,
    lane_for,
    lane_rules_in_force,
)
from compensation.domain.rules import InvalidRule

SINCE_2020 = datetime(2020, 1, 1, tzinfo=UTC)
COMPLETED = datetime(2025, 10, 1, 15, tzinfo=UTC)


def muskego(**changes) -> SalaryLaneRule:
    values = dict(
        rule_id="mn-advanced-degree",
        version=1,
        name="30 MCs = advanced-degree lane",
        state="WI",
        district_id="muskego-norway",
        lane="MA",
        rank=3,
        stack_ids=frozenset({"stack-30"}),
        effective_from=SINCE_2020,
    )
    values.update(changes)
    return SalaryLaneRule(**values)


def completion(**changes) -> Completion:
    values = dict(
        completion_id="stc-1",
        stack_id="stack-30",
        educator_id="WI-1",
        district_id="muskego-norway",
        completed_at=COMPLETED,
        granted_lanes=(),
    )
    values.update(changes)
    return Completion(**values)


def test_the_version_in_force_on_the_completion_date_applies():
    v1 = muskego()
    v2 = muskego(version=2, lane="MA+15", effective_from=datetime(2026, 7, 1, tzinfo=UTC))
    assert lane_rules_in_force([v1, v2], completion(), state="WI") == [v1]
    later = completion(completed_at=datetime(2026, 8, 1, tzinfo=UTC))
    assert lane_rules_in_force([v1, v2], later, state="WI") == [v2]


def test_rules_are_scoped_to_their_state_district_and_stacks():
    rule = muskego()
    assert lane_rules_in_force([rule], completion(district_id="kettle-moraine"), state="WI") == []
    assert lane_rules_in_force([rule], completion(stack_id="other"), state="WI") == []
    assert lane_rules_in_force([rule], completion(), state="MN") == []
    statewide = muskego(rule_id="wi-lane", district_id=None)
    assert lane_rules_in_force([statewide], completion(district_id="any"), state="WI") == [
        statewide
    ]
    ended = muskego(effective_until=datetime(2025, 1, 1, tzinfo=UTC))
    assert lane_rules_in_force([ended], completion(), state="WI") == []


def test_the_lane_comes_from_the_rule_or_else_from_the_stacks_grant():
    assert lane_for(muskego(), completion(granted_lanes=("BA+30",)), "teacher") == "MA"
    from_stack = muskego(lane=None)
    assert lane_for(from_stack, completion(granted_lanes=("BA+30",)), "teacher") == "BA+30"
    assert lane_for(from_stack, completion(), "teacher") is None
    coaches = muskego(eligible_roles=frozenset({"instructional_coach"}))
    assert lane_for(coaches, completion(), "teacher") is None
    assert lane_for(coaches, completion(), "instructional_coach") == "MA"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"rank": 0}, "rank"),
        ({"rank": True}, "rank"),
        ({"version": 0}, "version"),
        ({"state": "Wisconsin"}, "state"),
        ({"lane": "  "}, "blank"),
        ({"lane": None, "stack_ids": frozenset()}, "stack_ids"),
        ({"effective_from": datetime(2020, 1, 1)}, "timezone"),
        ({"effective_until": SINCE_2020}, "after"),
    ],
)
def test_unusable_rules_are_refused(changes, message):
    with pytest.raises(InvalidRule, match=message):
        muskego(**changes)


def test_the_lane_is_the_highest_ranked_standing_grant_in_any_order():
    grants = [
        LaneGrant("g-ba15", "BA+15", 1, 1),
        LaneGrant("g-ma", "MA", 3, 2),
        LaneGrant("g-ba30", "BA+30", 2, 3),
    ]
    for order in itertools.permutations(grants):
        assert effective_lane(order) == grants[1]
    assert effective_lane([]) is None
    # The same rank granted again later: the later grant holds the lane.
    again = LaneGrant("g-ma-2", "MA", 3, 4)
    assert effective_lane([*grants, again]) == again
    # Reversing the top grant falls back to the next one, not to the contract lane.
    assert effective_lane([grants[0], grants[2]]) == grants[2]


def test_rules_survive_their_json_storage():
    rule = muskego(
        lane=None,
        eligible_roles=frozenset({"teacher"}),
        effective_until=datetime(2030, 1, 1, tzinfo=UTC),
    )
    assert lane_rule_from_json(lane_rule_to_json(rule)) == rule


def test_grant_and_change_ids_are_deterministic():
    assert lane_grant_id("stc-1", "r") == lane_grant_id("stc-1", "r")
    assert lane_grant_id("stc-1", "r") != lane_grant_id("stc-2", "r")
    grant = lane_grant_id("stc-1", "r")
    assert lane_change_id(grant, "stack_completed") != lane_change_id(
        grant, "stack_completion_reversed"
    )
