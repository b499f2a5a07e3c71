"""Operators' view of reviews: where a submission stands, who holds it, and assigning the
submissions still waiting for an assessor."""

from __future__ import annotations

from datetime import datetime

from review.domain.refusals import NoSuch
from review.domain.review import Review
from review.service_layer.assignment import AssignmentPolicy, assign_pending
from review.service_layer.unit_of_work import UnitOfWork


async def review_of(uow: UnitOfWork, submission_id: str) -> Review:
    """A submission's review with its assignments, escalations and misconduct cases."""
    async with uow:
        review = await uow.reviews.get(submission_id, with_cases=True)
    if review is None:
        raise NoSuch("no review for this submission")
    return review


async def assign_waiting(
    uow: UnitOfWork, policy: AssignmentPolicy, now: datetime, limit: int
) -> int:
    """Try again to assign the oldest submissions waiting for an assessor; how many
    assignments were made."""
    async with uow:
        assigned = await assign_pending(uow, policy, now, limit)
        await uow.commit()
    return len(assigned)
