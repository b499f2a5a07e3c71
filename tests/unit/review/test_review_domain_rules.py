"""Review rules without I/O: conflicts of interest, assignment, SLA, decision, double rating,
calibration."""

from __future__ import annotations

from datetime import UTC, date, datetime
from fractions import Fraction

import pytest

from review.domain.assignment import (
    Assessor,
    CalibrationStatus,
    Ineligibility,
    Qualification,
    QualificationKind,
    SubmissionFacts,
    choose_assessors,
    ineligibility,
)
from review.domain.calibration import Comparison, agreement_of, calibration_reports
from review.domain.conflicts import (
    AssessorLinks,
    ConflictKind,
    EducatorFacts,
    conflicts,
    supervision_chain,
)
from review.domain.scoring import (
    Agreed,
    Criterion,
    InvalidScores,
    NeedsApprover,
    Outcome,
    Score,
    decide,
    reconcile,
    results_of,
)
from review.domain.sla import add_business_days, week_start

EDUCATOR = EducatorFacts("e1", "lea-1", "sch-1", "boss-1")
ROSTER = {"e1": "boss-1", "boss-1": "boss-2", "boss-2": "boss-3", "boss-3": None}


def links(**kw) -> AssessorLinks:
    return AssessorLinks(**{"assessor_id": "a1", "district_id": "lea-9", **kw})


def conflicts_of(assessor: AssessorLinks, educator: EducatorFacts = EDUCATOR):
    return conflicts(assessor, educator, supervision_chain(educator, ROSTER))


# -- conflicts of interest -------------------------------------------------------------------


def test_assessor_from_another_district_and_school_has_no_conflict():
    assert conflicts_of(links()) == frozenset()


def test_same_district_is_a_conflict():
    assert conflicts_of(links(district_id="lea-1")) == {ConflictKind.SAME_DISTRICT}


def test_same_school_is_a_conflict_even_across_districts():
    assert conflicts_of(links(school_id="sch-1")) == {ConflictKind.SAME_SCHOOL}


def test_no_school_on_either_side_is_not_a_school_conflict():
    educator = EducatorFacts("e1", "lea-1", None)
    assert conflicts_of(links(school_id=None), educator) == frozenset()


def test_the_educator_themself_is_a_conflict():
    assert ConflictKind.SELF in conflicts_of(links(educator_id="e1"))
    assert ConflictKind.SELF in conflicts_of(links(assessor_id="e1"))


def test_direct_supervisor_is_a_conflict():
    assert conflicts_of(links(educator_id="boss-1")) == {ConflictKind.SUPERVISION_CHAIN}


def test_supervision_chain_is_transitive():
    assert supervision_chain(EDUCATOR, ROSTER) == {"boss-1", "boss-2", "boss-3"}
    assert conflicts_of(links(educator_id="boss-3")) == {ConflictKind.SUPERVISION_CHAIN}


def test_declared_supervision_on_the_assessor_roster_is_a_conflict():
    assert conflicts_of(links(supervises=frozenset({"e1"}))) == {ConflictKind.SUPERVISION_CHAIN}
    # Supervising the educator's supervisor puts the assessor above the educator too.
    assert conflicts_of(links(supervises=frozenset({"boss-2"}))) == {ConflictKind.SUPERVISION_CHAIN}


def test_someone_the_educator_supervises_is_not_in_the_chain():
    roster = {**ROSTER, "junior": "e1"}
    chain = supervision_chain(EDUCATOR, roster)
    assert conflicts(links(educator_id="junior"), EDUCATOR, chain) == frozenset()


def test_submission_supervisor_wins_over_the_roster_for_the_educator():
    educator = EducatorFacts("e1", "lea-1", None, supervisor_id="new-boss")
    assert supervision_chain(educator, {"e1": "boss-1", "new-boss": "boss-9"}) == {
        "new-boss",
        "boss-9",
    }


def test_a_supervision_cycle_in_bad_hr_data_ends_the_walk():
    educator = EducatorFacts("e1", "lea-1", None, supervisor_id="x")
    assert supervision_chain(educator, {"x": "y", "y": "x"}) == {"x", "y"}
    assert supervision_chain(educator, {"x": "e1"}) == {"x"}


# -- assignment ------------------------------------------------------------------------------

