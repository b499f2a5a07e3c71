"""Measures computed from counts agree with the pair-by-pair definitions; a reassignment (the
overdue sweep's choice, which excludes everyone who held the submission) keeps every
assignment rule; the calibration drift report; the new contracts refuse inconsistent payloads."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from test_review_assignment_properties import World, oracle_eligible, worlds

from mc_events.contracts.common import CriterionResult
from mc_events.contracts.review import (
    AssignmentEscalated,
    Decided,
    EscalationOutcome,
    MisconductKind,
    ReviewOutcome,
)
from review.domain.assignment import choose_assessors
from review.domain.calibration import agreement_of
from review.domain.measures import (
    CalibrationRun,
    Period,
    agreement_from_counts,
    calibration_drift,
    mean_attempt,
    period_start,
    ratio,
)

LEVELS = st.sampled_from(["l1", "l2", "l3"])
T0 = datetime(2026, 3, 2, 15, tzinfo=UTC)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(LEVELS, LEVELS), max_size=30))
def test_agreement_from_counts_equals_agreement_of_the_pairs(pairs: list[tuple[str, str]]) -> None:
    counts: dict[tuple[str, str], int] = {}
    for pair in pairs:
        counts[pair] = counts.get(pair, 0) + 1
    assert agreement_from_counts(counts) == agreement_of(pairs)


def test_kappa_of_a_known_table() -> None:
    # 3 of 4 alike; chance agreement 1/2: kappa 1/2.
    result = agreement_from_counts({("l2", "l2"): 2, ("l2", "l1"): 1, ("l1", "l1"): 1})
    assert (result.samples, result.agreement, result.kappa) == (4, Fraction(3, 4), Fraction(1, 2))


def test_rates_and_means_without_data_are_none() -> None:
    assert ratio(0, 0) is None
    assert ratio(1, 3) == Fraction(1, 3)
    assert mean_attempt({}) is None
    assert mean_attempt({1: 2, 3: 1}) == Fraction(5, 3)


@settings(max_examples=250, deadline=None)
@given(worlds(), st.data())
def test_a_reassignment_never_goes_back_to_a_holder_nor_breaks_a_rule(
    world: World, data: st.DataObject
) -> None:
    ids = [a.assessor_id for a in world.assessors]
    held = set(data.draw(st.lists(st.sampled_from(ids), max_size=3))) if ids else set()
    supervisor_of = {e.educator_id: e.supervisor_id for e in world.roster.values()}
    chosen = choose_assessors(
        world.submission, world.assessors, world.loads, supervisor_of, count=1, exclude=held
    )
    eligible = [
        a for a in world.assessors if oracle_eligible(world, a) and a.assessor_id not in held
    ]
    assert len(chosen) == min(1, len(eligible))
    for assessor in chosen:
        assert assessor.assessor_id not in held
        assert oracle_eligible(world, assessor)


def _escalation(**fields: object) -> AssignmentEscalated:
    base: dict[str, object] = {
        "escalation_id": "e",
        "enrollment_id": "enr",
        "submission_id": "sub",
        "attempt": 1,
        "micro_credential_id": "mc",
        "overdue_assignment_id": "a1",
        "overdue_assessor_id": "x",
        "due_at": T0,
        "outcome": EscalationOutcome.REASSIGNED,
        "reassigned_assignment_id": "a2",
        "reassigned_to": "y",
        "escalated_at": T0,
    }
    return AssignmentEscalated.model_validate(base | fields)


def test_an_escalation_names_the_new_assessor_exactly_when_reassigned() -> None:
    assert _escalation().reassigned_to == "y"
    stuck = _escalation(
        outcome=EscalationOutcome.NEEDS_STATE_ADMIN,
        reassigned_assignment_id=None,
        reassigned_to=None,
    )
    assert stuck.reassigned_to is None
    with pytest.raises(ValidationError):
        _escalation(reassigned_to=None)
    with pytest.raises(ValidationError):
        _escalation(outcome=EscalationOutcome.NEEDS_STATE_ADMIN)


def test_a_misconduct_decision_is_never_a_pass() -> None:
    def decided(outcome: ReviewOutcome, met: bool) -> Decided:
        return Decided(
            decision_id="d",
            enrollment_id="enr",
            submission_id="sub",
            attempt=1,
            educator_id="edu",
            district_id="lea",
            micro_credential_id="mc",
            micro_credential_version=1,
            outcome=outcome,
            results=(CriterionResult(criterion_id="c1", achieved_level_id="l1", met=met),),
            assessor_ids=("a",),
            decided_at=T0,
            misconduct=MisconductKind.PLAGIARISM,
        )

    assert decided(ReviewOutcome.NOT_EARNED, False).misconduct is MisconductKind.PLAGIARISM
    with pytest.raises(ValidationError):
        decided(ReviewOutcome.PASSED, True)
    with pytest.raises(ValidationError):
        decided(ReviewOutcome.REVISION_REQUESTED, False)


def test_calibration_drift_per_month_and_per_assessor() -> None:
    def run(day: int, month: int, who: str, agreement: str, calibrated: bool) -> CalibrationRun:
        at = datetime(2026, month, day, tzinfo=UTC)
        return CalibrationRun(who, at, Decimal(agreement), None, calibrated)

    periods, assessors = calibration_drift(
        [
            run(10, 1, "a", "0.9", True),
            run(1, 2, "b", "1.0", True),
            run(5, 2, "a", "0.7", False),
            run(20, 2, "a", "0.8", True),
        ],
        Period.MONTH,
    )
    assert [
        (p.period_start.month, p.runs, p.assessors, p.mean_agreement, p.passed) for p in periods
    ] == [
        (1, 1, 1, Decimal("0.9000"), 1),
        (2, 3, 2, Decimal("0.8333"), 2),
    ]
    assert periods[0].mean_kappa is None
    a, b = assessors
    assert (a.first_agreement, a.latest_agreement) == (Decimal("0.9"), Decimal("0.8"))
    assert (a.change_since_previous, a.change_since_first) == (Decimal("0.1"), Decimal("-0.1"))
    assert (b.runs, b.change_since_previous) == (1, None)


def test_weeks_start_on_monday() -> None:
    thursday = datetime(2026, 2, 5, 12, tzinfo=UTC)
    assert period_start(thursday, Period.WEEK).isoformat() == "2026-02-02"
    assert period_start(thursday, Period.MONTH).isoformat() == "2026-02-01"
