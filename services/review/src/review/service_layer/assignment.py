"""Creating reviews and assigning them, inside the caller's unit of work (never committed here).

The consumer calls :func:`on_evidence_submitted` and, after a catalog entry arrives,
:func:`assign_pending`; the assessor roster and calibration commands call
:func:`assign_pending` after a change that may have made someone eligible. Each assignment and
its ``review.assigned`` event commit together; the event id is the assignment id, derived from
(submission, slot, generation), so a retried command cannot publish a second event.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from mc_events.contracts.enrollment import EvidenceSubmitted
from mc_events.contracts.review import Assigned
from review.config import Settings
from review.domain.assignment import Assessor, SubmissionFacts, choose_assessors
from review.domain.review import Review, ReviewStatus
from review.domain.sla import add_business_days, week_start
from review.service_layer.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AssignmentPolicy:
    raters_per_submission: int = 1
    sla_business_days: int = 5
    holidays: frozenset[date] = field(default_factory=frozenset)

    def due_at(self, now: datetime) -> datetime:
        """The SLA due date of an assignment made ``now``."""
        return add_business_days(now, self.sla_business_days, self.holidays)


def policy_of(settings: Settings) -> AssignmentPolicy:
    return AssignmentPolicy(
        raters_per_submission=settings.raters_per_submission,
        sla_business_days=settings.sla_business_days,
        holidays=frozenset(settings.holidays),
    )


async def on_evidence_submitted(
    uow: UnitOfWork, event: EvidenceSubmitted, policy: AssignmentPolicy, now: datetime
) -> list[Assigned]:
    """Create the review of a submission and assign it; a submission seen before is a no-op."""
    review = Review.of_submission(
        event, raters_required=policy.raters_per_submission, received_at=now
    )
    if not await uow.reviews.add(review):
        log.info("submission %s already under review: nothing to do", event.submission_id)
        return []
    await uow.reviews.lock_assignments()
    return await fill(uow, review, policy, now)


async def assign(
    uow: UnitOfWork, submission_id: str, policy: AssignmentPolicy, now: datetime
) -> list[Assigned]:
    """Fill the review's free rater slots with eligible assessors, least loaded first.

    Slots nobody can fill stay open: the review waits (``awaiting_assessor``) until an assessor
    roster change makes someone eligible.
    """
    await uow.reviews.lock_assignments()
    review = await uow.reviews.get(submission_id)
    if review is None:
        return []
    return await fill(uow, review, policy, now)


async def fill(
    uow: UnitOfWork, review: Review, policy: AssignmentPolicy, now: datetime
) -> list[Assigned]:
    """:func:`assign` on a review already loaded; the caller holds the assignment lock."""
    if review.status is not ReviewStatus.AWAITING_ASSESSOR:
        return []
    chosen = await candidates(
        uow,
        review,
        count=len(review.free_slots()),
        # Nobody who ever held this submission: the other rater, or one it was taken from.
        exclude=review.holders,
        loads=await uow.assessors.weekly_loads(week_start(now)),
    )
    assigned = review.assign([a.assessor_id for a in chosen], now=now, due_at=policy.due_at(now))
    await uow.save(review)
    if not assigned and review.status is ReviewStatus.AWAITING_ASSESSOR:
        log.info("submission %s waits: no eligible assessor", review.submission_id)
    return assigned


async def candidates(
    uow: UnitOfWork,
    review: Review,
    *,
    count: int,
    exclude: Collection[str],
    loads: Mapping[str, int],
) -> list[Assessor]:
    """Up to ``count`` eligible assessors for ``review``, least loaded first, under every rule:
    active, calibrated, qualified, below capacity, no conflict, not excluded. The caller holds
    the assignment lock."""
    return choose_assessors(
        SubmissionFacts(
            educator=review.educator,
            micro_credential_id=review.micro_credential_id,
            competency=await uow.catalog.competency(
                review.micro_credential_id, review.micro_credential_version
            ),
        ),
        await uow.assessors.assignable(),
        loads,
        await uow.roster.supervisor_links(review.supervision_start),
        count=count,
        exclude=exclude,
    )


async def assign_pending(
    uow: UnitOfWork,
    policy: AssignmentPolicy,
    now: datetime,
    limit: int,
    *,
    micro_credential: tuple[str, int] | None = None,
) -> list[Assigned]:
    """Try again to assign the oldest waiting reviews (after a roster or catalog change), all
    of them or those of one micro-credential version."""
    assigned: list[Assigned] = []
    waiting = await uow.reviews.awaiting_assessor(limit, micro_credential=micro_credential)
    for submission_id in waiting:
        assigned.extend(await assign(uow, submission_id, policy, now))
    return assigned
