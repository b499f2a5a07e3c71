"""The enrollment state machine: every transition and every refusal, on an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from enrollment.adapters.tables import ACTIVE_STATUSES
from enrollment.domain.enrollment import (
    ACTIVE,
    OB3_RESULT_STATUS,
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

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
POLICY = Policy(attempt_cap=2, completion_window=180 * DAY, cooldown=30 * DAY)
ENTRY = CatalogEntry(
    micro_credential_id="mc-1",
    version=3,
    policy=POLICY,
    allowed_purposes=frozenset({Purpose.LICENSE_RENEWAL, Purpose.CURATED_PD}),
)
S = EnrollmentStatus


def start(*, at: datetime = T0, history=(), entry: CatalogEntry | None = ENTRY, n: int = 1):
    return enroll(
        enrollment_id=f"en-{n}",
        educator_id="ed-1",
        district_id="lea-1",
        entry=entry,
        purpose=Purpose.LICENSE_RENEWAL,
        history=list(history),
        now=at,
    )


def refused(reason: Refusal):
    return _Refused(reason)


class _Refused:
    def __init__(self, reason: Refusal) -> None:
        self.reason = reason

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        assert exc_type is EnrollmentRefused, f"expected a refusal ({self.reason}), got {exc!r}"
        assert exc.reason is self.reason, f"refused for {exc.reason}, expected {self.reason}"
        return True


def at_status(status: EnrollmentStatus, *, attempts_used: int = 0) -> Enrollment:
    e = start()
    e.status = status
    e.attempts_used = attempts_used
    return e


# -- enrolling ---------------------------------------------------------------------------------


def test_enrolling_sets_the_deadline_from_the_completion_window():
    e = start()
    assert (e.status, e.deadline_at, e.attempts_left) == (S.ENROLLED, T0 + 180 * DAY, 2)
    assert e.micro_credential_version == 3
    assert e.changes == [S.ENROLLED]
    assert e.ob3_result_status == "Enrolled"


def test_an_unknown_or_retired_version_is_not_enrollable():
    with refused(Refusal.NOT_ENROLLABLE):
        start(entry=None)
    retired = CatalogEntry("mc-1", 3, POLICY, ENTRY.allowed_purposes, retired=True)
    with refused(Refusal.NOT_ENROLLABLE):
        start(entry=retired)


def test_a_purpose_the_state_does_not_allow_is_refused():
    with refused(Refusal.PURPOSE_NOT_ALLOWED):
        enroll(
            enrollment_id="x",
            educator_id="ed-1",
            district_id="lea-1",
            entry=ENTRY,
            purpose=Purpose.ADDED_ENDORSEMENT,
            history=[],
            now=T0,
        )


@pytest.mark.parametrize("status", sorted(ACTIVE))
def test_only_one_active_enrollment_per_educator_and_mc(status):
    with refused(Refusal.ALREADY_ACTIVE):
        start(history=[at_status(status)], n=2)


def test_an_mc_earned_already_cannot_be_enrolled_again():
    earned = at_status(S.UNDER_REVIEW, attempts_used=1)
    earned.decide(DecisionOutcome.PASSED, T0 + DAY)
    with refused(Refusal.ALREADY_EARNED):
        start(at=T0 + 400 * DAY, history=[earned], n=2)


def test_reenrolment_waits_for_the_cooldown_after_not_earned():
    failed = at_status(S.UNDER_REVIEW, attempts_used=1)
    failed.decide(DecisionOutcome.NOT_EARNED, T0 + 10 * DAY)
    assert failed.may_reenroll_from == T0 + 40 * DAY
    with refused(Refusal.IN_COOLDOWN):
        start(at=T0 + 40 * DAY - timedelta(seconds=1), history=[failed], n=2)
    again = start(at=T0 + 40 * DAY, history=[failed], n=2)
    assert again.status is S.ENROLLED


def test_reenrolment_after_expiry_waits_for_the_cooldown():
    lapsed = start()
    lapsed.expire(T0 + 180 * DAY)
    with refused(Refusal.IN_COOLDOWN):
        start(at=T0 + 200 * DAY, history=[lapsed], n=2)
    assert start(at=T0 + 210 * DAY, history=[lapsed], n=2).status is S.ENROLLED


def test_withdrawing_before_any_submission_allows_reenrolment_at_once():
    left = start()
    left.withdraw(T0 + DAY)
    assert start(at=T0 + DAY, history=[left], n=2).status is S.ENROLLED


def test_withdrawing_after_a_submission_starts_the_cooldown():
    left = at_status(S.REVISION_REQUESTED, attempts_used=1)
    left.withdraw(T0 + DAY)
    assert left.may_reenroll_from == T0 + 31 * DAY
    with refused(Refusal.IN_COOLDOWN):
        start(at=T0 + 2 * DAY, history=[left], n=2)


# -- submitting --------------------------------------------------------------------------------


def test_a_complete_first_submission_uses_an_attempt():
    e = start()
    e.submit(T0 + DAY, complete=True)
    assert (e.status, e.attempts_used, e.attempts_left) == (S.SUBMITTED, 1, 1)
    assert e.ob3_result_status == "InProgress"


def test_an_incomplete_submission_is_returned_and_uses_no_attempt():
    e = start()
    e.submit(T0 + DAY, complete=False)
    assert (e.status, e.attempts_used) == (S.RETURNED_INCOMPLETE, 0)
    e.submit(T0 + 2 * DAY, complete=True)
    assert (e.status, e.attempts_used) == (S.SUBMITTED, 1)


def test_a_submission_after_a_revision_request_is_a_resubmission():
    e = at_status(S.UNDER_REVIEW, attempts_used=1)
    e.decide(DecisionOutcome.REVISION_REQUESTED, T0 + DAY)
    assert e.status is S.REVISION_REQUESTED
    e.submit(T0 + 2 * DAY, complete=False)
    assert e.status is S.RETURNED_INCOMPLETE
    e.submit(T0 + 3 * DAY, complete=True)
    assert (e.status, e.attempts_used, e.attempts_left) == (S.RESUBMITTED, 2, 0)


def test_evidence_after_the_deadline_is_refused():
    e = start()
    with refused(Refusal.DEADLINE_PASSED):
        e.submit(T0 + 180 * DAY, complete=True)
    assert e.status is S.ENROLLED


def test_evidence_beyond_the_attempt_cap_is_refused():
    e = at_status(S.REVISION_REQUESTED, attempts_used=2)
    with refused(Refusal.NO_ATTEMPTS_LEFT):
        e.submit(T0 + DAY, complete=True)


@pytest.mark.parametrize(
    "status",
    [S.SUBMITTED, S.UNDER_REVIEW, S.RESUBMITTED, S.EARNED, S.NOT_EARNED, S.WITHDRAWN, S.EXPIRED],
)
def test_evidence_is_refused_unless_the_enrollment_waits_on_the_educator(status):
    with refused(Refusal.NOT_ALLOWED_NOW):
        at_status(status, attempts_used=1).submit(T0 + DAY, complete=True)


# -- review and decisions ----------------------------------------------------------------------


@pytest.mark.parametrize("status", [S.SUBMITTED, S.RESUBMITTED])
def test_review_starts_on_a_submission(status):
    e = at_status(status, attempts_used=1)
    e.start_review()
    assert e.status is S.UNDER_REVIEW


@pytest.mark.parametrize("status", [S.ENROLLED, S.UNDER_REVIEW, S.EARNED, S.WITHDRAWN])
def test_review_cannot_start_without_a_submission(status):
    with refused(Refusal.NOT_ALLOWED_NOW):
        at_status(status).start_review()


@pytest.mark.parametrize("status", [S.SUBMITTED, S.RESUBMITTED, S.UNDER_REVIEW])
def test_a_pass_earns_the_credential_without_cooldown(status):
    e = at_status(status, attempts_used=1)
    e.decide(DecisionOutcome.PASSED, T0 + DAY)
    assert (e.status, e.closed_at, e.may_reenroll_from) == (S.EARNED, T0 + DAY, T0 + DAY)
    assert e.ob3_result_status == "Completed"
    assert not e.active


def test_not_earned_ends_the_enrollment_with_the_cooldown():
    e = at_status(S.UNDER_REVIEW, attempts_used=1)
    e.decide(DecisionOutcome.NOT_EARNED, T0 + DAY)
    assert (e.status, e.end_reason) == (S.NOT_EARNED, EndReason.ASSESSED_NOT_EARNED)
    assert e.ob3_result_status == "Failed"


def test_a_revision_request_with_no_attempts_left_is_not_earned():
    e = at_status(S.UNDER_REVIEW, attempts_used=2)
    e.decide(DecisionOutcome.REVISION_REQUESTED, T0 + DAY)
    assert (e.status, e.end_reason) == (S.NOT_EARNED, EndReason.ATTEMPTS_EXHAUSTED)
    assert e.may_reenroll_from == T0 + 31 * DAY


def test_a_revision_request_after_the_deadline_is_not_earned():
    e = at_status(S.UNDER_REVIEW, attempts_used=1)
    e.decide(DecisionOutcome.REVISION_REQUESTED, T0 + 181 * DAY)
    assert (e.status, e.end_reason) == (S.NOT_EARNED, EndReason.DEADLINE_PASSED)


@pytest.mark.parametrize(
    "status", [S.ENROLLED, S.RETURNED_INCOMPLETE, S.REVISION_REQUESTED, S.EARNED, S.EXPIRED]
)
def test_a_decision_needs_a_submission_with_the_assessors(status):
    with refused(Refusal.NOT_ALLOWED_NOW):
        at_status(status, attempts_used=1).decide(DecisionOutcome.PASSED, T0 + DAY)


# -- withdrawal and expiry ---------------------------------------------------------------------


@pytest.mark.parametrize("status", sorted(ACTIVE))
def test_an_open_enrollment_can_be_withdrawn(status):
    e = at_status(status)
    e.withdraw(T0 + DAY)
    assert (e.status, e.closed_at, e.ob3_result_status) == (S.WITHDRAWN, T0 + DAY, "Withdrew")


@pytest.mark.parametrize("status", [S.EARNED, S.NOT_EARNED, S.WITHDRAWN, S.EXPIRED])
def test_a_closed_enrollment_cannot_be_withdrawn(status):
    with refused(Refusal.NOT_ALLOWED_NOW):
        at_status(status).withdraw(T0 + DAY)


@pytest.mark.parametrize("status", [S.ENROLLED, S.RETURNED_INCOMPLETE, S.REVISION_REQUESTED])
def test_the_deadline_expires_an_enrollment_waiting_on_the_educator(status):
    e = at_status(status, attempts_used=1)
    e.expire(T0 + 180 * DAY)
    assert (e.status, e.end_reason) == (S.EXPIRED, EndReason.DEADLINE_PASSED)
    assert e.may_reenroll_from == T0 + 210 * DAY


def test_nothing_expires_before_the_deadline():
    with refused(Refusal.NOT_ALLOWED_NOW):
        start().expire(T0 + 180 * DAY - timedelta(seconds=1))


@pytest.mark.parametrize("status", [S.SUBMITTED, S.UNDER_REVIEW, S.RESUBMITTED, S.EARNED])
def test_a_submission_with_the_assessors_is_decided_before_it_can_expire(status):
    with refused(Refusal.NOT_ALLOWED_NOW):
        at_status(status, attempts_used=1).expire(T0 + 365 * DAY)


def test_every_status_has_an_open_badges_result_status():
    assert set(OB3_RESULT_STATUS) == set(EnrollmentStatus)


def test_the_database_index_and_the_domain_agree_on_what_is_active():
    assert set(ACTIVE_STATUSES) == {s.value for s in ACTIVE}
