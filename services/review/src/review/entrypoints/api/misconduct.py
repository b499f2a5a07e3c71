"""Misconduct: the assigned assessor flags a submission, an approver confirms or dismisses.

Blind like the rest of review: the approver's view carries the evidence references, the rubric
and the flag, never the educator's identity (nor who flagged it).
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from mc_events.contracts.review import MisconductKind
from mc_platform.dependencies import ClockDep
from review.domain.review import MisconductCase
from review.entrypoints.api.deps import Approver, Assessor, Metrics, Policy, UoW, assessor_id_of
from review.entrypoints.api.scoring import (
    ArtifactOut,
    CriterionOut,
    blind_submission,
    count_decision,
)
from review.service_layer import misconduct

router = APIRouter(tags=["misconduct"])


class FlagIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: MisconductKind
    detail: str = Field(
        min_length=1, max_length=2000, description="What was found, for the approver."
    )


class CaseOut(BaseModel):
    case_id: str
    kind: MisconductKind
    detail: str
    status: str
    flagged_at: datetime
    resolved_at: datetime | None = None
    finding: str | None = None
    effect: str | None = None

    @classmethod
    def of(cls, case: MisconductCase) -> CaseOut:
        return cls.model_validate(case, from_attributes=True)


class CaseView(CaseOut):
    """An open case as an approver sees it (blind)."""

    submission_id: str
    attempt: int
    micro_credential_id: str
    micro_credential_version: int
    decided_outcome: str | None = Field(
        description="The decision already made, if any (passed: confirming asks the registry "
        "to revoke the credential)."
    )
    rubric: list[CriterionOut] | None
    artifacts: list[ArtifactOut]


class RulingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    confirmed: bool = Field(description="true confirms the misconduct, false dismisses the flag.")
    finding: str = Field(default="", max_length=2000, description="The approver's finding.")


class RulingOut(BaseModel):
    case_id: str
    status: str
    effect: str = Field(
        description="not_earned, revocation_requested, outcome_stands or review_continues."
    )
    review_status: str
    decision_id: str | None = None
    revocation_request_id: str | None = None


@router.post(
    "/assignments/{assignment_id}/misconduct",
    summary="Flag misconduct in the submission of my assignment",
    description="Plagiarism, fabricated evidence or identifiable student data. Before a "
    "decision the review is held until an approver rules.",
    status_code=status.HTTP_201_CREATED,
    responses={
        403: {"description": "The assignment was reassigned to someone else"},
        404: {"description": "No such assignment of yours"},
        409: {"description": "A flag is already open, or misconduct already confirmed"},
    },
)
async def flag(
    assignment_id: str,
    body: FlagIn,
    principal: Assessor,
    uow: UoW,
    clock: ClockDep,
    metrics: Metrics,
) -> CaseOut:
    case = await misconduct.flag(
        uow,
        assignment_id=assignment_id,
        assessor_id=assessor_id_of(principal),
        kind=body.kind,
        detail=body.detail,
        now=clock(),
    )
    metrics.misconduct.labels("flagged").inc()
    return CaseOut.of(case)


@router.get(
    "/misconduct-cases",
    summary="Open misconduct flags I may rule on (blind)",
    description="Only cases the calling approver is free to decide: not assigned to the "
    "submission and no conflict of interest with the educator.",
)
async def open_cases(principal: Approver, uow: UoW) -> list[CaseView]:
    return [
        CaseView(
            **CaseOut.of(shown.case).model_dump(),
            **blind_submission(shown.review, shown.rubric),
            decided_outcome=shown.review.outcome.value if shown.review.outcome else None,
        )
        for shown in await misconduct.open_cases(uow, assessor_id_of(principal))
    ]


@router.post(
    "/misconduct-cases/{case_id}/ruling",
    summary="Confirm or dismiss a misconduct flag",
    description="Confirmed before a decision: not earned, with the misconduct as the reason. "
    "Confirmed after a pass: the registry is asked to revoke the credential. Dismissed: the "
    "review continues.",
    responses={
        403: {"description": "Not on the roster, assigned to it, or a conflict of interest"},
        404: {"description": "No such case"},
        409: {"description": "Already ruled on, or the rubric is not known yet"},
    },
)
async def rule(
    case_id: str,
    body: RulingIn,
    principal: Approver,
    uow: UoW,
    clock: ClockDep,
    policy: Policy,
    metrics: Metrics,
) -> RulingOut:
    ruling = await misconduct.rule(
        uow,
        case_id=case_id,
        approver_id=assessor_id_of(principal),
        confirmed=body.confirmed,
        finding=body.finding,
        policy=policy,
        now=clock(),
    )
    metrics.misconduct.labels(ruling.status.value).inc()
    if ruling.decision is not None:
        count_decision(metrics, ruling.decision, ruling.submitted_at)
    return RulingOut(
        case_id=case_id,
        status=ruling.status.value,
        effect=ruling.effect.value,
        review_status=ruling.review_status.value,
        decision_id=ruling.decision.decision_id if ruling.decision else None,
        revocation_request_id=ruling.revocation.request_id if ruling.revocation else None,
    )
