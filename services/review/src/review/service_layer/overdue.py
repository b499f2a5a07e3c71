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
to reassign an assignment escalated without a reassignment, without escalating it again.

Everything one sweep does commits in one transaction, so a crash loses or repeats nothing: the
next sweep finds exactly the assignments not yet handled. Replicas are safe: a sweep takes a
transaction-scoped advisory lock without waiting (another replica sweeping: this one skips),
then the assignment lock every assignment decision takes, and locks the rows it handles.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from mc_events import audit
from mc_events.contracts.review import (
    AssessorRole,
    Assigned,
    AssignmentEscalated,
    EscalationOutcome,
)
from mc_events.outbox import add_event
from review.adapters import repository as repo
from review.adapters.repository import ReviewStatus
from review.domain.sla import add_business_days, week_start
from review.service_layer.assignment import AssignmentPolicy, assignment_id, candidates

log = logging.getLogger(__name__)

_ESCALATION_NS = uuid.UUID("2d5c8e71-6a0f-4b3e-9d21-7f4a1c0b9e58")
SWEEP_ACTOR = "system:overdue-sweep"


def escalation_id(overdue_assignment_id: str) -> str:
    return str(uuid.uuid5(_ESCALATION_NS, overdue_assignment_id))


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


async def sweep_overdue(
    session: AsyncSession, policy: AssignmentPolicy, now: datetime, limit: int
) -> SweepResult:
    """Handle up to ``limit`` overdue assignments in the caller's transaction."""
    if not await repo.try_lock_sweep(session):
        return SweepResult(skipped=True)
    await repo.lock_assignments(session)
    overdue = await repo.overdue_assignments(session, now, limit)
    if not overdue:
        return SweepResult()
    loads = dict(await repo.weekly_loads(session, week_start(now)))
    reassigned = escalated = stuck = 0
    for row in overdue:
        # Scoring and misconduct commands lock the review first: one of them busy with this
        # submission now is left alone (next sweep), and none can score what is released here.
        review = await repo.lock_review_unless_busy(session, row.submission_id)
        if review is None or review.status not in (
            ReviewStatus.AWAITING_ASSESSOR,
            ReviewStatus.IN_REVIEW,
        ):
            continue
        held = await repo.assignments_of(session, row.submission_id)
        if next(a for a in held if a.assignment_id == row.assignment_id).status != (
            repo.AssignmentStatus.OPEN
        ):
            continue
        found = await candidates(
            session, review, count=1, exclude={a.assessor_id for a in held}, loads=loads
        )
        replacement = found[0] if found else None
        new: Assigned | None = None
        if replacement is not None:
            await repo.release_assignment(session, row.assignment_id, now)
            generation = 1 + max(a.generation for a in held if a.slot == row.slot)
            new_id = assignment_id(row.submission_id, row.slot, generation)
            due_at = add_business_days(now, policy.sla_business_days, policy.holidays)
            inserted = await repo.insert_assignment(
                session,
                {
                    "assignment_id": new_id,
                    "submission_id": row.submission_id,
                    "slot": row.slot,
                    "generation": generation,
                    "role": AssessorRole.RATER.value,
                    "assessor_id": replacement.assessor_id,
                    "assigned_at": now,
                    "due_at": due_at,
                    "status": repo.AssignmentStatus.OPEN,
                },
            )
            if not inserted:  # cannot happen under the locks held; never publish a phantom
                raise RuntimeError(f"slot {row.slot} of {row.submission_id} is already filled")
            new = Assigned(
                assignment_id=new_id,
                enrollment_id=review.enrollment_id,
                submission_id=row.submission_id,
                attempt=review.attempt,
                micro_credential_id=review.micro_credential_id,
                assessor_id=replacement.assessor_id,
                role=AssessorRole.RATER,
                assigned_at=now,
                due_at=due_at,
            )
            await add_event(session, new, event_id=new_id, time=now)
            loads[replacement.assessor_id] = loads.get(replacement.assessor_id, 0) + 1
            reassigned += 1
        if row.escalation_id is not None:
            # Escalated by an earlier sweep with nobody to take it; now someone can. The release
            # is announced once more (its own event id) so evidence access follows it.
            if new is not None and await repo.record_late_reassignment(
                session,
                row.escalation_id,
                assignment_id=new.assignment_id,
                assessor_id=new.assessor_id,
                at=now,
            ):
                await _announce_late_reassignment(session, review, row, new, now)
                await _audit(session, review, row, new, now, first=False)
            continue
        await _escalate(session, review, row, new, now)
        escalated += 1
        if new is None:
            stuck += 1
    log.info(
        "overdue sweep: %d overdue, %d reassigned, %d escalated (%d need a state admin)",
        len(overdue),
        reassigned,
        escalated,
        stuck,
    )
    return SweepResult(len(overdue), reassigned, escalated, stuck)


