"""The ``enrollment.enrollments`` events, each built in one place from the enrollment it is about
and emitted on a unit of work with its deterministic id.

A deterministic event id per transition (a ``uuid5`` of the enrollment or submission and what
happened): a retried command that committed once cannot add a second event for it (the
outbox's event id is unique).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from enrollment.domain.enrollment import Enrollment
from enrollment.domain.evidence import Artifact, Problem
from enrollment.domain.roster import EducatorRecord
from mc_events.contracts.enrollment import (
    ArtifactRef,
    CompletenessProblem,
    DeadlineApproaching,
    Enrolled,
    EvidenceSubmitted,
    Expired,
    NotEarned,
    NotEarnedReason,
    SubmissionReturnedIncomplete,
    Withdrawn,
)
from mc_platform.unit_of_work import UnitOfWork

_EVENT_NAMESPACE = uuid.UUID("0f4a1c52-3f39-4d0e-9a55-7d1c6f2b8e41")


def event_id(subject_id: str, what: str) -> str:
    """The id of the event saying ``what`` happened to ``subject_id`` (an enrollment or a
    submission)."""
    return str(uuid.uuid5(_EVENT_NAMESPACE, f"{subject_id}/{what}"))


def enrolled(uow: UnitOfWork, enrollment: Enrollment) -> None:
    uow.emit(
        Enrolled(
            enrollment_id=enrollment.enrollment_id,
            educator_id=enrollment.educator_id,
            district_id=enrollment.district_id,
            micro_credential_id=enrollment.micro_credential_id,
            micro_credential_version=enrollment.micro_credential_version,
            purpose=enrollment.purpose,
            enrolled_at=enrollment.enrolled_at,
            deadline_at=enrollment.deadline_at,
        ),
        event_id=event_id(enrollment.enrollment_id, "enrolled"),
    )


def withdrawn(uow: UnitOfWork, enrollment: Enrollment, *, reason: str) -> None:
    assert enrollment.closed_at is not None
    uow.emit(
        Withdrawn(
            enrollment_id=enrollment.enrollment_id,
            educator_id=enrollment.educator_id,
            micro_credential_id=enrollment.micro_credential_id,
            reason=reason,
            withdrawn_at=enrollment.closed_at,
        ),
        event_id=event_id(enrollment.enrollment_id, "withdrawn"),
    )


def expired(uow: UnitOfWork, enrollment: Enrollment) -> None:
    assert enrollment.closed_at is not None
    assert enrollment.may_reenroll_from is not None
    uow.emit(
        Expired(
            enrollment_id=enrollment.enrollment_id,
            educator_id=enrollment.educator_id,
            micro_credential_id=enrollment.micro_credential_id,
            micro_credential_version=enrollment.micro_credential_version,
            attempts_used=enrollment.attempts_used,
            deadline_at=enrollment.deadline_at,
            expired_at=enrollment.closed_at,
            may_reenroll_from=enrollment.may_reenroll_from,
        ),
        event_id=event_id(enrollment.enrollment_id, "expired"),
    )


def not_earned(uow: UnitOfWork, enrollment: Enrollment, *, decision_id: str) -> None:
    assert enrollment.end_reason is not None
    assert enrollment.closed_at is not None
    assert enrollment.may_reenroll_from is not None
    uow.emit(
        NotEarned(
            enrollment_id=enrollment.enrollment_id,
            educator_id=enrollment.educator_id,
            district_id=enrollment.district_id,
            micro_credential_id=enrollment.micro_credential_id,
            micro_credential_version=enrollment.micro_credential_version,
            reason=NotEarnedReason(enrollment.end_reason.value),
            attempts_used=enrollment.attempts_used,
            decision_id=decision_id,
            recorded_at=enrollment.closed_at,
            may_reenroll_from=enrollment.may_reenroll_from,
        ),
        event_id=event_id(enrollment.enrollment_id, "not_earned"),
    )


def deadline_approaching(
    uow: UnitOfWork, enrollment: Enrollment, *, days_before: int, now: datetime
) -> None:
    uow.emit(
        DeadlineApproaching(
            enrollment_id=enrollment.enrollment_id,
            educator_id=enrollment.educator_id,
            micro_credential_id=enrollment.micro_credential_id,
            micro_credential_version=enrollment.micro_credential_version,
            status=enrollment.status.value,
            days_before=days_before,
            deadline_at=enrollment.deadline_at,
            attempts_left=enrollment.attempts_left,
            reminded_at=now,
        ),
        event_id=event_id(enrollment.enrollment_id, f"deadline_approaching/{days_before}"),
    )


def returned_incomplete(
    uow: UnitOfWork,
    enrollment: Enrollment,
    *,
    submission_id: str,
    problems: Sequence[Problem],
    now: datetime,
) -> None:
    uow.emit(
        SubmissionReturnedIncomplete(
            enrollment_id=enrollment.enrollment_id,
            submission_id=submission_id,
            educator_id=enrollment.educator_id,
            problems=tuple(
                CompletenessProblem(
                    requirement_id=p.requirement_id, problem=p.problem, detail=p.detail
                )
                for p in problems
            ),
            returned_at=now,
        ),
        event_id=event_id(submission_id, "returned_incomplete"),
    )


def evidence_submitted(
    uow: UnitOfWork,
    enrollment: Enrollment,
    *,
    submission_id: str,
    artifacts: Sequence[Artifact],
    roster: EducatorRecord | None,
    now: datetime,
) -> None:
    """The submission goes to review: where the educator works now (the roster's record, else
    the district they enrolled in) and references to the artifacts, never their content."""
    uow.emit(
        EvidenceSubmitted(
            enrollment_id=enrollment.enrollment_id,
            submission_id=submission_id,
            attempt=enrollment.attempts_used,
            educator_id=enrollment.educator_id,
            district_id=roster.district_id if roster else enrollment.district_id,
            school_id=roster.school_id if roster else None,
            supervisor_id=roster.supervisor_id if roster else None,
            micro_credential_id=enrollment.micro_credential_id,
            micro_credential_version=enrollment.micro_credential_version,
            artifacts=tuple(
                ArtifactRef(
                    artifact_id=a.artifact_id,
                    requirement_id=a.requirement_id,
                    kind=a.kind,
                    content_type=a.content_type,
                    size_bytes=a.size_bytes,
                    sha256=a.sha256,
                    uri=a.uri,
                    word_count=a.word_count,
                )
                for a in artifacts
            ),
            submitted_at=now,
            deadline_at=enrollment.deadline_at,
        ),
        event_id=event_id(submission_id, "evidence_submitted"),
    )