MC = "mc-wait-time"
QUALIFIED = frozenset({Qualification(QualificationKind.MICRO_CREDENTIAL, MC)})


def assessor(assessor_id: str, **kw) -> Assessor:
    defaults = {
        "links": AssessorLinks(assessor_id=assessor_id, district_id=kw.pop("district", "lea-9")),
        "qualifications": QUALIFIED,
        "calibration": CalibrationStatus.CALIBRATED,
        "weekly_capacity": 5,
    }
    return Assessor(**{**defaults, **kw})


SUBMISSION = SubmissionFacts(EDUCATOR, MC, competency="wait-time")


def test_least_loaded_by_share_of_capacity_is_chosen():
    pool = [assessor("a", weekly_capacity=10), assessor("b", weekly_capacity=2)]
    chosen = choose_assessors(SUBMISSION, pool, {"a": 4, "b": 1}, ROSTER)
    assert [a.assessor_id for a in chosen] == ["a"]  # 40 % used beats 50 %


def test_ties_break_by_assessor_id_for_a_deterministic_choice():
    pool = [assessor("b"), assessor("a")]
    assert [a.assessor_id for a in choose_assessors(SUBMISSION, pool, {}, ROSTER)] == ["a"]


def test_two_raters_are_distinct_and_exclusions_are_honoured():
    pool = [assessor("a"), assessor("b"), assessor("c")]
    chosen = choose_assessors(SUBMISSION, pool, {}, ROSTER, count=2, exclude={"a"})
    assert [a.assessor_id for a in chosen] == ["b", "c"]


@pytest.mark.parametrize(
    ("candidate", "load", "reason"),
    [
        (assessor("a", calibration=CalibrationStatus.NEEDS_RECALIBRATION), 0, "not_calibrated"),
        (assessor("a", qualifications=frozenset()), 0, "not_qualified"),
        (assessor("a", weekly_capacity=3), 3, "at_capacity"),
        (assessor("a", district="lea-1"), 0, "conflict"),
        (assessor("a", active=False), 0, "inactive"),
    ],
)
def test_ineligible_assessors_are_never_chosen(candidate, load, reason):
    assert ineligibility(candidate, SUBMISSION, load=load, chain=frozenset()) == {
        Ineligibility(reason)
    }
    assert choose_assessors(SUBMISSION, [candidate], {"a": load}, ROSTER) == []


def test_a_competency_qualification_covers_every_mc_of_that_competency():
    by_competency = assessor(
        "a", qualifications=frozenset({Qualification(QualificationKind.COMPETENCY, "wait-time")})
    )
    assert choose_assessors(SUBMISSION, [by_competency], {}, ROSTER) == [by_competency]
    other = SubmissionFacts(EDUCATOR, "other-mc", competency="questioning")
    assert choose_assessors(other, [by_competency], {}, ROSTER) == []


# -- SLA -------------------------------------------------------------------------------------


def test_five_business_days_from_friday_is_next_friday():
    friday = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)
    assert add_business_days(friday, 5) == datetime(2026, 3, 13, 15, 0, tzinfo=UTC)


def test_submission_on_saturday_counts_from_monday():
    saturday = datetime(2026, 3, 7, 9, 0, tzinfo=UTC)
    assert add_business_days(saturday, 1) == datetime(2026, 3, 9, 9, 0, tzinfo=UTC)


def test_holidays_are_skipped():
    friday = datetime(2026, 5, 22, 12, 0, tzinfo=UTC)  # before Memorial Day (Mon 25th)
    holidays = {date(2026, 5, 25)}
    assert add_business_days(friday, 1, holidays) == datetime(2026, 5, 26, 12, 0, tzinfo=UTC)


def test_weekly_capacity_counts_from_monday_midnight():
    sunday_night = datetime(2026, 3, 8, 23, 59, tzinfo=UTC)
    assert week_start(sunday_night) == datetime(2026, 3, 2, tzinfo=UTC)
    assert week_start(datetime(2026, 3, 9, 0, 0, tzinfo=UTC)) == datetime(2026, 3, 9, tzinfo=UTC)


def test_sla_needs_an_aware_start():
    with pytest.raises(ValueError, match="timezone-aware"):
        add_business_days(datetime(2026, 3, 6), 1)


