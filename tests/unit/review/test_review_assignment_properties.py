"""Property: over random rosters, districts, schools, supervision chains and capacities, no
assignment breaks a conflict rule or a capacity, and an assignment is made whenever an eligible
assessor exists. The oracle below recomputes eligibility independently (graph reachability over
supervision edges) rather than calling the rules under test."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from review.domain.assignment import (
    Assessor,
    CalibrationStatus,
    Qualification,
    QualificationKind,
    SubmissionFacts,
    choose_assessors,
)
from review.domain.conflicts import AssessorLinks, EducatorFacts

DISTRICTS = [f"d{i}" for i in range(4)]
SCHOOLS = [f"s{i}" for i in range(6)]
MCS = ["mc-a", "mc-b"]


@dataclass(frozen=True)
class World:
    roster: dict[str, EducatorFacts]
    assessors: list[Assessor]
    loads: dict[str, int]
    submission: SubmissionFacts
    count: int


@st.composite
def worlds(draw: st.DrawFn) -> World:
    n = draw(st.integers(1, 12))
    ids = [f"e{i}" for i in range(n)]
    roster = {}
    for eid in ids:
        # Any supervisor at all, including cycles and self-loops from bad HR data.
        roster[eid] = EducatorFacts(
            educator_id=eid,
            district_id=draw(st.sampled_from(DISTRICTS)),
            school_id=draw(st.none() | st.sampled_from(SCHOOLS)),
            supervisor_id=draw(st.none() | st.sampled_from(ids)),
        )
    assessors = []
    for i in range(draw(st.integers(0, 8))):
        assessors.append(
            Assessor(
                links=AssessorLinks(
                    assessor_id=f"a{i}",
                    district_id=draw(st.sampled_from(DISTRICTS)),
                    educator_id=draw(st.none() | st.sampled_from(ids)),
                    school_id=draw(st.none() | st.sampled_from(SCHOOLS)),
                    supervises=frozenset(draw(st.lists(st.sampled_from(ids), max_size=2))),
                ),
                qualifications=frozenset(
                    Qualification(QualificationKind.MICRO_CREDENTIAL, m)
                    for m in draw(st.lists(st.sampled_from(MCS), max_size=2))
                ),
                calibration=draw(st.sampled_from(list(CalibrationStatus))),
                weekly_capacity=draw(st.integers(0, 4)),
                active=draw(st.booleans()),
            )
        )
    loads = {a.assessor_id: draw(st.integers(0, 5)) for a in assessors}
    educator = roster[draw(st.sampled_from(ids))]
    submission = SubmissionFacts(educator=educator, micro_credential_id=draw(st.sampled_from(MCS)))
    return World(roster, assessors, loads, submission, draw(st.integers(1, 2)))


def supervises_edges(world: World, assessor: Assessor) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for e in world.roster.values():
        if e.supervisor_id is not None:
            edges.setdefault(e.supervisor_id, set()).add(e.educator_id)
    for person in assessor.links.identities:
        edges.setdefault(person, set()).update(assessor.links.supervises)
    return edges


def above(world: World, assessor: Assessor, educator_id: str) -> bool:
    edges = supervises_edges(world, assessor)
    seen: set[str] = set()
    frontier = [child for person in assessor.links.identities for child in edges.get(person, set())]
    while frontier:
        node = frontier.pop()
        if node == educator_id:
            return True
        if node not in seen:
            seen.add(node)
            frontier.extend(edges.get(node, set()))
    return False


def oracle_conflict(world: World, assessor: Assessor) -> bool:
    educator = world.submission.educator
    links = assessor.links
    return (
        educator.educator_id in links.identities
        or links.district_id == educator.district_id
        or (links.school_id is not None and links.school_id == educator.school_id)
        or above(world, assessor, educator.educator_id)
    )


def oracle_eligible(world: World, assessor: Assessor) -> bool:
    qualified = (
        Qualification(QualificationKind.MICRO_CREDENTIAL, world.submission.micro_credential_id)
        in assessor.qualifications
    )
    return (
        assessor.active
        and assessor.calibration is CalibrationStatus.CALIBRATED
        and qualified
        and world.loads[assessor.assessor_id] < assessor.weekly_capacity
        and not oracle_conflict(world, assessor)
    )


def choose(world: World) -> list[Assessor]:
    supervisor_of = {e.educator_id: e.supervisor_id for e in world.roster.values()}
    return choose_assessors(
        world.submission, world.assessors, world.loads, supervisor_of, count=world.count
    )


@settings(max_examples=250, deadline=None)
@given(worlds())
def test_no_assignment_breaks_a_conflict_rule_or_capacity(world: World) -> None:
    for assessor in choose(world):
        assert not oracle_conflict(world, assessor)
        assert world.loads[assessor.assessor_id] < assessor.weekly_capacity
        assert oracle_eligible(world, assessor)


@settings(max_examples=250, deadline=None)
@given(worlds())
def test_an_assignment_is_made_whenever_an_eligible_assessor_exists(world: World) -> None:
    eligible = [a for a in world.assessors if oracle_eligible(world, a)]
    chosen = choose(world)
    assert len(chosen) == min(world.count, len(eligible))
    assert len({a.assessor_id for a in chosen}) == len(chosen)


@settings(max_examples=150, deadline=None)
@given(worlds())
def test_the_least_loaded_eligible_assessor_is_chosen_first(world: World) -> None:
    eligible = [a for a in world.assessors if oracle_eligible(world, a)]
    chosen = choose(world)
    if eligible:
        share = min(world.loads[a.assessor_id] / a.weekly_capacity for a in eligible)
        first = chosen[0]
        assert world.loads[first.assessor_id] / first.weekly_capacity == share
