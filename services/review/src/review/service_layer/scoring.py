"""Scoring: a rater scores their assignment, an approver breaks a tie, and the decision (with
its ``review.decided`` event and audit record) follows from the rubric's required levels.

Each command is one transaction that locks the review row first, so two raters finishing at the
same moment produce one decision. The decision id (also the event id) is derived from the
submission, so a retried command cannot publish a second decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from mc_events.contracts.review import Decided
from review.adapters.reviews import AssessorAssignment
from review.domain.refusals import NoSuch
from review.domain.review import Review, ReviewStatus
from review.domain.scoring import Rubric, Score
from review.service_layer.unit_of_work import UnitOfWork

APPROVALS_SHOWN = 200


@dataclass(frozen=True)
class ScoreOutcome:
    review_status: ReviewStatus
    decision: Decided | None = None
    submitted_at: datetime | None = None


@dataclass(frozen=True)
class Approval:
    """A review the raters disagreed on, with its rubric (None while the catalog entry has not
    arrived)."""

    review: Review
    rubric: Rubric | None


async def score_assignment(
    uow: UnitOfWork,
    *,
    assignment_id: str,
    assessor_id: str,
    scores: Mapping[str, Score],
    now: datetime,
) -> ScoreOutcome:
    """Record a rater's scores; decide when every rater has scored (or queue for an approver).

    Three statements, then the decision's event and audit record: the review is locked, its
    assignments (this one included) and rubric are read under the lock, and the scores are
    saved together with the review's new state. Every other assignment is read under the lock
    too: only a command holding it scores one, so which are scored cannot change."""
    async with uow:
        found = await uow.reviews.get_for_scoring(assignment_id, assessor_id)
        if found is None:
            raise NoSuch("no such assignment")
        review, rubric = found
        decision = review.score(assignment_id, scores, rubric, now=now)
        await uow.save(review)
        await uow.commit()
    return ScoreOutcome(
        review.status, decision, review.submitted_at if decision is not None else None
    )


async def approve(
    uow: UnitOfWork,
    *,
    submission_id: str,
    approver_id: str,
    scores: Mapping[str, Score],
    now: datetime,
) -> ScoreOutcome:
    """An approver's scores decide a review the raters disagreed on (the approver: on the
    assessor roster, not one of its raters, no conflict of interest with the educator)."""
    async with uow:
        review = await uow.reviews.get(submission_id, for_update=True)
        if review is None:
            raise NoSuch("no review for this submission")
        approver = await uow.assessors.get(approver_id)
        decision = review.approve(
            approver.assessor.links if approver else None,
            await uow.roster.supervisor_links(review.supervision_start),
            scores,
            await uow.catalog.rubric(review.micro_credential_id, review.micro_credential_version),
            now=now,
        )
        await uow.save(review)
        await uow.commit()
    return ScoreOutcome(review.status, decision, review.submitted_at)


async def assignments_of(uow: UnitOfWork, assessor_id: str) -> list[AssessorAssignment]:
    """An assessor's own assignments, as the blind view shows them."""
    async with uow:
        return await uow.reviews.assignments_of_assessor(assessor_id)


async def approvals(uow: UnitOfWork) -> list[Approval]:
    """The oldest reviews waiting for an approver, with their rubrics."""
    async with uow:
        return [
            Approval(
                review,
                await uow.catalog.rubric(
                    review.micro_credential_id, review.micro_credential_version
                ),
            )
            for review in await uow.reviews.awaiting_approver(APPROVALS_SHOWN)
        ]