# -- decision --------------------------------------------------------------------------------

RUBRIC = (
    Criterion("c1", ("beginning", "developing", "proficient", "exemplary"), "proficient"),
    Criterion("c2", ("no", "yes"), "yes"),
)


def rating(c1: str, c2: str, note: str = "") -> dict[str, Score]:
    return {"c1": Score(c1, note), "c2": Score(c2, note)}


def test_every_criterion_at_or_above_required_passes():
    results = results_of(RUBRIC, rating("exemplary", "yes"))
    assert all(r.met for r in results)
    assert decide(results, attempt=1, attempt_cap=3) is Outcome.PASSED


def test_a_criterion_below_required_asks_for_revision_while_attempts_remain():
    results = results_of(RUBRIC, rating("developing", "yes"))
    assert [r.met for r in results] == [False, True]
    assert decide(results, attempt=2, attempt_cap=3) is Outcome.REVISION_REQUESTED


def test_a_miss_on_the_last_attempt_is_not_earned():
    results = results_of(RUBRIC, rating("developing", "yes"))
    assert decide(results, attempt=3, attempt_cap=3) is Outcome.NOT_EARNED


@pytest.mark.parametrize(
    ("scores", "message"),
    [
        ({"c1": Score("proficient")}, "not scored: c2"),
        ({**rating("proficient", "yes"), "c9": Score("x")}, "unknown criteria: c9"),
        (rating("superb", "yes"), "unknown level"),
    ],
)
def test_scores_that_do_not_fit_the_rubric_are_refused(scores, message):
    with pytest.raises(InvalidScores, match=message):
        results_of(RUBRIC, scores)


# -- double rating ---------------------------------------------------------------------------


def test_raters_who_agree_decide_together_with_both_feedbacks():
    outcome = reconcile(RUBRIC, rating("proficient", "yes", "A"), rating("proficient", "yes", "B"))
    assert isinstance(outcome, Agreed)
    assert [r.feedback for r in outcome.results] == ["A\n\nB", "A\n\nB"]


def test_raters_who_disagree_on_a_level_need_an_approver():
    outcome = reconcile(RUBRIC, rating("proficient", "yes"), rating("exemplary", "yes"))
    assert outcome == NeedsApprover(("c1",))


# -- calibration -----------------------------------------------------------------------------


def test_perfect_agreement_has_kappa_one():
    a = agreement_of([("x", "x"), ("y", "y")])
    assert (a.agreement, a.kappa) == (1, 1)


def test_cohens_kappa_matches_the_textbook_example():
    # 50 items, yes/no: 20 both yes, 15 both no, 5 rater yes/ref no, 10 rater no/ref yes.
    pairs = [("y", "y")] * 20 + [("n", "n")] * 15 + [("y", "n")] * 5 + [("n", "y")] * 10
    a = agreement_of(pairs)
    assert a.agreement == Fraction(35, 50)
    # p_e = 0.5*0.6 + 0.5*0.4 = 0.5; kappa = (0.7 - 0.5) / 0.5 = 0.4
    assert a.kappa == Fraction(2, 5)


def test_no_samples_has_no_kappa():
    assert agreement_of([]).kappa is None


def test_assessor_below_eighty_percent_agreement_is_not_calibrated():
    rows = [Comparison("good", f"c{i % 2}", "l", "l") for i in range(5)]
    rows += [Comparison("weak", f"c{i % 2}", "l", "l") for i in range(3)]
    rows += [Comparison("weak", "c1", "l", "m"), Comparison("weak", "c1", "m", "l")]
    reports = calibration_reports(rows)
    assert reports["good"].calibrated
    assert not reports["weak"].calibrated  # 3 of 5 = 60 %
    assert reports["weak"].per_criterion["c0"].agreement == 1
    assert reports["weak"].per_criterion["c1"].agreement == Fraction(1, 3)


def test_exactly_the_threshold_is_calibrated_and_the_threshold_is_configurable():
    rows = [Comparison("a", "c", "l", "l")] * 4 + [Comparison("a", "c", "l", "m")]
    assert calibration_reports(rows)["a"].calibrated
    assert not calibration_reports(rows, threshold=Fraction(9, 10))["a"].calibrated