async def _escalate(
    session: AsyncSession, review: Any, row: Any, new: Assigned | None, now: datetime
) -> None:
    overdue_id: str = row.assignment_id
    new_id = escalation_id(overdue_id)
    outcome = EscalationOutcome.REASSIGNED if new else EscalationOutcome.NEEDS_STATE_ADMIN
    inserted = await repo.insert_escalation(
        session,
        {
            "escalation_id": new_id,
            "assignment_id": overdue_id,
            "submission_id": row.submission_id,
            "assessor_id": row.assessor_id,
            "due_at": row.due_at,
            "escalated_at": now,
            "outcome": outcome.value,
            "reassigned_assignment_id": new.assignment_id if new else None,
            "reassigned_to": new.assessor_id if new else None,
            "reassigned_at": now if new else None,
        },
    )
    # The rows are locked and re-read under the assignment lock, so this always inserts; the
    # unique key is the guarantee should that ever change.
    if not inserted:
        return
    event = AssignmentEscalated(
        escalation_id=new_id,
        enrollment_id=review.enrollment_id,
        submission_id=row.submission_id,
        attempt=review.attempt,
        micro_credential_id=review.micro_credential_id,
        overdue_assignment_id=overdue_id,
        overdue_assessor_id=row.assessor_id,
        due_at=row.due_at,
        outcome=outcome,
        reassigned_assignment_id=new.assignment_id if new else None,
        reassigned_to=new.assessor_id if new else None,
        escalated_at=now,
    )
    await add_event(session, event, event_id=new_id, time=now)
    await _audit(session, review, row, new, now, first=True)


async def _announce_late_reassignment(
    session: AsyncSession, review: Any, row: Any, new: Assigned, now: datetime
) -> None:
    event = AssignmentEscalated(
        escalation_id=row.escalation_id,
        enrollment_id=review.enrollment_id,
        submission_id=row.submission_id,
        attempt=review.attempt,
        micro_credential_id=review.micro_credential_id,
        overdue_assignment_id=row.assignment_id,
        overdue_assessor_id=row.assessor_id,
        due_at=row.due_at,
        outcome=EscalationOutcome.REASSIGNED,
        reassigned_assignment_id=new.assignment_id,
        reassigned_to=new.assessor_id,
        escalated_at=now,
    )
    event_id = str(uuid.uuid5(_ESCALATION_NS, f"{row.assignment_id}:reassigned"))
    await add_event(session, event, event_id=event_id, time=now)


async def _audit(
    session: AsyncSession,
    review: Any,
    row: Any,
    new: Assigned | None,
    now: datetime,
    *,
    first: bool,
) -> None:
    await audit.append(
        session,
        actor=SWEEP_ACTOR,
        action="review.assignment_escalated" if first else "review.assignment_reassigned",
        object_type="submission",
        object_id=row.submission_id,
        details={
            "overdue_assignment_id": row.assignment_id,
            "overdue_assessor_id": row.assessor_id,
            "due_at": row.due_at.isoformat(),
            "reassigned_assignment_id": new.assignment_id if new else None,
            "reassigned_to": new.assessor_id if new else None,
        },
        chain=f"educator:{review.educator_id}",
        at=now,
    )
