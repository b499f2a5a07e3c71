"""Who of the assessors may read a submission's evidence: holders of an assignment review has
not released. The rule is a function of two growing sets, so any arrival order and any
redelivery of the events that fill them gives the same answer."""

from __future__ import annotations

from itertools import permutations

from enrollment.domain.evidence import AssessorAssignment, assessor_may_read

OLD = AssessorAssignment("a1", "as-old")
NEW = AssessorAssignment("a2", "as-new")


def test_an_assigned_assessor_may_read_and_nobody_else():
    assert assessor_may_read("as-old", [OLD], set())
    assert not assessor_may_read("as-other", [OLD], set())
    assert not assessor_may_read("as-old", [], set())


def test_a_released_assignment_gives_no_access():
    assert not assessor_may_read("as-old", [OLD, NEW], {"a1"})
    assert assessor_may_read("as-new", [OLD, NEW], {"a1"})


def test_a_release_recorded_before_its_assignment_still_wins():
    released = {"a1"}  # the escalation came first
    assert not assessor_may_read("as-old", [], released)
    assert not assessor_may_read("as-old", [OLD], released)  # the late review.assigned


def test_another_unreleased_assignment_of_the_same_assessor_still_gives_access():
    approver = AssessorAssignment("ap", "as-old")
    assert assessor_may_read("as-old", [OLD, approver], {"a1"})
    assert not assessor_may_read("as-old", [OLD, approver], {"a1", "ap"})


def test_any_order_and_any_redelivery_of_the_events_gives_the_same_access():
    events = [("assigned", OLD), ("released", OLD), ("assigned", NEW), ("assigned", OLD)]
    outcomes = set()
    for order in permutations(events):
        held: list[AssessorAssignment] = []
        released: set[str] = set()
        for kind, assignment in order:
            if kind == "assigned":
                held.append(assignment)
            else:
                released.add(assignment.assignment_id)
        outcomes.add(tuple(assessor_may_read(a, held, released) for a in ("as-old", "as-new")))
    assert outcomes == {(False, True)}
