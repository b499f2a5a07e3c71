"""Stipend rules as data: Florida's $1,000 per completion within a fiscal-year budget, DC's $150
for the first micro-credential, caps, eligibility, and fiscal-year boundaries."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from compensation.domain.fiscal import FiscalCalendar, InvalidCalendar
from compensation.domain.ids import approval_entry_id, event_id, reversal_entry_id
from compensation.domain.rules import (
    LIFETIME,
    Award,
    Basis,
    Budget,
    Educator,
    InvalidRule,
    Outcome,
    RuleKind,
    StipendRule,
    Usage,
    decide,
    rules_in_force,
)

FLORIDA_FY = FiscalCalendar(start_month=7, start_day=1, timezone="America/New_York")
SINCE_2020 = datetime(2020, 1, 1, tzinfo=UTC)


def florida(**changes) -> StipendRule:
    values = dict(
        rule_id="fl-mc-completion",
        version=1,
        name="Florida MC completion stipend",
        state="FL",
        kind=RuleKind.PER_CREDENTIAL,
        amount_cents=100_000,
        funding_source="fl-state-mc-stipend-fund",
        effective_from=SINCE_2020,
        eligible_roles=frozenset({"teacher", "instructional_coach"}),
        calendar=FLORIDA_FY,
    )
    values.update(changes)
    return StipendRule(**values)


def dc_first_mc(**changes) -> StipendRule:
    values = dict(
        rule_id="dcps-first-mc",
        version=1,
        name="DCPS first micro-credential",
        state="DC",
        district_id="dcps",
        kind=RuleKind.FIRST_CREDENTIAL,
        amount_cents=15_000,
        funding_source="dcps-pd-fund",
        effective_from=SINCE_2020,
    )
    values.update(changes)
    return StipendRule(**values)


def award(at: datetime, *, district="leon", subject="mc-1", source="cred-1") -> Award:
    return Award(Basis.CREDENTIAL, source, subject, "edu-1", district, at)


TEACHER = Educator("edu-1", "leon", "teacher", "professional", date(2030, 6, 30))
PLENTY = Budget(allocated_cents=10_000_000)


def test_florida_pays_1000_dollars_per_completion_in_the_awards_fiscal_year():
    decision = decide(
        florida(), award(datetime(2025, 9, 15, 14, tzinfo=UTC)), TEACHER, Usage(), PLENTY
    )
    assert decision.outcome is Outcome.APPROVE
    assert decision.amount_cents == 100_000
    assert isinstance(decision.amount_cents, int)
    assert (decision.fiscal_year, decision.fiscal_period) == (2026, 3)


def test_florida_budget_cap_defers_the_completion_it_cannot_cover():
    rule = florida()
    budget = Budget(allocated_cents=250_000)
    paid = []
    for n in range(3):
        decision = decide(rule, award(datetime(2025, 10, 1, tzinfo=UTC)), TEACHER, Usage(), budget)
        if decision.outcome is Outcome.APPROVE:
            budget = Budget(budget.allocated_cents, budget.committed_cents + decision.amount_cents)
            paid.append(n)
        else:
            assert decision.outcome is Outcome.DEFER
            assert decision.amount_cents == 100_000
    assert paid == [0, 1]
    assert budget.remaining_cents == 50_000


def test_an_empty_budget_defers_rather_than_pays():
    decision = decide(
        florida(), award(datetime(2025, 10, 1, tzinfo=UTC)), TEACHER, Usage(), Budget()
    )
    assert decision.outcome is Outcome.DEFER


@pytest.mark.parametrize(
    ("awarded_at", "fiscal_year", "period"),
    [
        # 30 June 23:59 in Tallahassee is already 1 July in UTC: still FY 2025.
        (datetime(2025, 7, 1, 3, 59, tzinfo=UTC), 2025, 12),
        # 1 July 00:00 in Tallahassee (04:00 UTC, daylight time): FY 2026 begins.
        (datetime(2025, 7, 1, 4, 0, tzinfo=UTC), 2026, 1),
        (datetime(2026, 6, 30, 12, tzinfo=UTC), 2026, 12),
        (datetime(2026, 1, 1, 5, tzinfo=UTC), 2026, 7),
    ],
)
def test_fiscal_year_boundaries_fall_on_the_right_side(awarded_at, fiscal_year, period):
    decision = decide(florida(), award(awarded_at), TEACHER, Usage(), PLENTY)
    assert (decision.fiscal_year, decision.fiscal_period) == (fiscal_year, period)


def test_calendar_year_and_mid_month_fiscal_calendars():
    calendar_year = FiscalCalendar(start_month=1, start_day=1)
    assert calendar_year.fiscal_year(datetime(2025, 12, 31, 23, tzinfo=UTC)) == 2025
    assert calendar_year.fiscal_year(datetime(2026, 1, 1, tzinfo=UTC)) == 2026
    mid = FiscalCalendar(start_month=10, start_day=15)
    assert mid.fiscal_year(datetime(2025, 10, 14, tzinfo=UTC)) == 2025
    assert mid.fiscal_year(datetime(2025, 10, 15, tzinfo=UTC)) == 2026
    assert mid.fiscal_period(datetime(2025, 11, 14, tzinfo=UTC)) == 1
    assert mid.fiscal_period(datetime(2025, 11, 15, tzinfo=UTC)) == 2


def test_fiscal_dates_need_timezone_aware_datetimes():
    with pytest.raises(ValueError, match="timezone-aware"):
        FLORIDA_FY.fiscal_year(datetime(2025, 7, 1))
    with pytest.raises(InvalidCalendar):
        FiscalCalendar(timezone="Mars/Olympus_Mons")
    with pytest.raises(InvalidCalendar):
        FiscalCalendar(start_day=31)


def test_dc_pays_150_dollars_for_the_first_micro_credential_only():
    rule = dc_first_mc()
    educator = Educator("edu-1", "dcps", "teacher")
    at = datetime(2025, 11, 3, tzinfo=UTC)
    first = decide(rule, award(at, district="dcps"), educator, Usage(), PLENTY)
    assert (first.outcome, first.amount_cents) == (Outcome.APPROVE, 15_000)
    second = decide(rule, award(at, district="dcps"), educator, Usage(1, 15_000), PLENTY)
    assert second.outcome is Outcome.NOTHING
    # "First" is over the educator's whole history, not per fiscal year.
    assert rule.cap_period(2026) == LIFETIME
    assert florida().cap_period(2026) == 2026


def test_annual_cap_pays_what_fits_and_then_nothing():
    rule = florida(annual_cap_cents=250_000)
    at = datetime(2025, 8, 1, tzinfo=UTC)
    partial = decide(rule, award(at), TEACHER, Usage(2, 200_000), PLENTY)
    assert (partial.outcome, partial.amount_cents) == (Outcome.APPROVE, 50_000)
    capped = decide(rule, award(at), TEACHER, Usage(3, 250_000), PLENTY)
    assert capped.outcome is Outcome.NOTHING
    assert "cap" in capped.reason


def test_ineligible_roles_and_expired_licenses_are_not_paid():
    at = datetime(2025, 8, 1, 12, tzinfo=UTC)
    para = Educator("edu-1", "leon", "paraprofessional")
    assert decide(florida(), award(at), para, Usage(), PLENTY).outcome is Outcome.NOTHING
    rule = florida(requires_valid_license=True, eligible_license_types=frozenset({"professional"}))
    expired = Educator("edu-1", "leon", "teacher", "professional", date(2025, 7, 31))
    assert "expired" in decide(rule, award(at), expired, Usage(), PLENTY).reason
    temporary = Educator("edu-1", "leon", "teacher", "temporary", None)
    assert decide(rule, award(at), temporary, Usage(), PLENTY).outcome is Outcome.NOTHING
    assert decide(rule, award(at), TEACHER, Usage(), PLENTY).outcome is Outcome.APPROVE
    # The license is judged on the local award date: 00:30 UTC on 1 August is still 31 July
    # in Florida, the license's last day.
    late_evening = datetime(2025, 8, 1, 0, 30, tzinfo=UTC)
    assert decide(rule, award(late_evening), expired, Usage(), PLENTY).outcome is Outcome.APPROVE


def test_the_version_in_force_on_the_award_date_pays():
    v1 = florida()
    v2 = florida(version=2, amount_cents=120_000, effective_from=datetime(2026, 7, 1, tzinfo=UTC))
    before = award(datetime(2026, 6, 30, tzinfo=UTC))
    after = award(datetime(2026, 7, 2, tzinfo=UTC))
    assert rules_in_force([v2, v1], before, state="FL") == [v1]
    assert rules_in_force([v1, v2], after, state="FL") == [v2]


def test_rules_apply_by_state_district_basis_and_subject():
    at = datetime(2025, 8, 1, tzinfo=UTC)
    only_mc2 = florida(rule_id="fl-mc2", subject_ids=frozenset({"mc-2"}))
    other_district = florida(rule_id="fl-duval", district_id="duval")
    stack = florida(rule_id="fl-stack", kind=RuleKind.PER_STACK)
    rules = [florida(), only_mc2, other_district, stack, dc_first_mc()]
    assert [r.rule_id for r in rules_in_force(rules, award(at), state="FL")] == ["fl-mc-completion"]
    assert [r.rule_id for r in rules_in_force(rules, award(at, subject="mc-2"), state="FL")] == [
        "fl-mc-completion",
        "fl-mc2",
    ]
    assert rules_in_force(rules, award(at), state="GA") == []
    ended = florida(effective_until=at - timedelta(seconds=1))
    assert rules_in_force([ended], award(at), state="FL") == []


@pytest.mark.parametrize(
    "changes",
    [
        {"amount_cents": 1000.0},
        {"amount_cents": 0},
        {"amount_cents": True},
        {"annual_cap_cents": 99.5},
        {"state": "Florida"},
        {"effective_from": datetime(2020, 1, 1)},
        {"effective_until": SINCE_2020},
        {"version": 0},
    ],
)
def test_rules_refuse_bad_data(changes):
    with pytest.raises(InvalidRule):
        florida(**changes)


def test_ids_are_deterministic():
    entry = approval_entry_id("credential:c1", "fl", 2026)
    assert entry == approval_entry_id("credential:c1", "fl", 2026)
    assert entry != approval_entry_id("credential:c1", "fl", 2027)
    assert reversal_entry_id(entry) == reversal_entry_id(entry) != entry
    assert event_id("a", entry) == event_id("a", entry) != event_id("b", entry)
