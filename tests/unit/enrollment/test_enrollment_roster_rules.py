"""Roster rules: row validation, duplicate and district checks, which events a change calls for."""

from __future__ import annotations

import dataclasses
from datetime import date

from enrollment.domain.roster import (
    FIELDS,
    RECORD_FIELDS,
    EducatorRecord,
    RosterChange,
    canonical_field,
    roster_changes,
    validate_row,
    validate_rows,
)
from mc_events.contracts.roster import StaffRole


def raw(**overrides):
    row = {
        "educator_id": "e1",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@x.example",
        "district_id": "lea-1",
        "role": "teacher",
    }
    row.update(overrides)
    return row


def record(**overrides) -> EducatorRecord:
    outcome = validate_row(raw(), 1)
    assert isinstance(outcome, EducatorRecord)
    return dataclasses.replace(outcome, **overrides)


def test_record_fields_are_the_documented_fields():
    assert RECORD_FIELDS == FIELDS


def test_a_minimal_row_is_a_record_with_trimmed_values_and_no_license():
    outcome = validate_row(raw(first_name="  Ada ", school_id=""), 1)
    assert isinstance(outcome, EducatorRecord)
    assert (outcome.first_name, outcome.school_id, outcome.license_number) == ("Ada", None, None)
    assert outcome.role is StaffRole.TEACHER


def test_every_problem_of_a_row_is_reported_not_only_the_first():
    outcome = validate_row(raw(email="nope", role="wizard", first_name=None), 7)
    assert isinstance(outcome, list)
    assert {(e.row, e.field) for e in outcome} == {(7, "email"), (7, "role"), (7, "first_name")}


def test_a_license_needs_number_and_type_and_a_real_date():
    outcome = validate_row(raw(license_number="L1", license_expires_on="2029-02-30"), 1)
    assert isinstance(outcome, list)
    assert {e.field for e in outcome} == {"license_type", "license_expires_on"}
    ok = validate_row(
        raw(license_number="L1", license_type="pro", license_expires_on="2029-06-30"), 1
    )
    assert isinstance(ok, EducatorRecord)
    assert ok.license_expires_on == date(2029, 6, 30)


def test_an_educator_cannot_supervise_themselves():
    outcome = validate_row(raw(supervisor_id="e1"), 1)
    assert isinstance(outcome, list)
    assert outcome[0].field == "supervisor_id"


def test_roles_are_read_loosely_and_ed_fi_names_are_aliases():
    outcome = validate_row(raw(role="School Administrator"), 1)
    assert isinstance(outcome, EducatorRecord)
    assert outcome.role is StaffRole.SCHOOL_ADMINISTRATOR
    assert canonical_field("StaffUniqueId") == "educator_id"
    assert canonical_field("LastSurname") == "last_name"
    assert canonical_field("license-expires-on") == "license_expires_on"
    assert canonical_field("favourite_colour") is None


def test_a_second_row_for_the_same_educator_is_an_error_and_the_first_stands():
    result = validate_rows([(1, raw()), (2, raw(first_name="Other"))])
    assert [r for r, _ in result.records] == [1]
    assert [(e.row, e.field) for e in result.errors] == [(2, "educator_id")]


def test_a_district_admin_import_refuses_rows_of_other_districts():
    result = validate_rows(
        [(1, raw()), (2, raw(educator_id="e2", district_id="lea-2"))], only_district="lea-1"
    )
    assert [r for r, _ in result.records] == [1]
    assert [(e.row, e.field) for e in result.errors] == [(2, "district_id")]


def test_a_new_educator_is_registered():
    assert roster_changes(None, record()) == [RosterChange.REGISTERED]


def test_an_unchanged_record_calls_for_nothing():
    assert roster_changes(record(), record()) == []


def test_a_change_within_the_district_is_an_update():
    assert roster_changes(record(), record(school_id="s2")) == [RosterChange.UPDATED]


def test_a_district_change_alone_is_a_move():
    before, after = record(), record(district_id="lea-2", school_id="s9", supervisor_id="boss")
    assert roster_changes(before, after) == [RosterChange.MOVED_DISTRICT]


def test_a_move_with_other_changes_is_a_move_then_an_update():
    before, after = record(), record(district_id="lea-2", email="new@x.example")
    assert roster_changes(before, after) == [RosterChange.MOVED_DISTRICT, RosterChange.UPDATED]
