"""The Review aggregate without I/O: each step checks its rules, changes the review and records
what happened (events to publish, entries for the educator's audit chain)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mc_events.contracts.review import (
    Assigned,
    AssignmentEscalated,
    Decided,
    EscalationOutcome,
    MisconductKind,
    RevocationRequested,
)
from mc_platform.refusals import Conflict, Forbidden, Invalid, NotFound
from review.domain.conflicts import AssessorLinks, EducatorFacts
from review.domain.review import (
    APPROVER_SLOT,
    AssignmentStatus,
    CaseStatus,
    Effect,
    Review,
    ReviewStatus,
    assignment_id,
    decision_id,
    escalation_id,
    late_reassignment_event_id,
    revocation_request_id,
)
from review.domain.scoring import Criterion, InvalidScores, Outcome, Rubric, Score

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
DUE = NOW + timedelta(days=7)
RUBRIC = Rubric((Criterion("c1", ("l1", "l2"), "l2"),), attempt_cap=3)
NO_ROSTER: dict[str, str | None] = {}


def review(raters: int = 1, *assessors: str) -> Review:
    """A new review, its slots given to ``assessors``; what that recorded is forgotten."""
    new = Review(
        submission_id="sub-1",
        enrollment_id="enr-1",
        attempt=1,
        educator=EducatorFacts("edu-1", "lea-home"),
        micro_credential_id="mc-1",
        micro_credential_version=1,
        raters_required=raters,
        status=ReviewStatus.AWAITING_ASSESSOR,
        submitted_at=NOW - timedelta(hours=1),
        received_at=NOW,
        artifacts=(),
        loaded_cases=[],
    )
    new.assign(assessors, now=NOW, due_at=DUE)
    new.take_recorded()
    return new


def links(assessor_id: str, district_id: str = "lea-far") -> AssessorLinks:
    return AssessorLinks(assessor_id=assessor_id, district_id=district_id)


def score(r: Review, assessor_id: str, level: str, feedback: str = "") -> Decided | None:
    held = next(a for a in r.assignments if a.assessor_id == assessor_id)
    return r.score(held.assignment_id, {"c1": Score(level, feedback)}, RUBRIC, now=NOW)


def recorded(r: Review) -> tuple[list[tuple[type, str]], list[str]]:
    events, entries = r.take_recorded()
    return [(type(e.event), e.event_id) for e in events], [e.action for e in entries]


# -- assignment ------------------------------------------------------------------------------


def test_assigning_fills_the_free_slots_and_records_one_assigned_per_assessor():
    r = review(2)
    assert r.status is ReviewStatus.AWAITING_ASSESSOR
    assert [a.assessor_id for a in r.assign(["a"], now=NOW, due_at=DUE)] == ["a"]
    assert r.status is ReviewStatus.AWAITING_ASSESSOR  # one slot still free
    assert r.free_slots() == [2]
    r.assign(["b"], now=NOW, due_at=DUE)
    assert r.status is ReviewStatus.IN_REVIEW
    assert [(a.slot, a.generation, a.assignment_id) for a in r.assignments] == [
        (1, 1, assignment_id("sub-1", 1)),
        (2, 1, assignment_id("sub-1", 2)),
    ]
    assert recorded(r) == (
        [(Assigned, assignment_id("sub-1", 1)), (Assigned, assignment_id("sub-1", 2))],
        [],
    )
    assert r.assign(["c"], now=NOW, due_at=DUE) == []  # in review: nothing to assign


# -- scoring and decision --------------------------------------------------------------------


def test_a_single_rater_decides_with_its_event_and_audit_entry():
    r = review(1, "a")
    decision = score(r, "a", "l2", "Good.")
    assert decision is not None
    assert decision.outcome.value == "passed"
    assert (r.status, r.outcome, r.decision_id) == (
        ReviewStatus.DECIDED,
        Outcome.PASSED,
        decision_id("sub-1"),
    )
    assert r.assignments[0].status is AssignmentStatus.SCORED
    assert [(k.criterion_id, k.met) for k in r.results or ()] == [("c1", True)]
    events, entries = r.take_recorded()
    assert [(e.event_id, e.time) for e in events] == [(decision_id("sub-1"), NOW)]
    (entry,) = entries
    assert (entry.actor, entry.action, entry.chain) == ("a", "review.decided", "educator:edu-1")
    assert entry.details["results"] == {"c1": "l2"}


def test_scores_are_refused_when_the_assignment_or_review_is_not_open_or_do_not_fit():
    r = review(1, "a")
    held = r.assignments[0].assignment_id
    with pytest.raises(InvalidScores) as invalid:
        r.score(held, {"c1": Score("l9")}, RUBRIC, now=NOW)
    assert isinstance(invalid.value, Invalid)
    assert invalid.value.status == 422
    with pytest.raises(Conflict, match="rubric of this micro-credential version is not known"):
        r.score(held, {"c1": Score("l2")}, None, now=NOW)
    score(r, "a", "l2")
    with pytest.raises(Conflict, match="this assignment is scored, not open"):
        score(r, "a", "l2")
    with pytest.raises(NotFound, match="no such assignment"):
        r.score("nothing", {"c1": Score("l2")}, RUBRIC, now=NOW)


def test_two_raters_who_disagree_wait_for_an_approver_who_decides():
    r = review(2, "a", "b")
    assert score(r, "a", "l2") is None
    assert r.status is ReviewStatus.IN_REVIEW
    assert score(r, "b", "l1") is None
    assert r.status is ReviewStatus.AWAITING_APPROVER
    assert recorded(r) == ([], [])

    with pytest.raises(Forbidden, match="not on the assessor roster"):
        r.approve(None, NO_ROSTER, {"c1": Score("l2")}, RUBRIC, now=NOW)
    with pytest.raises(Forbidden, match="a rater of this submission"):
        r.approve(links("a"), NO_ROSTER, {"c1": Score("l2")}, RUBRIC, now=NOW)
    with pytest.raises(Forbidden, match="conflict of interest"):
        r.approve(links("x", "lea-home"), NO_ROSTER, {"c1": Score("l2")}, RUBRIC, now=NOW)

    decision = r.approve(links("lead"), NO_ROSTER, {"c1": Score("l1", "Not yet.")}, RUBRIC, now=NOW)
    assert (decision.approver_id, decision.assessor_ids) == ("lead", ("a", "b"))
    assert decision.outcome.value == "revision_requested"
    approver = r.assignments[0]  # assignments are in slot order, the approver's is slot 0
    assert (approver.slot, approver.status, approver.assessor_id) == (
        APPROVER_SLOT,
        AssignmentStatus.SCORED,
        "lead",
    )
    assert recorded(r)[1] == ["review.decided"]
    with pytest.raises(Conflict, match="not awaiting an approver"):
        r.approve(links("lead"), NO_ROSTER, {"c1": Score("l2")}, RUBRIC, now=NOW)


def test_raters_who_agree_decide_with_both_feedbacks():
    r = review(2, "a", "b")
    score(r, "a", "l2", "One.")
    decision = score(r, "b", "l2", "Two.")
    assert decision is not None
    assert decision.results[0].feedback == "One.\n\nTwo."
    assert decision.assessor_ids == ("a", "b")


# -- misconduct ------------------------------------------------------------------------------


def flagged(r: Review, assessor_id: str = "a", case_id: str = "case-1"):
    held = next(a for a in r.assignments if a.assessor_id == assessor_id)
    return r.flag(
        held.assignment_id,
        assessor_id,
        case_id=case_id,
        kind=MisconductKind.PLAGIARISM,
        detail="Copied.",
        now=NOW,
    )


def test_a_flag_holds_the_review_and_one_flag_at_a_time_reaches_an_approver():
    r = review(1, "a")
    case = flagged(r)
    assert (case.status, case.review_status_before) == (CaseStatus.OPEN, ReviewStatus.IN_REVIEW)
    assert r.status is ReviewStatus.MISCONDUCT_HOLD
    assert recorded(r) == ([], ["review.misconduct_flagged"])
    with pytest.raises(Conflict, match="already with an approver"):
        flagged(r, case_id="case-2")
    with pytest.raises(Conflict, match="misconduct_hold, not in review"):
        score(r, "a", "l2")


def rule(r: Review, approver_id: str, *, confirmed: bool, finding: str = "", now: datetime = NOW):
    """``approver_id`` rules on case-1; anyone but "nobody" is on the roster, with no link to
    the submission other than holding it."""
    record = None if approver_id == "nobody" else links(approver_id)
    return r.rule(
        "case-1",
        approver_id,
        record,
        NO_ROSTER,
        confirmed=confirmed,
        finding=finding,
        rubric=RUBRIC,
        now=now,
    )


def test_a_dismissal_continues_the_review_and_moves_open_due_dates_by_the_hold():
    r = review(1, "a")
    flagged(r)
    later = NOW + timedelta(days=2, hours=3)
    with pytest.raises(Forbidden, match="an assessor of this submission"):
        rule(r, "a", confirmed=False, now=later)
    with pytest.raises(Forbidden, match="not on the assessor roster"):
        rule(r, "nobody", confirmed=False, now=later)
    ruling = rule(r, "lead", confirmed=False, now=later)
    assert (ruling.case.status, ruling.case.effect) == (
        CaseStatus.DISMISSED,
        Effect.REVIEW_CONTINUES,
    )
    assert r.status is ReviewStatus.IN_REVIEW
    assert r.assignments[0].due_at == DUE + timedelta(days=2, hours=3)
    with pytest.raises(Conflict, match="the case is already dismissed"):
        rule(r, "lead", confirmed=True, now=later)


def test_confirmed_before_a_decision_is_not_earned_and_closes_open_assignments():
    r = review(2, "a", "b")
    score(r, "b", "l2")
    flagged(r)
    r.take_recorded()
    ruling = rule(r, "lead", confirmed=True, finding="Verbatim.")
    assert ruling.case.effect is Effect.NOT_EARNED
    decision = ruling.decision
    assert decision is not None
    assert decision.misconduct is MisconductKind.PLAGIARISM
    assert decision.outcome.value == "not_earned"
    assert (
        decision.results[0].feedback == "Not earned: misconduct confirmed (plagiarism). Verbatim."
    )
    assert [a.status for a in r.assignments] == [AssignmentStatus.CLOSED, AssignmentStatus.SCORED]
    assert r.results is None  # nothing kept for the research measures
    assert recorded(r) == (
        [(Decided, decision_id("sub-1"))],
        ["review.decided", "review.misconduct_confirmed"],
    )


def test_confirmed_after_a_pass_requests_a_revocation_once_per_submission():
    r = review(1, "a")
    score(r, "a", "l2")
    flagged(r)
    assert r.status is ReviewStatus.DECIDED  # a decided review is not held
    r.take_recorded()
    ruling = rule(r, "lead", confirmed=True, finding="Copied.")
    assert ruling.case.effect is Effect.REVOCATION_REQUESTED
    assert ruling.revocation is not None
    assert recorded(r) == (
        [(RevocationRequested, revocation_request_id("sub-1"))],
        ["review.misconduct_confirmed"],
    )
    with pytest.raises(Conflict, match="already confirmed"):
        flagged(r, case_id="case-2")


# -- overdue ---------------------------------------------------------------------------------


def test_an_overdue_assignment_is_released_to_a_replacement_and_escalated_once():
    r = review(1, "a")
    overdue = r.assignments[0].assignment_id
    handled = r.reassign_overdue(
        overdue, "b", now=DUE + timedelta(minutes=1), due_at=DUE + timedelta(days=7)
    )
    assert handled.escalated
    assert handled.reassigned is not None
    old, new = r.assignments
    assert (old.status, new.slot, new.generation) == (AssignmentStatus.RELEASED, 1, 2)
    assert new.assignment_id == assignment_id("sub-1", 1, 2)
    assert old.escalation is not None
    assert old.escalation.outcome is EscalationOutcome.REASSIGNED
    assert recorded(r) == (
        [(Assigned, new.assignment_id), (AssignmentEscalated, escalation_id(overdue))],
        ["review.assignment_escalated"],
    )


def test_an_escalation_nobody_could_take_is_announced_again_when_someone_takes_it():
    r = review(1, "a")
    overdue = r.assignments[0].assignment_id
    later = DUE + timedelta(minutes=1)
    handled = r.reassign_overdue(overdue, None, now=later, due_at=later)
    assert handled.escalated
    assert handled.reassigned is None
    assert r.assignments[0].escalation is not None
    assert r.assignments[0].escalation.outcome is EscalationOutcome.NEEDS_STATE_ADMIN
    r.take_recorded()

    assert not r.reassign_overdue(overdue, None, now=later, due_at=later).escalated
    assert recorded(r) == ([], [])

    handled = r.reassign_overdue(overdue, "b", now=later, due_at=later + timedelta(days=7))
    assert not handled.escalated
    assert handled.reassigned is not None
    escalation = r.assignments[0].escalation
    assert escalation is not None
    assert escalation.reassigned_to == "b"
    assert recorded(r) == (
        [
            (Assigned, assignment_id("sub-1", 1, 2)),
            (AssignmentEscalated, late_reassignment_event_id(overdue)),
        ],
        ["review.assignment_reassigned"],
    )
