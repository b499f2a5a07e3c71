"""Deadline reminders: which threshold is due when, on an injected clock (the pure rule; the
sweep's exactly-once is tested on a real database in the integration tests)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from enrollment.bootstrap import build
from enrollment.config import Settings
from enrollment.domain.enrollment import (
    CatalogEntry,
    Enrollment,
    EnrollmentStatus,
    Policy,
    enroll,
)
from mc_events.contracts.common import Purpose

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
THRESHOLDS = (14, 3)
S = EnrollmentStatus


def enrollment(window_days: int = 90, status: EnrollmentStatus = S.ENROLLED) -> Enrollment:
    e = enroll(
        enrollment_id="en-1",
        educator_id="ed-1",
        district_id="lea-1",
        entry=CatalogEntry(
            micro_credential_id="mc-1",
            version=1,
            policy=Policy(attempt_cap=2, completion_window=window_days * DAY, cooldown=30 * DAY),
            allowed_purposes=frozenset({Purpose.LICENSE_RENEWAL}),
        ),
        purpose=Purpose.LICENSE_RENEWAL,
        history=[],
        now=T0,
    )
    e.status = status
    return e


def test_no_reminder_before_the_first_threshold():
    e = enrollment()
    assert e.reminder_due(e.deadline_at - 14 * DAY - timedelta(seconds=1), THRESHOLDS) is None


def test_each_threshold_is_due_from_the_moment_it_is_reached():
    e = enrollment()
    assert e.reminder_due(e.deadline_at - 14 * DAY, THRESHOLDS) == 14
    assert e.reminder_due(e.deadline_at - 4 * DAY, THRESHOLDS) == 14
    assert e.reminder_due(e.deadline_at - 3 * DAY, THRESHOLDS) == 3
    assert e.reminder_due(e.deadline_at - timedelta(seconds=1), THRESHOLDS) == 3


def test_a_late_sweep_sends_the_nearest_threshold_only():
    e = enrollment()
    assert e.reminder_due(e.deadline_at - DAY, (14, 7, 3)) == 3


def test_the_order_thresholds_are_configured_in_does_not_matter():
    e = enrollment()
    assert e.reminder_due(e.deadline_at - 2 * DAY, (3, 14)) == 3


def test_no_reminder_once_the_deadline_has_passed():
    e = enrollment()
    assert e.reminder_due(e.deadline_at, THRESHOLDS) is None


def test_a_threshold_before_the_enrollment_began_never_applies():
    e = enrollment(window_days=10)
    assert e.reminder_due(e.enrolled_at, THRESHOLDS) is None
    assert e.reminder_due(e.deadline_at - 4 * DAY, THRESHOLDS) is None
    assert e.reminder_due(e.deadline_at - 3 * DAY, THRESHOLDS) == 3


@pytest.mark.parametrize("status", [S.ENROLLED, S.RETURNED_INCOMPLETE, S.REVISION_REQUESTED])
def test_enrollments_waiting_on_the_educator_are_reminded(status):
    e = enrollment(status=status)
    assert e.reminder_due(e.deadline_at - 3 * DAY, THRESHOLDS) == 3


@pytest.mark.parametrize(
    "status",
    [S.SUBMITTED, S.UNDER_REVIEW, S.RESUBMITTED, S.EARNED, S.NOT_EARNED, S.WITHDRAWN, S.EXPIRED],
)
def test_closed_enrollments_and_those_with_the_assessors_are_never_reminded(status):
    e = enrollment(status=status)
    assert e.reminder_due(e.deadline_at - 3 * DAY, THRESHOLDS) is None


def test_reminder_thresholds_are_configurable_and_must_be_positive_days():
    assert Settings(database_url="postgresql://x/y").reminder_days == [14, 3]
    assert Settings(database_url="postgresql://x/y", reminder_days=[7]).reminder_days == [7]
    with pytest.raises(ValueError, match="reminder_days"):
        Settings(database_url="postgresql://x/y", reminder_days=[0])


def test_the_service_runs_the_deadline_sweep_as_a_worker_unless_switched_off():
    on = build(Settings(database_url="postgresql://x/y"))
    off = build(Settings(database_url="postgresql://x/y", deadline_sweep_enabled=False))
    assert list(on.workers) == ["deadline-sweep"]
    assert dict(off.workers) == {}
