"""Evidence commands (add artifacts, submit) and review decisions coming back.

Files are streamed to the evidence store outside any database transaction (a large video must
not hold locks); the artifact row is written afterwards, after checking the enrollment again,
and the stored object is removed if that fails. Submitting runs the completeness check at once:
an incomplete submission is returned (``SubmissionReturnedIncomplete``), a complete one goes to
review (``EvidenceSubmitted``). A submission carries an idempotency key: sending it twice
counts once and answers the same.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from enrollment.adapters.enrollment_repository import EnrollmentRepository
from enrollment.adapters.evidence_repository import EvidenceRepository
from enrollment.adapters.object_store import ObjectStore, StoredObject, TooLarge
from enrollment.adapters.roster_repository import RosterRepository
from enrollment.domain import evidence as rules
from enrollment.domain.enrollment import (
    DecisionOutcome,
    Enrollment,
    EnrollmentRefused,
    EnrollmentStatus,
)
from enrollment.service_layer.enrollments import UnknownEnrollment, event_id
from enrollment.service_layer.unit_of_work import UnitOfWork
from mc_events import outbox
from mc_events.consumer import NonRetryableError
from mc_events.contracts.common import EvidenceKind
from mc_events.contracts.enrollment import (
    ArtifactRef,
    CompletenessProblem,
    EvidenceSubmitted,
    NotEarned,
    NotEarnedReason,
    SubmissionReturnedIncomplete,
)
from mc_events.contracts.review import (
    Assigned,
    AssignmentEscalated,
    Decided,
    EscalationOutcome,
)

log = logging.getLogger(__name__)

__all__ = ["TooLarge", "UnknownEnrollment"]


@dataclass(frozen=True)
class ArtifactOut:
    artifact_id: str
    requirement_id: str
    kind: str
    content_type: str
    size_bytes: int
    sha256: str
    word_count: int | None


@dataclass(frozen=True)
class SubmissionOut:
    submission_id: str
    complete: bool
    attempt: int | None
    problems: list[dict[str, str]]
    status: str
    replayed: bool = False
    """True when this answers a repeat of an earlier submission (same idempotency key)."""


async def _own_enrollment(
    uow: UnitOfWork, enrollment_id: str, educator_id: str, *, for_update: bool
) -> Enrollment:
    enrollment = await EnrollmentRepository(uow.session).get(enrollment_id, for_update=for_update)
    if enrollment is None or enrollment.educator_id != educator_id:
        raise UnknownEnrollment(enrollment_id)
    return enrollment


async def _requirement(uow: UnitOfWork, enrollment: Enrollment, requirement_id: str) -> Any:
    requirements = await EvidenceRepository(uow.session).requirements(
        enrollment.micro_credential_id, enrollment.micro_credential_version
    )
    for requirement in requirements:
        if requirement.id == requirement_id:
            return requirement
    raise rules.EvidenceRejected(422, f"the micro-credential has no requirement {requirement_id}")


def _artifact_out(values: dict[str, Any]) -> ArtifactOut:
    return ArtifactOut(
        artifact_id=values["artifact_id"],
        requirement_id=values["requirement_id"],
        kind=values["kind"],
        content_type=values["content_type"],
        size_bytes=values["size_bytes"],
        sha256=values["sha256"],
        word_count=values["word_count"],
    )


async def _record_artifact(
    uow: UnitOfWork,
    enrollment_id: str,
    educator_id: str,
    *,
    artifact_id: str,
    requirement: rules.Requirement,
    content_type: str,
    stored: StoredObject,
    word_count: int | None,
    now: datetime,
) -> ArtifactOut:
    # Checked again under the row lock: the enrollment may have moved on while we streamed.
    enrollment = await _own_enrollment(uow, enrollment_id, educator_id, for_update=True)
    enrollment.check_accepts_evidence(now)
    values = {
        "artifact_id": artifact_id,
        "enrollment_id": enrollment_id,
        "requirement_id": requirement.id,
        "kind": requirement.kind.value,
        "content_type": content_type,
        "size_bytes": stored.size_bytes,
        "sha256": stored.sha256,
        "uri": stored.uri,
        "word_count": word_count,
        "submission_id": None,
        "created_at": now,
    }
    await EvidenceRepository(uow.session).add_artifact(values)
    await uow.commit()
    return _artifact_out(values)


async def add_file(
    uow_factory: Callable[[], UnitOfWork],
    store: ObjectStore,
    *,
    enrollment_id: str,
    educator_id: str,
    requirement_id: str,
    content_type: str | None,
    content_length: int | None,
    chunks: AsyncIterator[bytes],
    max_bytes: int,
    now: datetime,
) -> ArtifactOut:
    """Stream one file for a requirement into the store and record it as a draft artifact."""
    async with uow_factory() as uow:
        enrollment = await _own_enrollment(uow, enrollment_id, educator_id, for_update=False)
        enrollment.check_accepts_evidence(now)
        requirement = await _requirement(uow, enrollment, requirement_id)
    media = rules.check_file(requirement, content_type)
    if content_length is not None and content_length > max_bytes:
        raise TooLarge(f"larger than {max_bytes} bytes")
    artifact_id = str(uuid.uuid4())
    key = f"{enrollment_id}/{artifact_id}"
    stored = await store.put(key, chunks, max_bytes=max_bytes)
    try:
        async with uow_factory() as uow:
            return await _record_artifact(
                uow,
                enrollment_id,
                educator_id,
                artifact_id=artifact_id,
                requirement=requirement,
                content_type=media,
                stored=stored,
                word_count=None,
                now=now,
            )
    except BaseException:
        await store.delete(key)
        raise


async def add_text(
    uow_factory: Callable[[], UnitOfWork],
    store: ObjectStore,
    *,
    enrollment_id: str,
    educator_id: str,
    requirement_id: str,
    text: str | None,
    url: str | None,
    now: datetime,
) -> ArtifactOut:
    """A written reflection (word limits checked) or a link, for one requirement."""
    async with uow_factory() as uow:
        enrollment = await _own_enrollment(uow, enrollment_id, educator_id, for_update=False)
        enrollment.check_accepts_evidence(now)
        requirement = await _requirement(uow, enrollment, requirement_id)
    words: int | None = None
    if requirement.kind is EvidenceKind.LINK:
        body = rules.check_link(requirement, url or "").encode()
        content_type = "text/uri-list"
    elif requirement.kind is EvidenceKind.REFLECTION:
        words = rules.check_reflection(requirement, text or "")
        body = (text or "").encode()
        content_type = "text/plain"
    else:
        raise rules.EvidenceRejected(
            422, f"requirement {requirement.id} takes a {requirement.kind.value} file upload"
        )
    artifact_id = str(uuid.uuid4())
    key = f"{enrollment_id}/{artifact_id}"
    stored = await store.put_bytes(key, body)
    try:
        async with uow_factory() as uow:
            return await _record_artifact(
                uow,
                enrollment_id,
                educator_id,
                artifact_id=artifact_id,
                requirement=requirement,
                content_type=content_type,
                stored=stored,
                word_count=words,
                now=now,
            )
    except BaseException:
        await store.delete(key)
        raise


def _submission_out(row: Any, status: EnrollmentStatus) -> SubmissionOut:
    return SubmissionOut(
        submission_id=row.submission_id,
        complete=row.complete,
        attempt=row.attempt,
        problems=list(row.problems),
        status=status.value,
        replayed=True,
    )


async def submit(
    uow: UnitOfWork, *, enrollment_id: str, educator_id: str, idempotency_key: str, now: datetime
) -> SubmissionOut:
    enrollment = await _own_enrollment(uow, enrollment_id, educator_id, for_update=True)
    repo = EvidenceRepository(uow.session)
    # The enrollment row lock serialises submissions: a repeat finds the first one's row.
    earlier = await repo.submission_by_key(enrollment_id, idempotency_key)
    if earlier is not None:
        return _submission_out(earlier, enrollment.status)
    requirements = await repo.requirements(
        enrollment.micro_credential_id, enrollment.micro_credential_version
    )
    drafts = await repo.drafts(enrollment_id)
    problems = rules.completeness(
        requirements,
        [rules.PresentArtifact(d.requirement_id, d.word_count) for d in drafts],
    )
    enrollment.submit(now, complete=not problems)
    submission_id = str(uuid.uuid4())
    problem_rows = [
        {"requirement_id": p.requirement_id, "problem": p.problem.value, "detail": p.detail}
        for p in problems
    ]
    attempt = enrollment.attempts_used if not problems else None
    values: dict[str, Any] = {
        "submission_id": submission_id,
        "enrollment_id": enrollment_id,
        "idempotency_key": idempotency_key,
        "complete": not problems,
        "attempt": attempt,
        "problems": problem_rows,
        "submitted_at": now,
    }
    await repo.add_submission(values)
    await EnrollmentRepository(uow.session).save(enrollment)
    if problems:
        await outbox.add_event(
            uow.session,
            SubmissionReturnedIncomplete(
                enrollment_id=enrollment_id,
                submission_id=submission_id,
                educator_id=educator_id,
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
    else:
        await repo.attach([d.artifact_id for d in drafts], submission_id)
        roster = await RosterRepository(uow.session).get(educator_id)
        await outbox.add_event(
            uow.session,
            EvidenceSubmitted(
                enrollment_id=enrollment_id,
                submission_id=submission_id,
                attempt=enrollment.attempts_used,
                educator_id=educator_id,
                district_id=roster.district_id if roster else enrollment.district_id,
                school_id=roster.school_id if roster else None,
                supervisor_id=roster.supervisor_id if roster else None,
                micro_credential_id=enrollment.micro_credential_id,
                micro_credential_version=enrollment.micro_credential_version,
                artifacts=tuple(
                    ArtifactRef(
                        artifact_id=d.artifact_id,
                        requirement_id=d.requirement_id,
                        kind=EvidenceKind(d.kind),
                        content_type=d.content_type,
                        size_bytes=d.size_bytes,
                        sha256=d.sha256,
                        uri=d.uri,
                        word_count=d.word_count,
                    )
                    for d in drafts
                ),
                submitted_at=now,
                deadline_at=enrollment.deadline_at,
            ),
            event_id=event_id(submission_id, "evidence_submitted"),
        )
    await uow.commit()
    return SubmissionOut(
        submission_id=submission_id,
        complete=not problems,
        attempt=attempt,
        problems=problem_rows,
        status=enrollment.status.value,
    )


# -- review events (consumer side: never commit) -----------------------------------------------


async def on_assigned(session: AsyncSession, event: Assigned) -> None:
    """The first assignment of a submission puts it under review. Assignments for enrollments
    this service does not know, or no longer waiting on review, change nothing (a second
    rater's assignment, or another environment's events on the shared topic)."""
    enrollments = EnrollmentRepository(session)
    enrollment = await enrollments.get(event.enrollment_id, for_update=True)
    if enrollment is None:
        return
    await EvidenceRepository(session).record_assignment(
        {
            "assignment_id": event.assignment_id,
            "enrollment_id": event.enrollment_id,
            "submission_id": event.submission_id,
            "assessor_id": event.assessor_id,
            "assigned_at": event.assigned_at,
        }
    )
    if enrollment.status in (EnrollmentStatus.SUBMITTED, EnrollmentStatus.RESUBMITTED):
        enrollment.start_review()
        await enrollments.save(enrollment)


async def on_assignment_escalated(session: AsyncSession, event: AssignmentEscalated) -> None:
    """An overdue assignment was reassigned: the released assessor loses read access to the
    evidence (the new assessor gains it from the new assignment's ``review.assigned``).

    The release is recorded by assignment id, whether or not the released assignment's own
    ``review.assigned`` came in yet, so a late one restores nothing; a redelivery records
    nothing twice. ``needs_state_admin`` leaves the assignment (and the access) with its
    assessor. Enrollments this service does not know are skipped, as for ``review.assigned``."""
    if event.outcome is not EscalationOutcome.REASSIGNED:
        log.info(
            "assignment %s is overdue with nobody to take it (escalation %s): access unchanged",
            event.overdue_assignment_id,
            event.escalation_id,
        )
        return
    if await EnrollmentRepository(session).get(event.enrollment_id) is None:
        return
    await EvidenceRepository(session).record_release(
        {
            "assignment_id": event.overdue_assignment_id,
            "enrollment_id": event.enrollment_id,
            "submission_id": event.submission_id,
            "assessor_id": event.overdue_assessor_id,
            "escalation_id": event.escalation_id,
            "released_at": event.escalated_at,
        }
    )


async def on_decided(session: AsyncSession, event: Decided) -> None:
    """Move the enrollment by the decision. A decision for an unknown enrollment, for another
    submission than the one under review, or for a closed enrollment can never apply: it goes
    to the dead-letter topic (NonRetryableError) for an operator, never silently away. The
    decision already recorded on its submission (the same decision id, delivered again) changes
    nothing.

    A decision for misconduct is not earned: the enrollment ends with the cooldown like any
    not-earned decision (``NotEarned`` keeps the reason ``assessed_not_earned``, the contract
    having no misconduct reason); the kind is kept on the enrollment and the submission for the
    educator's feedback."""
    enrollments = EnrollmentRepository(session)
    enrollment = await enrollments.get(event.enrollment_id, for_update=True)
    if enrollment is None:
        raise NonRetryableError(f"decision {event.decision_id}: unknown enrollment")
    repo = EvidenceRepository(session)
    decided = await repo.submission(event.submission_id)
    if (
        decided is not None
        and decided.enrollment_id == event.enrollment_id
        and decided.decision_id == event.decision_id
    ):
        log.info("decision %s was recorded already: nothing to do", event.decision_id)
        return
    current = await repo.latest_complete_submission(event.enrollment_id)
    if current is None or current.submission_id != event.submission_id:
        raise NonRetryableError(
            f"decision {event.decision_id}: submission {event.submission_id} is not the one "
            f"under review for enrollment {event.enrollment_id}"
        )
    try:
        enrollment.decide(
            DecisionOutcome(event.outcome.value), event.decided_at, misconduct=event.misconduct
        )
    except EnrollmentRefused as exc:
        raise NonRetryableError(f"decision {event.decision_id}: {exc.detail}") from exc
    await enrollments.save(enrollment)
    await repo.record_decision(
        event.submission_id,
        {
            "decision_id": event.decision_id,
            "outcome": event.outcome.value,
            "results": [r.model_dump(mode="json") for r in event.results],
            "decided_at": event.decided_at,
            "misconduct": event.misconduct.value if event.misconduct else None,
        },
    )
    if enrollment.status is EnrollmentStatus.NOT_EARNED:
        assert enrollment.end_reason is not None
        assert enrollment.may_reenroll_from is not None
        await outbox.add_event(
            session,
            NotEarned(
                enrollment_id=enrollment.enrollment_id,
                educator_id=enrollment.educator_id,
                district_id=enrollment.district_id,
                micro_credential_id=enrollment.micro_credential_id,
                micro_credential_version=enrollment.micro_credential_version,
                reason=NotEarnedReason(enrollment.end_reason.value),
                attempts_used=enrollment.attempts_used,
                decision_id=event.decision_id,
                recorded_at=event.decided_at,
                may_reenroll_from=enrollment.may_reenroll_from,
            ),
            event_id=event_id(enrollment.enrollment_id, "not_earned"),
        )


async def submissions_of(uow: UnitOfWork, *, enrollment_id: str, educator_id: str) -> list[Any]:
    """The educator's submissions of one enrollment, with the decision and per-criterion
    feedback of each attempt (no assessor ids: review is blind both ways)."""
    await _own_enrollment(uow, enrollment_id, educator_id, for_update=False)
    return await EvidenceRepository(uow.session).submissions_for(enrollment_id)


@dataclass(frozen=True)
class Reader:
    """Who asks to read evidence."""

    educator_id: str | None
    assessor_id: str | None
    state_admin: bool


async def readable_artifact(uow: UnitOfWork, artifact_id: str, reader: Reader) -> Any:
    """The artifact row if ``reader`` may read it, else :class:`UnknownEnrollment` (the same
    answer as for an unknown artifact). Evidence holds student work: the educator who made it,
    the assessors assigned to the submission it was sent with (not one whose assignment review
    released, reassigning the work as overdue), and the state may read it."""
    artifact = await EvidenceRepository(uow.session).artifact(artifact_id)
    if artifact is None:
        raise UnknownEnrollment(artifact_id)
    if reader.state_admin:
        return artifact
    if reader.educator_id is not None:
        enrollment = await EnrollmentRepository(uow.session).get(artifact.enrollment_id)
        if enrollment is not None and enrollment.educator_id == reader.educator_id:
            return artifact
    if reader.assessor_id is not None and artifact.submission_id is not None:
        held, released = await EvidenceRepository(uow.session).assignments_of(
            artifact.submission_id, reader.assessor_id
        )
        if rules.assessor_may_read(reader.assessor_id, held, released):
            return artifact
    raise UnknownEnrollment(artifact_id)
