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

from compensation.domain import ids
from compensation.domain.versions import (
    InvalidRule,
    check_effective_dates,
    check_identity,
    check_state,
    in_force,
    positive_int,
    versions_in_force,
)
from mc_events.contracts.compensation import SalaryLaneChanged, SalaryLaneChangeReason


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
        check_identity(self)
        if not positive_int(self.rank):
            raise InvalidRule("rank must be a positive integer")
        check_state(self.state, example="WI")
        if self.lane is not None and not self.lane.strip():
            raise InvalidRule("lane must not be blank (omit it to use the stack's grant)")
        if self.lane is None and not self.stack_ids:
            # Otherwise one rank would be given to whatever lane any stack names.
            raise InvalidRule("a rule that takes the lane from the stack names its stack_ids")
        check_effective_dates(self)

    def in_force_at(self, at: datetime) -> bool:
        return in_force(self, at)


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
    in_force_now = versions_in_force(
        rules, state=state, district_id=completion.district_id, at=completion.completed_at
    )
    return [
        rule for rule in in_force_now if not rule.stack_ids or completion.stack_id in rule.stack_ids
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


@dataclass(frozen=True)
class GrantRecord:
    """A lane grant as recorded (append-only): a completion under a rule gave a lane."""

    grant_id: str
    educator_id: str
    district_id: str
    stack_completion_id: str
    stack_id: str
    rule_id: str
    rule_version: int
    lane: str
    rank: int
    granted_at: datetime
    recorded_at: datetime
    seq: int | None = None
    reversed_at: datetime | None = None
    """When its completion was reversed (None: the grant stands, or was not read with it)."""
    reversal_reason: str | None = None


def grant_for(
    rule: SalaryLaneRule, completion: Completion, role: str | None, now: datetime
) -> GrantRecord | None:
    """The grant ``rule`` gives for ``completion`` to an educator in ``role``; None: none."""
    lane = lane_for(rule, completion, role)
    if lane is None:
        return None
    return GrantRecord(
        grant_id=ids.lane_grant_id(completion.completion_id, rule.rule_id),
        educator_id=completion.educator_id,
        district_id=completion.district_id,
        stack_completion_id=completion.completion_id,
        stack_id=completion.stack_id,
        rule_id=rule.rule_id,
        rule_version=rule.version,
        lane=lane,
        rank=rule.rank,
        granted_at=completion.completed_at,
        recorded_at=now,
    )


def lane_of(grant: LaneGrant | None) -> str | None:
    """The lane ``grant`` sets; None: the contract lane."""
    return grant.lane if grant is not None else None


@dataclass(frozen=True)
class LaneChange:
    """One move of an educator's lane in a district (append-only history, in ``seq`` order)."""

    change_id: str
    educator_id: str
    district_id: str
    from_lane: str | None
    to_lane: str | None
    reason: str
    grant_id: str
    stack_completion_id: str
    stack_id: str
    rule_id: str
    rule_version: int
    reverts_change_id: str | None
    effective_at: datetime
    recorded_at: datetime
    seq: int | None = None

    @classmethod
    def by(
        cls,
        grant: GrantRecord,
        *,
        from_lane: str | None,
        to_lane: str | None,
        reason: SalaryLaneChangeReason,
        reverts: str | None,
        effective_at: datetime,
        now: datetime,
    ) -> LaneChange:
        """The change ``grant`` makes (granted, or reversed: one change id per direction)."""
        return cls(
            change_id=ids.lane_change_id(grant.grant_id, reason.value),
            educator_id=grant.educator_id,
            district_id=grant.district_id,
            from_lane=from_lane,
            to_lane=to_lane,
            reason=reason.value,
            grant_id=grant.grant_id,
            stack_completion_id=grant.stack_completion_id,
            stack_id=grant.stack_id,
            rule_id=grant.rule_id,
            rule_version=grant.rule_version,
            reverts_change_id=reverts,
            effective_at=effective_at,
            recorded_at=now,
        )

    def changed(self) -> SalaryLaneChanged:
        """``SalaryLaneChanged`` for this change."""
        return SalaryLaneChanged(
            lane_change_id=self.change_id,
            educator_id=self.educator_id,
            district_id=self.district_id,
            from_lane=self.from_lane,
            to_lane=self.to_lane,
            reason=SalaryLaneChangeReason(self.reason),
            stack_completion_id=self.stack_completion_id,
            stack_id=self.stack_id,
            rule_id=self.rule_id,
            rule_version=self.rule_version,
            reverts_lane_change_id=self.reverts_change_id,
            effective_at=self.effective_at,
            changed_at=self.recorded_at,
        )


@dataclass(frozen=True)
class EducatorLanes:
    """An educator's lane history and grants (a district admin's view: their district's)."""

    educator_id: str
    changes: list[LaneChange]
    """Oldest first."""
    grants: list[GrantRecord]

    @property
    def current_lanes(self) -> dict[str, str | None]:
        """District id -> the lane now (the last change per district; None: contract lane)."""
        current: dict[str, str | None] = {}
        for change in self.changes:
            current[change.district_id] = change.to_lane
        return current
