"""Operators' view of reviews: where a submission stands and who it is assigned to.

No educator identity appears here either (review is blind end to end): only ids of the
submission, enrollment, micro-credential and assessors.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from mc_platform.dependencies import ClockDep
from review.entrypoints.api.deps import Metrics, Policy, SettingsDep, StateAdmin, UoW
from review.entrypoints.api.misconduct import CaseOut
from review.entrypoints.scheduler import ReviewScheduler
from review.service_layer import reviews

router = APIRouter(prefix="/reviews", tags=["reviews"])


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
async def get_review(submission_id: str, _: StateAdmin, uow: UoW) -> ReviewOut:
    review = await reviews.review_of(uow, submission_id)
    escalations = sorted(
        (a.escalation for a in review.assignments if a.escalation is not None),
        key=lambda e: (e.escalated_at, e.escalation_id),
    )
    return ReviewOut(
        submission_id=review.submission_id,
        enrollment_id=review.enrollment_id,
        attempt=review.attempt,
        micro_credential_id=review.micro_credential_id,
        micro_credential_version=review.micro_credential_version,
        status=review.status,
        raters_required=review.raters_required,
        outcome=review.outcome,
        assignments=[
            AssignmentOut.model_validate(a, from_attributes=True) for a in review.assignments
        ],
        escalations=[EscalationOut.model_validate(e, from_attributes=True) for e in escalations],
        misconduct_cases=[CaseOut.of(c) for c in review.cases],
    )


@router.post(
    "/assign-pending",
    summary="Try again to assign submissions waiting for an assessor",
    description="For operators, e.g. at the start of a week when capacity frees up.",
)
async def post_assign_pending(
    _: StateAdmin, uow: UoW, clock: ClockDep, policy: Policy, settings: SettingsDep
) -> AssignPendingOut:
    assigned = await reviews.assign_waiting(uow, policy, clock(), settings.assign_pending_batch)
    return AssignPendingOut(assigned=assigned)


@router.post(
    "/sweep-overdue",
    summary="Reassign and escalate assignments past their SLA due date, now",
    description="What the scheduler does every interval (and `python -m review sweep-overdue`); "
    "safe to run while it runs.",
)
async def post_sweep_overdue(
    _: StateAdmin, uow: UoW, clock: ClockDep, settings: SettingsDep, metrics: Metrics
) -> SweepOut:
    runner = ReviewScheduler(settings, metrics, clock)
    return SweepOut(**asdict(await runner.sweep_once(uow)))
