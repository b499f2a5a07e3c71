"""Salary-lane rules as versioned data, and which lane an educator is on.

A salary-lane rule belongs to a state (every district of it) or to one district, like a stipend
rule, and is versioned the same way (a change is a new version; the version in force on the
completion date applies). It says: completing one of these stacks moves the educator to this
lane of the district's salary schedule (Muskego-Norway: 30 MCs = the advanced-degree lane). The
lane is named by the rule, or, if the rule names none, taken from the stack's own
``salary_lane`` grant.

Lanes are ordered by ``rank`` (the rule says where its lane sits in the schedule). An educator's
lane in a district is the highest-ranked lane among their *standing* grants there (a grant whose
completion was not reversed); ties go to the later grant. So a completion that grants a lower
lane than one already held changes nothing now but still counts if the higher one is reversed,
and the result never depends on the order events arrive in. ``None`` is the educator's contract
lane: no micro-credential lane at all.

Everything here is pure; the service layer keeps grants and lane changes append-only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from compensation.domain.rules import InvalidRule


@dataclass(frozen=True)
class SalaryLaneRule:
    """One version of a salary-lane rule."""

    rule_id: str
    version: int
    name: str
    state: str
    rank: int
    """Where ``lane`` sits in the district's schedule: higher pays more."""
    effective_from: datetime
    lane: str | None = None
    """The lane the educator moves to; None: the lane the stack's ``salary_lane`` grant names."""
    effective_until: datetime | None = None
    district_id: str | None = None
    """None: the rule applies in every district of ``state``."""
    stack_ids: frozenset[str] = frozenset()
    """Stacks whose completion moves the lane; empty: every stack with a salary_lane grant."""
    eligible_roles: frozenset[str] = frozenset()
    """Roster roles that qualify; empty: every role."""

    def __post_init__(self) -> None:
        if not self.rule_id:
            raise InvalidRule("rule_id is required")
        if isinstance(self.version, bool) or not isinstance(self.version, int) or self.version < 1:
            raise InvalidRule("version must be a positive integer")
        if isinstance(self.rank, bool) or not isinstance(self.rank, int) or self.rank < 1:
            raise InvalidRule("rank must be a positive integer")
        if len(self.state) != 2 or not self.state.isupper():
            raise InvalidRule("state must be a two-letter postal code, e.g. 'WI'")
        if self.lane is not None and not self.lane.strip():
            raise InvalidRule("lane must not be blank (omit it to use the stack's grant)")
        if self.lane is None and not self.stack_ids:
            # Otherwise one rank would be given to whatever lane any stack names.
            raise InvalidRule("a rule that takes the lane from the stack names its stack_ids")
        for moment in (self.effective_from, self.effective_until):
            if moment is not None and moment.utcoffset() is None:
                raise InvalidRule("effective dates must be timezone-aware")
        if self.effective_until is not None and self.effective_until <= self.effective_from:
            raise InvalidRule("effective_until must be after effective_from")

    def in_force_at(self, at: datetime) -> bool:
        return self.effective_from <= at and (
            self.effective_until is None or at < self.effective_until
        )


@dataclass(frozen=True)
class Completion:
    """A completed stack, as far as salary lanes care."""

    completion_id: str
    stack_id: str
    educator_id: str
    district_id: str
    completed_at: datetime
    granted_lanes: tuple[str, ...] = ()
    """The lanes the stack's ``salary_lane`` grants name (usually none or one)."""


def lane_rules_in_force(
    rules: Iterable[SalaryLaneRule], completion: Completion, *, state: str
) -> list[SalaryLaneRule]:
    """For each rule id, the version in force on the completion date, if it covers the stack.
    Sorted by rule id (a stable order for grants and locks)."""
    chosen: dict[str, SalaryLaneRule] = {}
    for rule in rules:
        if rule.state != state:
            continue
        if rule.district_id is not None and rule.district_id != completion.district_id:
            continue
        if not rule.in_force_at(completion.completed_at):
            continue
        current = chosen.get(rule.rule_id)
        if current is None or rule.version > current.version:
            chosen[rule.rule_id] = rule
    return [
        rule
        for _, rule in sorted(chosen.items())
        if not rule.stack_ids or completion.stack_id in rule.stack_ids
    ]


def lane_for(rule: SalaryLaneRule, completion: Completion, role: str | None) -> str | None:
    """The lane ``rule`` grants for ``completion`` to an educator in ``role``; None: none."""
    if rule.eligible_roles and role not in rule.eligible_roles:
        return None
    if rule.lane is not None:
        return rule.lane
    return completion.granted_lanes[0] if completion.granted_lanes else None


@dataclass(frozen=True)
class LaneGrant:
    """A standing lane grant: ``seq`` orders grants by when they were recorded."""

    grant_id: str
    lane: str
    rank: int
    seq: int


def effective_lane(grants: Iterable[LaneGrant]) -> LaneGrant | None:
    """The grant that sets the educator's lane: highest rank, then the latest; None: contract
    lane."""
    return max(grants, key=lambda grant: (grant.rank, grant.seq), default=None)
