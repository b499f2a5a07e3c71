"""Enrollments (enrollment service, topic ``enrollment.enrollments``, key = enrollment id).

One enrollment is one educator working towards one micro-credential version: enrolled, then
one or more submissions of evidence, then an outcome (awarded via review and registry, or
withdrawn, expired, not earned). Keying by enrollment id keeps each enrollment's events in
order.

Evidence is private (it holds student work): events carry references to artifacts with their
size and checksum, never the content.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from pydantic import AwareDatetime, Field

from mc_events.contracts.base import Event
from mc_events.contracts.common import EvidenceKind, Id, Purpose, Sha256, ValueObject
from mc_events.topics import ENROLLMENTS


class ArtifactRef(ValueObject):
    """A reference to one submitted artifact (never its content)."""

    artifact_id: Id
    requirement_id: Id = Field(description="The evidence requirement this artifact answers.")
    kind: EvidenceKind
    content_type: str = Field(description="Media type, e.g. 'video/mp4', 'text/plain'.")
    size_bytes: int = Field(ge=0)
    sha256: Sha256
    uri: str = Field(
        description="Where the artifact is stored in the private evidence store; readable only "
        "with the evidence store's access control, never public."
    )
    word_count: int | None = Field(
        default=None, ge=0, description="Word count, for text artifacts (reflections)."
    )


class CompletenessProblemKind(StrEnum):
    """Why a submission failed the completeness check."""

    MISSING = "missing"
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    UNREADABLE = "unreadable"


class CompletenessProblem(ValueObject):
    """One thing wrong with a submission, per evidence requirement."""

    requirement_id: Id
    problem: CompletenessProblemKind
    detail: str = Field(default="", description="Explanation for the educator.")


class NotEarnedReason(StrEnum):
    """Why an enrollment ended without a credential."""

    ATTEMPTS_EXHAUSTED = "attempts_exhausted"
    DEADLINE_PASSED = "deadline_passed"
    ASSESSED_NOT_EARNED = "assessed_not_earned"


class Enrolled(Event):
    """An educator enrolled in a micro-credential.

    Emitted by the enrollment service when it accepts an enrollment: the micro-credential
    version is published, and the educator has no other active enrollment in it and is past
    any cooldown.
    """

    event_type: ClassVar[str] = "enrollment.enrolled"
    topic: ClassVar[str] = ENROLLMENTS.name
    key_field: ClassVar[str] = "enrollment_id"

    enrollment_id: Id
    educator_id: Id = Field(description="The state educator id.")
    district_id: Id = Field(description="The educator's district at enrollment.")
    micro_credential_id: Id
    micro_credential_version: int = Field(ge=1)
    purpose: Purpose = Field(description="What the educator wants the credential to count for.")
    enrolled_at: AwareDatetime
    deadline_at: AwareDatetime = Field(description="enrolled_at + the completion window.")


class EvidenceSubmitted(Event):
    """An educator submitted evidence and it passed the completeness check.

    Emitted by the enrollment service once every required artifact is present and word limits
    are met; review assigns it to an assessor. Carries the educator's district, school and
    supervisor ids (never names) so that review computes conflicts of interest without
    seeing who the educator is.
    """

    event_type: ClassVar[str] = "enrollment.evidence_submitted"
    topic: ClassVar[str] = ENROLLMENTS.name
    key_field: ClassVar[str] = "enrollment_id"

    enrollment_id: Id
    submission_id: Id
    attempt: int = Field(ge=1, description="1 for the first submission, 2 for the next, ...")
    educator_id: Id = Field(description="The state educator id.")
    district_id: Id
    school_id: Id | None = None
    supervisor_id: Id | None = Field(
        default=None, description="State educator id of the educator's supervisor."
    )
    micro_credential_id: Id
    micro_credential_version: int = Field(ge=1)
    artifacts: tuple[ArtifactRef, ...] = Field(min_length=1)
    submitted_at: AwareDatetime
    deadline_at: AwareDatetime = Field(description="The enrollment's deadline.")


class SubmissionReturnedIncomplete(Event):
    """A submission failed the completeness check and went back to the educator.

    Emitted by the enrollment service at once, before anything reaches an assessor, when a
    required artifact is missing or a word limit is not met. The educator may fix it and
    submit again before the deadline.
    """

    event_type: ClassVar[str] = "enrollment.submission_returned_incomplete"
    topic: ClassVar[str] = ENROLLMENTS.name
    key_field: ClassVar[str] = "enrollment_id"

    enrollment_id: Id
    submission_id: Id
    educator_id: Id = Field(description="The state educator id.")
    problems: tuple[CompletenessProblem, ...] = Field(
        min_length=1, description="What is missing or wrong, per requirement."
    )
    returned_at: AwareDatetime


class Withdrawn(Event):
    """An educator withdrew from an enrollment.

    Emitted by the enrollment service when the educator (or an operator on their behalf)
    withdraws before an outcome. Pending review assignments for it are cancelled.
    """

    event_type: ClassVar[str] = "enrollment.withdrawn"
    topic: ClassVar[str] = ENROLLMENTS.name
    key_field: ClassVar[str] = "enrollment_id"

    enrollment_id: Id
    educator_id: Id = Field(description="The state educator id.")
    micro_credential_id: Id
    reason: str = Field(default="", description="Why, in words, if given.")
    withdrawn_at: AwareDatetime


class Expired(Event):
    """An enrollment reached its deadline without a passing decision.

    Emitted by the enrollment service's deadline sweep when ``deadline_at`` passes while the
    enrollment waits on the educator (nothing submitted, or a revision not resubmitted in time).
    A submission already under review at the deadline is decided first. No further events
    follow for the enrollment.
    """

    event_type: ClassVar[str] = "enrollment.expired"
    topic: ClassVar[str] = ENROLLMENTS.name
    key_field: ClassVar[str] = "enrollment_id"

    enrollment_id: Id
    educator_id: Id = Field(description="The state educator id.")
    micro_credential_id: Id
    micro_credential_version: int = Field(ge=1)
    attempts_used: int = Field(ge=0)
    deadline_at: AwareDatetime
    expired_at: AwareDatetime
    may_reenroll_from: AwareDatetime = Field(
        description="Earliest time the educator may enroll again (after the cooldown)."
    )


class NotEarned(Event):
    """An enrollment ended without the credential.

    Emitted by the enrollment service when a review decision is ``not_earned``, or a
    ``revision_requested`` decision arrives with no attempts (or time) left. The educator
    may enroll again after the cooldown.
    """

    event_type: ClassVar[str] = "enrollment.not_earned"
    topic: ClassVar[str] = ENROLLMENTS.name
    key_field: ClassVar[str] = "enrollment_id"

    enrollment_id: Id
    educator_id: Id = Field(description="The state educator id.")
    district_id: Id
    micro_credential_id: Id
    micro_credential_version: int = Field(ge=1)
    reason: NotEarnedReason
    attempts_used: int = Field(ge=0)
    decision_id: Id | None = Field(
        default=None, description="The review decision that ended it, if one did."
    )
    recorded_at: AwareDatetime
    may_reenroll_from: AwareDatetime = Field(
        description="Earliest time the educator may enroll again (after the cooldown)."
    )


class DeadlineApproaching(Event):
    """An enrollment's completion window closes soon and it still waits on the educator.

    Emitted by the enrollment service's deadline sweep once per enrollment and reminder
    threshold (by default 14 and 3 days before ``deadline_at``) while the enrollment waits on
    the educator (nothing submitted yet, returned incomplete, or a revision requested); never
    for a closed enrollment or one whose submission is with the assessors. When a sweep finds
    several thresholds passed at once it sends only the nearest one. Notification services
    turn it into a reminder to the educator.
    """

    event_type: ClassVar[str] = "enrollment.deadline_approaching"
    topic: ClassVar[str] = ENROLLMENTS.name
    key_field: ClassVar[str] = "enrollment_id"

    enrollment_id: Id
    educator_id: Id = Field(description="The state educator id.")
    micro_credential_id: Id
    micro_credential_version: int = Field(ge=1)
    status: str = Field(
        description="The enrollment's status: enrolled, returned_incomplete or revision_requested."
    )
    days_before: int = Field(ge=1, description="The reminder threshold that was reached, in days.")
    deadline_at: AwareDatetime
    attempts_left: int = Field(ge=0)
    reminded_at: AwareDatetime


__all__ = [
    "ArtifactRef",
    "CompletenessProblem",
    "CompletenessProblemKind",
    "DeadlineApproaching",
    "Enrolled",
    "EvidenceSubmitted",
    "Expired",
    "NotEarned",
    "NotEarnedReason",
    "SubmissionReturnedIncomplete",
    "Withdrawn",
]
