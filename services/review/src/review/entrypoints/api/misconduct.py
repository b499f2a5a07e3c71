"""Misconduct: the assigned assessor flags a submission, an approver confirms or dismisses.

Blind like the rest of review: the approver's view carries the evidence references, the rubric
and the flag, never the educator's identity (nor who flagged it).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, ConfigDict, Field

from mc_events.auth import Principal, Role, require
from mc_events.contracts.review import MisconductKind
from review.adapters import repository as repo
from review.entrypoints.api.deps import ClockDep, Metrics, Sessions, SettingsDep
from review.entrypoints.api.scoring import (
    ArtifactOut,
    CriterionOut,
    _artifacts,
    _identity,
    _outcome,
    _rubric,
    _run_command,
)
from review.service_layer import misconduct
from review.service_layer.assignment import policy_of
from review.service_layer.scoring import ScoreOutcome
from review.service_layer.unit_of_work import UnitOfWork

router = APIRouter(tags=["misconduct"])

Assessor = Annotated[Principal, Depends(require(Role.ASSESSOR))]
Approver = Annotated[Principal, Depends(require(Role.APPROVER))]


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


def _case(row: object) -> CaseOut:
    return CaseOut.model_validate(row, from_attributes=True)


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
    sessions: Sessions,
    clock: ClockDep,
    metrics: Metrics,
) -> CaseOut:
    me = _identity(principal)
    async with UnitOfWork(sessions) as uow:
        row = await _run_command(
            misconduct.flag(
                uow.session,
                assignment_id=assignment_id,
                assessor_id=me,
                kind=body.kind,
                detail=body.detail,
                now=clock(),
            )
        )
        await uow.commit()
    metrics.misconduct.labels("flagged").inc()
    return _case(row)


@router.get(
    "/misconduct-cases",
    summary="Open misconduct flags I may rule on (blind)",
    description="Only cases the calling approver is free to decide: not assigned to the "
    "submission and no conflict of interest with the educator.",
)
async def open_cases(principal: Approver, sessions: Sessions) -> list[CaseView]:
    me = _identity(principal)
    views: list[CaseView] = []
    async with UnitOfWork(sessions) as uow:
        for case in await repo.open_cases(uow.session, 200):
            review = await repo.get_review(uow.session, case.submission_id)
            assert review is not None
            if case.flagged_by == me or await misconduct.approver_problem(uow.session, review, me):
                continue
            catalog = await repo.catalog_version(
                uow.session, review.micro_credential_id, review.micro_credential_version
            )
            views.append(
                CaseView(
                    **_case(case).model_dump(),
                    submission_id=review.submission_id,
                    attempt=review.attempt,
                    micro_credential_id=review.micro_credential_id,
                    micro_credential_version=review.micro_credential_version,
                    decided_outcome=review.outcome,
                    rubric=_rubric(catalog.rubric if catalog else None),
                    artifacts=_artifacts(review.artifacts),
                )
            )
    return views


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
    sessions: Sessions,
    clock: ClockDep,
    settings: SettingsDep,
    metrics: Metrics,
) -> RulingOut:
    me = _identity(principal)
    async with UnitOfWork(sessions) as uow:
        ruling: misconduct.Ruling = await _run_command(
            misconduct.rule(
                uow.session,
                case_id=case_id,
                approver_id=me,
                confirmed=body.confirmed,
                finding=body.finding,
                policy=policy_of(settings),
                now=clock(),
            )
        )
        await uow.commit()
    metrics.misconduct.labels(ruling.status).inc()
    if ruling.decision is not None:
        _outcome(ScoreOutcome(ruling.review_status, ruling.decision, ruling.submitted_at), metrics)
    return RulingOut(
        case_id=case_id,
        status=ruling.status,
        effect=ruling.effect,
        review_status=ruling.review_status,
        decision_id=ruling.decision.decision_id if ruling.decision else None,
        revocation_request_id=ruling.revocation.request_id if ruling.revocation else None,
    )
