"""Commands that create reviews and assign them: run inside the caller's transaction.

The consumer calls :func:`on_evidence_submitted`; the assessor roster API calls
:func:`assign_pending` after a change that may have made someone eligible. Each assignment and
its ``review.assigned`` event commit together (outbox); the event id is the assignment id, which
is derived from (submission, slot), so a retried command cannot publish a second event.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from mc_events.contracts.enrollment import EvidenceSubmitted
from mc_events.contracts.review import AssessorRole, Assigned
from mc_events.outbox import add_event
from review.adapters import repository as repo
from review.adapters.repository import ReviewStatus
from review.config import Settings
from review.domain.assignment import Assessor, SubmissionFacts, choose_assessors
from review.domain.conflicts import EducatorFacts
from review.domain.sla import add_business_days, week_start

log = logging.getLogger(__name__)

_ASSIGNMENT_NS = uuid.UUID("6c1f4a0e-2b8e-4f59-9a53-0e7c5d1b2a11")


def assignment_id(submission_id: str, slot: int, generation: int = 1) -> str:
    """Derived from (submission, slot, generation): a retried command makes the same one."""
    name = f"{submission_id}/{slot}" if generation == 1 else f"{submission_id}/{slot}/{generation}"
    return str(uuid.uuid5(_ASSIGNMENT_NS, name))


@dataclass(frozen=True)
class AssignmentPolicy:
    raters_per_submission: int = 1
    sla_business_days: int = 5
    holidays: frozenset[date] = field(default_factory=frozenset)


def policy_of(settings: Settings) -> AssignmentPolicy:
    return AssignmentPolicy(
        raters_per_submission=settings.raters_per_submission,
        sla_business_days=settings.sla_business_days,
        holidays=frozenset(settings.holidays),
    )


async def on_evidence_submitted(
    session: AsyncSession, event: EvidenceSubmitted, policy: AssignmentPolicy, now: datetime
) -> list[Assigned]:
    """Create the review of a submission and assign it; a submission seen before is a no-op."""
    created = await repo.insert_review(
        session,
        {
            "submission_id": event.submission_id,
            "enrollment_id": event.enrollment_id,
            "attempt": event.attempt,
            "educator_id": event.educator_id,
            "district_id": event.district_id,
            "school_id": event.school_id,
            "supervisor_id": event.supervisor_id,
            "micro_credential_id": event.micro_credential_id,
            "micro_credential_version": event.micro_credential_version,
            "raters_required": policy.raters_per_submission,
            "status": ReviewStatus.AWAITING_ASSESSOR,
            "submitted_at": event.submitted_at,
            "received_at": now,
            # References only (never content); the assessor's blind view lists them.
            "artifacts": [a.model_dump(mode="json") for a in event.artifacts],
        },
    )
    if not created:
        log.info("submission %s already under review: nothing to do", event.submission_id)
        return []
    return await assign(session, event.submission_id, policy, now)


async def assign(
    session: AsyncSession, submission_id: str, policy: AssignmentPolicy, now: datetime
) -> list[Assigned]:
    """Fill the review's free rater slots with eligible assessors, least loaded first.

    Slots nobody can fill stay open: the review waits (status ``awaiting_assessor``) until an
    assessor roster change makes someone eligible.
    """
    await repo.lock_assignments(session)
    review = await repo.get_review(session, submission_id)
    if review is None or review.status != ReviewStatus.AWAITING_ASSESSOR:
        return []
    existing = await repo.assignments_of(session, submission_id)
    live = [row for row in existing if row.status != repo.AssignmentStatus.RELEASED]
    taken_slots = {row.slot for row in live}
    free_slots = [s for s in range(1, review.raters_required + 1) if s not in taken_slots]
    chosen = await candidates(
        session,
        review,
        count=len(free_slots),
        # Nobody who ever held this submission: the other rater, or one it was taken from.
        exclude={row.assessor_id for row in existing},
        loads=await repo.weekly_loads(session, week_start(now)),
    )
    due_at = add_business_days(now, policy.sla_business_days, policy.holidays)
    events: list[Assigned] = []
    for slot, assessor in zip(free_slots, chosen, strict=False):
        generation = 1 + max((row.generation for row in existing if row.slot == slot), default=0)
        new_id = assignment_id(submission_id, slot, generation)
        inserted = await repo.insert_assignment(
            session,
            {
                "assignment_id": new_id,
                "submission_id": submission_id,
                "slot": slot,
                "generation": generation,
                "role": AssessorRole.RATER.value,
                "assessor_id": assessor.assessor_id,
                "assigned_at": now,
                "due_at": due_at,
                "status": repo.AssignmentStatus.OPEN,
            },
        )
        if not inserted:
            continue
        event = Assigned(
            assignment_id=new_id,
            enrollment_id=review.enrollment_id,
            submission_id=submission_id,
            attempt=review.attempt,
            micro_credential_id=review.micro_credential_id,
            assessor_id=assessor.assessor_id,
            role=AssessorRole.RATER,
            assigned_at=now,
            due_at=due_at,
        )
        await add_event(session, event, event_id=new_id, time=now)
        events.append(event)
    if len(live) + len(events) >= review.raters_required:
        await repo.set_review_status(session, submission_id, ReviewStatus.IN_REVIEW)
    elif not events:
        log.info("submission %s waits: no eligible assessor", submission_id)
    return events


async def candidates(
    session: AsyncSession,
    review: Any,
    *,
    count: int,
    exclude: Collection[str],
    loads: Mapping[str, int],
) -> list[Assessor]:
    """Up to ``count`` eligible assessors for ``review`` (a reviews row), least loaded first,
    under every rule: active, calibrated, qualified, below capacity, no conflict, not excluded.
    The caller holds the assignment lock."""
    educator = EducatorFacts(
        educator_id=review.educator_id,
        district_id=review.district_id,
        school_id=review.school_id,
        supervisor_id=review.supervisor_id,
    )
    start = [review.educator_id] + ([review.supervisor_id] if review.supervisor_id else [])
    return choose_assessors(
        SubmissionFacts(
            educator=educator,
            micro_credential_id=review.micro_credential_id,
            competency=await repo.catalog_competency(
                session, review.micro_credential_id, review.micro_credential_version
            ),
        ),
        await repo.assignable_assessors(session),
        loads,
        await repo.supervisor_links(session, start),
        count=count,
        exclude=exclude,
    )


async def assign_pending(
    session: AsyncSession,
    policy: AssignmentPolicy,
    now: datetime,
    limit: int,
    *,
    micro_credential: tuple[str, int] | None = None,
) -> Sequence[Assigned]:
    """Try again to assign the oldest waiting reviews (after a roster or catalog change), all
    of them or those of one micro-credential version."""
    events: list[Assigned] = []
    waiting = await repo.awaiting_reviews(session, limit, micro_credential=micro_credential)
    for submission_id in waiting:
        events.extend(await assign(session, submission_id, policy, now))
    return events
