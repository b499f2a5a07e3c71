"""Decisions for misconduct in the enrollment state machine: not earned at once whatever
attempts are left, the reason the contract knows (assessed_not_earned) with the kind kept, and
the cooldown in full before the educator may enroll again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from enrollment.domain.enrollment import (
    CatalogEntry,
    DecisionOutcome,
    EndReason,
    Enrollment,
    EnrollmentRefused,
    EnrollmentStatus,
    Policy,
    Refusal,
    enroll,
)
from mc_events.contracts.common import Purpose
from mc_events.contracts.review import MisconductKind

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
ENTRY = CatalogEntry(
    micro_credential_id="mc-1",
    version=1,
    policy=Policy(attempt_cap=3, completion_window=180 * DAY, cooldown=30 * DAY),
    allowed_purposes=frozenset({Purpose.LICENSE_RENEWAL}),
)


def start(at: datetime = T0, history: list[Enrollment] | None = None, n: int = 1) -> Enrollment:
    return enroll(
        enrollment_id=f"en-{n}",
        educator_id="ed-1",
        district_id="lea-1",
        entry=ENTRY,
        purpose=Purpose.LICENSE_RENEWAL,
        history=history or [],
        now=at,
    )


def under_review() -> Enrollment:
    e = start()
    e.submit(T0 + DAY, complete=True)
    e.start_review()
    return e


@pytest.mark.parametrize("kind", list(MisconductKind))
def test_misconduct_ends_the_enrollment_not_earned_with_the_kind_kept(kind):
    e = under_review()
    assert e.attempts_left == 2
    e.decide(DecisionOutcome.NOT_EARNED, T0 + 5 * DAY, misconduct=kind)
    assert (e.status, e.end_reason, e.misconduct) == (
        EnrollmentStatus.NOT_EARNED,
        EndReason.ASSESSED_NOT_EARNED,
        kind,
    )
    assert (e.closed_at, e.may_reenroll_from) == (T0 + 5 * DAY, T0 + 35 * DAY)
    assert e.changes[-1] is EnrollmentStatus.NOT_EARNED


def test_an_ordinary_not_earned_decision_records_no_misconduct():
    e = under_review()
    e.decide(DecisionOutcome.NOT_EARNED, T0 + 5 * DAY)
    assert (e.end_reason, e.misconduct) == (EndReason.ASSESSED_NOT_EARNED, None)


@pytest.mark.parametrize("outcome", [DecisionOutcome.PASSED, DecisionOutcome.REVISION_REQUESTED])
def test_misconduct_with_any_other_outcome_is_refused_and_changes_nothing(outcome):
    e = under_review()
    with pytest.raises(EnrollmentRefused) as refused:
        e.decide(outcome, T0 + 5 * DAY, misconduct=MisconductKind.PLAGIARISM)
    assert refused.value.reason is Refusal.NOT_ALLOWED_NOW
    assert (e.status, e.misconduct, e.closed_at) == (EnrollmentStatus.UNDER_REVIEW, None, None)


def test_after_misconduct_re_enrolment_waits_for_the_whole_cooldown():
    ended = under_review()
    ended.decide(DecisionOutcome.NOT_EARNED, T0 + 5 * DAY, misconduct=MisconductKind.PLAGIARISM)
    with pytest.raises(EnrollmentRefused) as refused:
        start(at=T0 + 35 * DAY - timedelta(seconds=1), history=[ended], n=2)
    assert refused.value.reason is Refusal.IN_COOLDOWN
    again = start(at=T0 + 35 * DAY, history=[ended], n=2)
    assert (again.status, again.misconduct, again.attempts_left) == (
        EnrollmentStatus.ENROLLED,
        None,
        3,
    )


def test_a_closed_misconduct_enrollment_cannot_be_withdrawn_or_decided_again():
    ended = under_review()
    ended.decide(DecisionOutcome.NOT_EARNED, T0 + 5 * DAY, misconduct=MisconductKind.PLAGIARISM)
    for command in (
        lambda: ended.withdraw(T0 + 6 * DAY),
        lambda: ended.decide(DecisionOutcome.PASSED, T0 + 6 * DAY),
    ):
        with pytest.raises(EnrollmentRefused):
            command()
    assert (ended.status, ended.may_reenroll_from) == (EnrollmentStatus.NOT_EARNED, T0 + 35 * DAY)
