"""Renewal rules as data: South Carolina conversions, certificate cycles, balances."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from mc_events.contracts.common import Credits, CreditUnit
from registry.domain.licensure import (
    Conversion,
    Cycle,
    LedgerEntry,
    LicensureError,
    NoConversion,
    RenewalRules,
    balances,
    conversions_from_json,
)

# The same data migration 0006 seeds.
SC = RenewalRules(
    state="SC",
    cycle_years=5,
    required_credits=Decimal(120),
    conversions=conversions_from_json(
        {
            "renewal_credits": {"per": "1", "renewal_credits": "1"},
            "semester_hours": {"per": "1", "renewal_credits": "20"},
            "contact_hours": {"per": "15", "renewal_credits": "20"},
            "pd_hours": {"per": "15", "renewal_credits": "20"},
            "ceu": {"per": "1", "renewal_credits": "10"},
        }
    ),
)


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        ("1", CreditUnit.CEU, "10.00"),
        ("2.5", CreditUnit.CEU, "25.00"),
        ("1", CreditUnit.SEMESTER_HOURS, "20.00"),
        ("3", CreditUnit.SEMESTER_HOURS, "60.00"),
        ("15", CreditUnit.CONTACT_HOURS, "20.00"),
        ("15", CreditUnit.PD_HOURS, "20.00"),
        ("1.5", CreditUnit.PD_HOURS, "2.00"),
        ("10", CreditUnit.PD_HOURS, "13.33"),  # 13.333... rounded half-up to hundredths
        ("7", CreditUnit.RENEWAL_CREDITS, "7.00"),
    ],
)
def test_south_carolina_conversions(value: str, unit: CreditUnit, expected: str):
    converted = SC.to_renewal_credits(Credits(value=Decimal(value), unit=unit))
    assert isinstance(converted, Decimal)
    assert converted == Decimal(expected)
    assert str(converted) == expected


def test_a_unit_the_state_does_not_convert_is_refused():
    rules = RenewalRules(
        "XX", 5, Decimal(100), {CreditUnit.CEU: Conversion(Decimal(1), Decimal(10))}
    )
    with pytest.raises(NoConversion):
        rules.to_renewal_credits(Credits(value=Decimal(1), unit=CreditUnit.PD_HOURS))


def test_a_conversion_needs_a_positive_divisor():
    with pytest.raises(LicensureError):
        Conversion(Decimal(0), Decimal(10))


def test_the_cycle_ends_on_the_license_expiry_and_spans_five_years():
    cycle = SC.cycle_for(date(2026, 3, 1), license_expires_on=date(2030, 6, 30), anchor=None)
    assert cycle == Cycle(date(2025, 7, 1), date(2030, 6, 30))
    assert cycle.label == "2025-2030"


def test_an_award_after_the_recorded_expiry_counts_for_the_next_cycle():
    cycle = SC.cycle_for(date(2030, 8, 1), license_expires_on=date(2030, 6, 30), anchor=None)
    assert cycle == Cycle(date(2030, 7, 1), date(2035, 6, 30))
    before = SC.cycle_for(date(2024, 1, 1), license_expires_on=date(2030, 6, 30), anchor=None)
    assert before == Cycle(date(2020, 7, 1), date(2025, 6, 30))


def test_without_a_license_the_cycle_starts_with_the_school_year_of_the_first_award():
    first = SC.cycle_for(date(2026, 3, 1), license_expires_on=None, anchor=None)
    assert first == Cycle(date(2025, 7, 1), date(2030, 6, 30))
    # Later postings stay on the grid the first one started.
    later = SC.cycle_for(date(2031, 1, 1), license_expires_on=None, anchor=first.start)
    assert later == Cycle(date(2030, 7, 1), date(2035, 6, 30))


def test_a_leap_day_expiry_keeps_consecutive_cycles_adjacent():
    cycle = SC.cycle_for(date(2026, 1, 1), license_expires_on=date(2028, 2, 29), anchor=None)
    assert (cycle.start, cycle.end) == (date(2023, 3, 1), date(2028, 2, 29))
    following = SC.cycle_for(date(2028, 3, 1), license_expires_on=date(2028, 2, 29), anchor=None)
    assert following.start == date(2028, 3, 1)


def entry(n: int, amount: str, cycle: Cycle, reason: str = "award") -> LedgerEntry:
    return LedgerEntry(
        entry_id=f"e{n}",
        posting_key=f"k{n}",
        educator_id="SC-1",
        district_id="d",
        credential_id=f"c{n}",
        state="SC",
        credits=Decimal(amount),
        unit=CreditUnit.RENEWAL_CREDITS,
        renewal_credits=Decimal(amount),
        cycle=cycle,
        reason=reason,
        reverses_entry_id=None,
        posted_at=datetime(2026, 1, n, tzinfo=UTC),
    )


def test_balances_sum_signed_entries_per_cycle_newest_cycle_first():
    old, current = (
        Cycle(date(2020, 7, 1), date(2025, 6, 30)),
        Cycle(date(2025, 7, 1), date(2030, 6, 30)),
    )
    found = balances(
        [
            entry(1, "100", current),
            entry(2, "30", current),
            entry(3, "-30", current, "revocation"),
            entry(4, "120", old),
        ],
        SC.required_credits,
    )
    assert [b.cycle for b in found] == [current, old]
    assert (found[0].earned, found[0].remaining, found[0].met) == (Decimal(100), Decimal(20), False)
    assert (found[1].earned, found[1].remaining, found[1].met) == (Decimal(120), Decimal(0), True)
