"""The overdue sweep: rater assignments past their SLA due date are reassigned and escalated.

For each open rater assignment past due on a review still being rated:

- another eligible assessor exists (the same rules as any assignment: active, calibrated,
  qualified, below capacity, no conflict of interest; never anyone who held this submission
  before): the overdue assignment is released, the slot gets a new assignment (next
  generation) with its ``review.assigned`` event and a fresh SLA due date;
- nobody else is eligible: the assignment stays with its assessor (taking it away would leave
  nobody on it) and a state admin must act (add capacity, calibrate or qualify someone).

A released assignment still counts toward its assessor's weekly load (they were given it
this week), so capacity is never exceeded by a reassignment.

Either way ``review.assignment_escalated`` is emitted once per overdue assignment: the
escalation row is keyed by the assignment and its id is the event id. Later sweeps keep trying
to reassign an assignment escalated without a reassignment, without escalating it again (see
:meth:`~review.domain.review.Review.reassign_overdue`).

A batch of overdue assignments commits in one transaction, so a crash loses or repeats nothing:
the next sweep finds exactly the assignments not yet handled. Replicas are safe: a sweep takes a
transaction-scoped advisory lock without waiting (another replica sweeping: this one skips),
then the assignment lock every assignment decision takes, and locks the rows it handles.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from mc_platform.clock import Clock
from review.domain.review import AssignmentStatus
from review.domain.sla import week_start
from review.service_layer.assignment import AssignmentPolicy, candidates
from review.service_layer.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepResult:
    overdue: int = 0
    """Overdue assignments looked at."""
    reassigned: int = 0
    escalated: int = 0
    """New escalations (each an SLA breach seen for the first time)."""
    needs_state_admin: int = 0
    """New escalations nobody else could take."""
    skipped: bool = False
    """Another replica was sweeping."""

    def __add__(self, other: SweepResult) -> SweepResult:
        return SweepResult(
            self.overdue + other.overdue,
            self.reassigned + other.reassigned,
            self.escalated + other.escalated,
            self.needs_state_admin + other.needs_state_admin,
        )


async def sweep(
    uow: UnitOfWork, policy: AssignmentPolicy, clock: Clock, batch: int
) -> AsyncIterator[SweepResult]:
    """Sweep until no overdue assignment is left unhandled, a batch per transaction; yields
    each committed batch's result (a skipped one ends the sweep)."""
    while True:
        async with uow:
            result = await sweep_batch(uow, policy, clock(), batch)
            await uow.commit()
        yield result
        # A full batch may leave more; a batch of stuck ones (nobody to take them) would come
        # back every time, so stop once a batch changed nothing.
        if result.skipped or result.overdue < batch or not (result.reassigned or result.escalated):
            return


async def sweep_batch(
    uow: UnitOfWork, policy: AssignmentPolicy, now: datetime, limit: int
) -> SweepResult:
    """Handle up to ``limit`` overdue assignments in the caller's (entered) unit of work."""
    if not await uow.reviews.try_lock_sweep():
        return SweepResult(skipped=True)
    await uow.reviews.lock_assignments()
    overdue = await uow.reviews.overdue(now, limit)
    if not overdue:
        return SweepResult()
    loads = dict(await uow.assessors.weekly_loads(week_start(now)))
    reassigned = escalated = stuck = 0
    for found in overdue:
        # Scoring and misconduct commands lock the review first: one of them busy with this
        # submission now is left alone (next sweep), and none can score what is released here.
        review = await uow.reviews.get(found.submission_id, skip_locked=True)
        if review is None or not review.being_rated:
            continue
        if review.assignment(found.assignment_id).status is not AssignmentStatus.OPEN:
            continue
        replacements = await candidates(uow, review, count=1, exclude=review.holders, loads=loads)
        replacement = replacements[0].assessor_id if replacements else None
        handled = review.reassign_overdue(
            found.assignment_id, replacement, now=now, due_at=policy.due_at(now)
        )
        await uow.save(review)
        if replacement is not None:
            loads[replacement] = loads.get(replacement, 0) + 1
            reassigned += 1
        if handled.escalated:
            escalated += 1
            stuck += handled.reassigned is None
    log.info(
        "overdue sweep: %d overdue, %d reassigned, %d escalated (%d need a state admin)",
        len(overdue),
        reassigned,
        escalated,
        stuck,
    )
    return SweepResult(len(overdue), reassigned, escalated, stuck)
