"""Evidence commands (add artifacts, submit), reading evidence, and review events coming back.

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
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from enrollment.adapters.object_store import ObjectStore, StoredObject, key_of
from enrollment.domain import evidence as rules
from enrollment.domain.enrollment import (
    DecisionOutcome,
    EnrollmentRefused,
    EnrollmentStatus,
)
from enrollment.domain.evidence import (
    Artifact,
    Decision,
    Problem,
    ReleasedAssignment,
    ReviewAssignment,
    Submission,
    TooLarge,
)
from enrollment.service_layer import events
from enrollment.service_layer.enrollments import own_enrollment
from enrollment.service_layer.unit_of_work import UnitOfWork
from mc_events.consumer import NonRetryableError
from mc_events.contracts.common import EvidenceKind
from mc_events.contracts.review import Assigned, AssignmentEscalated, Decided, EscalationOutcome
from mc_events.envelope import Received
from mc_platform.refusals import NotFound

log = logging.getLogger(__name__)


class UnknownArtifact(NotFound):
    """No such artifact, or not one the caller may read (the same answer for both)."""

    def __init__(self) -> None:
        super().__init__("no such artifact")


@dataclass(frozen=True)
class SubmissionResult:
    submission_id: str
    complete: bool
    attempt: int | None
    problems: tuple[Problem, ...]
    status: EnrollmentStatus
    replayed: bool = False
    """True when this answers a repeat of an earlier submission (same idempotency key)."""


# -- adding evidence ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Content:
    """What a requirement accepted: how to store the content under a key, and what to record."""

    put: Callable[[str], Awaitable[StoredObject]]
    content_type: str
    word_count: int | None = None


async def _add_artifact(
    uow: UnitOfWork,
    store: ObjectStore,
    accept: Callable[[rules.Requirement], _Content],
    enrollment_id: str,
    educator_id: str,
    requirement_id: str,
    now: datetime,
) -> Artifact:
    """Add one artifact for a requirement of the educator's enrollment, if it takes evidence
    now and the requirement ``accept``s the content. The content is stored outside any
    transaction, then the artifact is recorded after checking again under the row lock (the
    enrollment may have moved on while the content streamed); if that fails, the stored object
    is removed."""
    async with uow:
        enrollment = await own_enrollment(uow, enrollment_id, educator_id)
        enrollment.check_accepts_evidence(now)
        requirements = await uow.evidence.requirements(
            enrollment.micro_credential_id, enrollment.micro_credential_version
        )
    requirement = next((r for r in requirements if r.id == requirement_id), None)
    if requirement is None:
        raise rules.EvidenceRejected(f"the micro-credential has no requirement {requirement_id}")
    content = accept(requirement)
    artifact_id = str(uuid.uuid4())
    key = f"{enrollment_id}/{artifact_id}"
    stored = await content.put(key)
    try:
        async with uow:
            enrollment = await own_enrollment(uow, enrollment_id, educator_id, for_update=True)
            enrollment.check_accepts_evidence(now)
            artifact = Artifact(
                artifact_id=artifact_id,
                enrollment_id=enrollment_id,
                requirement_id=requirement.id,
                kind=requirement.kind,
                content_type=content.content_type,
                size_bytes=stored.size_bytes,
                sha256=stored.sha256,
                uri=stored.uri,
                word_count=content.word_count,
                submission_id=None,
                created_at=now,
            )
            await uow.evidence.add_artifact(artifact)
            await uow.commit()
        return artifact
    except BaseException:
        await store.delete(key)
        raise


async def add_file(
    uow: UnitOfWork,
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
) -> Artifact:
    """Stream one file for a requirement into the store and record it as a draft artifact."""

    def accept(requirement: rules.Requirement) -> _Content:
        media = rules.check_file(requirement, content_type)
        if content_length is not None and content_length > max_bytes:
            raise TooLarge(f"larger than {max_bytes} bytes")
        return _Content(lambda key: store.put(key, chunks, max_bytes=max_bytes), media)

    return await _add_artifact(uow, store, accept, enrollment_id, educator_id, requirement_id, now)


async def add_text(
    uow: UnitOfWork,
    store: ObjectStore,
    *,
    enrollment_id: str,
    educator_id: str,
    requirement_id: str,
    text: str | None,
    url: str | None,
    now: datetime,
) -> Artifact:
    """A written reflection (word limits checked) or a link, for one requirement."""

    def accept(requirement: rules.Requirement) -> _Content:
        if requirement.kind is EvidenceKind.LINK:
            link = rules.check_link(requirement, url or "").encode()
            return _Content(lambda key: store.put_bytes(key, link), "text/uri-list")
        if requirement.kind is EvidenceKind.REFLECTION:
            words = rules.check_reflection(requirement, text or "")
            body = (text or "").encode()
            return _Content(lambda key: store.put_bytes(key, body), "text/plain", words)
        raise rules.EvidenceRejected(
            f"requirement {requirement.id} takes a {requirement.kind.value} file upload"
        )

    return await _add_artifact(uow, store, accept, enrollment_id, educator_id, requirement_id, now)


# -- submitting --------------------------------------------------------------------------------


async def submit(
    uow: UnitOfWork, *, enrollment_id: str, educator_id: str, idempotency_key: str, now: datetime
) -> SubmissionResult:
    async with uow:
        enrollment = await own_enrollment(uow, enrollment_id, educator_id, for_update=True)
        # The enrollment row lock serialises submissions: a repeat finds the first one's row.
        earlier = await uow.evidence.submission_by_key(enrollment_id, idempotency_key)
        if earlier is not None:
            return SubmissionResult(
                submission_id=earlier.submission_id,
                complete=earlier.complete,
                attempt=earlier.attempt,
                problems=earlier.problems,
                status=enrollment.status,
                replayed=True,
            )
        requirements = await uow.evidence.requirements(
            enrollment.micro_credential_id, enrollment.micro_credential_version
        )
        drafts = await uow.evidence.drafts(enrollment_id)
        problems = tuple(
            rules.completeness(
                requirements,
                [rules.PresentArtifact(d.requirement_id, d.word_count) for d in drafts],
            )
        )
        enrollment.submit(now, complete=not problems)
        submission = Submission(
            submission_id=str(uuid.uuid4()),
            enrollment_id=enrollment_id,
            idempotency_key=idempotency_key,
            complete=not problems,
            attempt=enrollment.attempts_used if not problems else None,
            problems=problems,
            submitted_at=now,
        )
        await uow.evidence.add_submission(submission)
        await uow.enrollments.save(enrollment)
        if problems:
            events.returned_incomplete(
                uow,
                enrollment,
                submission_id=submission.submission_id,
                problems=problems,
                now=now,
            )
        else:
            await uow.evidence.attach([d.artifact_id for d in drafts], submission.submission_id)
            events.evidence_submitted(
                uow,
                enrollment,
                submission_id=submission.submission_id,
                artifacts=drafts,
                roster=await uow.roster.get(educator_id),
                now=now,
            )
        await uow.commit()
    return SubmissionResult(
        submission_id=submission.submission_id,
        complete=submission.complete,
        attempt=submission.attempt,
        problems=problems,
        status=enrollment.status,
    )


async def submissions_of(
    uow: UnitOfWork, *, enrollment_id: str, educator_id: str
) -> list[Submission]:
    """The educator's submissions of one enrollment, with the decision and per-criterion
    feedback of each attempt (no assessor ids: review is blind both ways)."""
    async with uow:
        await own_enrollment(uow, enrollment_id, educator_id)
        return await uow.evidence.submissions_for(enrollment_id)


# -- reading evidence --------------------------------------------------------------------------


@dataclass(frozen=True)
class Reader:
    """Who asks to read evidence."""

    educator_id: str | None
    assessor_id: str | None
    state_admin: bool


@dataclass(frozen=True)
class ArtifactContent:
    artifact: Artifact
    chunks: AsyncIterator[bytes]


async def _may_read(uow: UnitOfWork, artifact: Artifact, reader: Reader) -> bool:
    if reader.state_admin:
        return True
    if reader.educator_id is not None:
        enrollment = await uow.enrollments.get(artifact.enrollment_id)
        if enrollment is not None and enrollment.educator_id == reader.educator_id:
            return True
    if reader.assessor_id is not None and artifact.submission_id is not None:
        held, released = await uow.evidence.assignments_of(
            artifact.submission_id, reader.assessor_id
        )
        if rules.assessor_may_read(reader.assessor_id, held, released):
            return True
    return False


async def open_artifact(
    uow: UnitOfWork, store: ObjectStore, artifact_id: str, reader: Reader
) -> ArtifactContent:
    """The artifact and its content if ``reader`` may read it, else :class:`UnknownArtifact`
    (the same answer as for an unknown artifact). Evidence holds student work: the educator
    who made it, the assessors assigned to the submission it was sent with (not one whose
    assignment review released, reassigning the work as overdue), and the state may read it."""
    async with uow:
        artifact = await uow.evidence.artifact(artifact_id)
        if artifact is None or not await _may_read(uow, artifact, reader):
            raise UnknownArtifact()
    return ArtifactContent(artifact, await store.read(key_of(artifact.uri)))


# -- review events (consumer side: the uow joins the consumer's transaction) --------------------


async def on_assigned(uow: UnitOfWork, received: Received[Assigned]) -> None:
    """The first assignment of a submission puts it under review. Assignments for enrollments
    this service does not know, or no longer waiting on review, change nothing (a second
    rater's assignment, or another environment's events on the shared topic)."""
    event = received.event
    enrollment = await uow.enrollments.get(event.enrollment_id, for_update=True)
    if enrollment is None:
        return
    await uow.evidence.record_assignment(
        ReviewAssignment(
            assignment_id=event.assignment_id,
            enrollment_id=event.enrollment_id,
            submission_id=event.submission_id,
            assessor_id=event.assessor_id,
            assigned_at=event.assigned_at,
        )
    )
    if enrollment.status in (EnrollmentStatus.SUBMITTED, EnrollmentStatus.RESUBMITTED):
        enrollment.start_review()
        await uow.enrollments.save(enrollment)


async def on_assignment_escalated(uow: UnitOfWork, received: Received[AssignmentEscalated]) -> None:
    """An overdue assignment was reassigned: the released assessor loses read access to the
    evidence (the new assessor gains it from the new assignment's ``review.assigned``).

    The release is recorded by assignment id, whether or not the released assignment's own
    ``review.assigned`` came in yet, so a late one restores nothing; a redelivery records
    nothing twice. ``needs_state_admin`` leaves the assignment (and the access) with its
    assessor. Enrollments this service does not know are skipped, as for ``review.assigned``."""
    event = received.event
    if event.outcome is not EscalationOutcome.REASSIGNED:
        log.info(
            "assignment %s is overdue with nobody to take it (escalation %s): access unchanged",
            event.overdue_assignment_id,
            event.escalation_id,
        )
        return
    if await uow.enrollments.get(event.enrollment_id) is None:
        return
    await uow.evidence.record_release(
        ReleasedAssignment(
            assignment_id=event.overdue_assignment_id,
            enrollment_id=event.enrollment_id,
            submission_id=event.submission_id,
            assessor_id=event.overdue_assessor_id,
            escalation_id=event.escalation_id,
            released_at=event.escalated_at,
        )
    )


async def on_decided(uow: UnitOfWork, received: Received[Decided]) -> None:
    """Move the enrollment by the decision. A decision for an unknown enrollment, for another
    submission than the one under review, or for a closed enrollment can never apply: it goes
    to the dead-letter topic (NonRetryableError) for an operator, never silently away. The
    decision already recorded on its submission (the same decision id, delivered again) changes
    nothing.

    A decision for misconduct is not earned: the enrollment ends with the cooldown like any
    not-earned decision (``NotEarned`` keeps the reason ``assessed_not_earned``, the contract
    having no misconduct reason); the kind is kept on the enrollment and the submission for the
    educator's feedback."""
    event = received.event
    enrollment = await uow.enrollments.get(event.enrollment_id, for_update=True)
    if enrollment is None:
        raise NonRetryableError(f"decision {event.decision_id}: unknown enrollment")
    decided = await uow.evidence.submission(event.submission_id)
    if (
        decided is not None
        and decided.enrollment_id == event.enrollment_id
        and decided.decision is not None
        and decided.decision.decision_id == event.decision_id
    ):
        log.info("decision %s was recorded already: nothing to do", event.decision_id)
        return
    current = await uow.evidence.latest_complete_submission(event.enrollment_id)
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
    await uow.enrollments.save(enrollment)
    await uow.evidence.record_decision(
        event.submission_id,
        Decision(
            decision_id=event.decision_id,
            outcome=event.outcome,
            results=event.results,
            decided_at=event.decided_at,
            misconduct=event.misconduct,
        ),
    )
    if enrollment.status is EnrollmentStatus.NOT_EARNED:
        events.not_earned(uow, enrollment, decision_id=event.decision_id)
