"""Operators' view of reviews: where a submission stands and who it is assigned to.

No educator identity appears here either (review is blind end to end): only ids of the
submission, enrollment, micro-credential and assessors.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel, Field

from mc_events.auth import Principal, Role, require
from review.adapters import repository as repo
from review.entrypoints.api.deps import ClockDep, Metrics, Sessions, SettingsDep
from review.entrypoints.api.misconduct import CaseOut
from review.entrypoints.scheduler import ReviewScheduler
from review.service_layer.assignment import assign_pending, policy_of
from review.service_layer.unit_of_work import UnitOfWork

router = APIRouter(prefix="/reviews", tags=["reviews"])

StateAdmin = Annotated[Principal, Depends(require(Role.STATE_ADMIN))]


class AssignmentOut(BaseModel):
    assignment_id: str
    slot: int
    role: str
    assessor_id: str
    assigned_at: datetime
    due_at: datetime
    status: str


class EscalationOut(BaseModel):
    escalation_id: str
    assignment_id: str = Field(description="The overdue assignment.")
    assessor_id: str = Field(description="Its assessor.")
    due_at: datetime
    escalated_at: datetime
    outcome: str = Field(description="reassigned, or needs_state_admin.")
    reassigned_assignment_id: str | None
    reassigned_to: str | None
    reassigned_at: datetime | None


class ReviewOut(BaseModel):
    submission_id: str
    enrollment_id: str
    attempt: int
    micro_credential_id: str
    micro_credential_version: int
    status: str
    raters_required: int
    outcome: str | None = None
    assignments: list[AssignmentOut]
    escalations: list[EscalationOut] = Field(default_factory=list)
    misconduct_cases: list[CaseOut] = Field(default_factory=list)


class SweepOut(BaseModel):
    overdue: int = Field(description="Overdue assignments looked at.")
    reassigned: int
    escalated: int = Field(description="New escalations (SLA breaches seen for the first time).")
    needs_state_admin: int = Field(description="New escalations nobody else could take.")
    skipped: bool = Field(description="Another sweep was running: nothing was done.")


class AssignPendingOut(BaseModel):
    assigned: int


@router.get("/{submission_id}", summary="A submission's review and its assignments")
async def get_review(submission_id: str, _: StateAdmin, sessions: Sessions) -> ReviewOut:
    async with UnitOfWork(sessions) as uow:
        review = await repo.get_review(uow.session, submission_id)
        if review is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no review for this submission")
        rows = await repo.assignments_of(uow.session, submission_id)
        escalations = await repo.escalations_of(uow.session, submission_id)
        cases = await repo.cases_of(uow.session, submission_id)
    return ReviewOut(
        submission_id=review.submission_id,
        enrollment_id=review.enrollment_id,
        attempt=review.attempt,
        micro_credential_id=review.micro_credential_id,
        micro_credential_version=review.micro_credential_version,
        status=review.status,
        raters_required=review.raters_required,
        outcome=review.outcome,
        escalations=[EscalationOut.model_validate(e, from_attributes=True) for e in escalations],
        misconduct_cases=[CaseOut.model_validate(c, from_attributes=True) for c in cases],
        assignments=[
            AssignmentOut(
                assignment_id=r.assignment_id,
                slot=r.slot,
                role=r.role,
                assessor_id=r.assessor_id,
                assigned_at=r.assigned_at,
                due_at=r.due_at,
                status=r.status,
            )
            for r in rows
        ],
    )


@router.post(
    "/assign-pending",
    summary="Try again to assign submissions waiting for an assessor",
    description="For operators, e.g. at the start of a week when capacity frees up.",
)
async def post_assign_pending(
    _: StateAdmin, sessions: Sessions, clock: ClockDep, settings: SettingsDep
) -> AssignPendingOut:
    async with UnitOfWork(sessions) as uow:
        events = await assign_pending(
            uow.session, policy_of(settings), clock(), settings.assign_pending_batch
        )
        await uow.commit()
    return AssignPendingOut(assigned=len(events))


@router.post(
    "/sweep-overdue",
    summary="Reassign and escalate assignments past their SLA due date, now",
    description="What the scheduler does every interval (and `python -m review sweep-overdue`); "
    "safe to run while it runs.",
)
async def post_sweep_overdue(
    _: StateAdmin, sessions: Sessions, clock: ClockDep, settings: SettingsDep, metrics: Metrics
) -> SweepOut:
    runner = ReviewScheduler(settings, metrics, clock)
    return SweepOut(**asdict(await runner.sweep_once(sessions)))
