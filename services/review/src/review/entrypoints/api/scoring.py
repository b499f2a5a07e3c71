"""Blind scoring: an assessor's own assignments and scores, and the approvers' tie-breaks.

Blind by construction: these responses are built only from the assignment, the
micro-credential's rubric and the evidence references. No educator name, email, district or
school is ever selected for them (review stores no names or emails at all).
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime
from typing import Annotated, Any, Self, TypeVar

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field, model_validator

from mc_events.auth import Principal, Role, require
from review.adapters import repository as repo
from review.domain.scoring import InvalidScores, Score
from review.entrypoints.api.deps import ClockDep, Metrics, Sessions
from review.metrics import ReviewMetrics
from review.service_layer import scoring
from review.service_layer.unit_of_work import UnitOfWork

router = APIRouter(tags=["scoring"])

T = TypeVar("T")


class CriterionOut(BaseModel):
    id: str
    level_ids: list[str] = Field(description="Levels in order, lowest first.")
    required_level_id: str


class ArtifactOut(BaseModel):
    artifact_id: str
    requirement_id: str
    kind: str
    content_type: str
    size_bytes: int
    sha256: str
    uri: str = Field(description="Where the evidence store serves it (access-controlled).")


class ScoreOut(BaseModel):
    criterion_id: str
    level_id: str
    feedback: str


class AssignmentView(BaseModel):
    """What an assessor sees of one assignment: no one's identity, only the work."""

    assignment_id: str
    role: str
    status: str
    assigned_at: datetime
    due_at: datetime
    attempt: int
    micro_credential_id: str
    micro_credential_version: int
    rubric: list[CriterionOut] | None = Field(
        description="None while the catalog entry has not arrived."
    )
    artifacts: list[ArtifactOut]
    scores: list[ScoreOut] | None


class RatingOut(BaseModel):
    assessor_id: str
    scores: list[ScoreOut]


class ApprovalView(BaseModel):
    """A submission the raters disagreed on, as an approver sees it (blind as well)."""

    submission_id: str
    attempt: int
    micro_credential_id: str
    micro_credential_version: int
    rubric: list[CriterionOut] | None
    artifacts: list[ArtifactOut]
    ratings: list[RatingOut]


class ScoreIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    criterion_id: str = Field(min_length=1, max_length=200)
    level_id: str = Field(min_length=1, max_length=200)
    feedback: str = Field(default="", max_length=10_000)


class ScoresIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scores: list[ScoreIn] = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def _one_score_per_criterion(self) -> Self:
        ids = [s.criterion_id for s in self.scores]
        if len(set(ids)) != len(ids):
            raise ValueError("each criterion is scored once")
        return self

    def as_rating(self) -> dict[str, Score]:
        return {s.criterion_id: Score(s.level_id, s.feedback) for s in self.scores}


class DecisionOut(BaseModel):
    review_status: str
    decision_id: str | None = None
    outcome: str | None = None


def _rubric(raw: Any) -> list[CriterionOut] | None:
    return None if raw is None else [CriterionOut(**c) for c in raw]


def _artifacts(raw: Any) -> list[ArtifactOut]:
    return [ArtifactOut.model_validate(a, from_attributes=False) for a in raw]


def _scores(raw: Any) -> list[ScoreOut] | None:
    return None if raw is None else [ScoreOut(**s) for s in raw]


def _outcome(result: scoring.ScoreOutcome, metrics: ReviewMetrics) -> DecisionOut:
    """The response, after counting what the committed command did."""
    decision = result.decision
    if decision is not None:
        metrics.decisions.labels(decision.outcome.value).inc()
        if result.submitted_at is not None:
            waited = decision.decided_at - result.submitted_at
            metrics.time_to_decision.observe(max(waited.total_seconds(), 0.0))
    elif result.review_status == "awaiting_approver":
        metrics.disagreements.inc()
    return DecisionOut(
        review_status=result.review_status,
        decision_id=decision.decision_id if decision else None,
        outcome=decision.outcome.value if decision else None,
    )


def _identity(principal: Principal) -> str:
    if not principal.assessor_id:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the token names no assessor")
    return principal.assessor_id


async def _run(coro: Awaitable[scoring.ScoreOutcome]) -> scoring.ScoreOutcome:
    return await _run_command(coro)


async def _run_command(coro: Awaitable[T]) -> T:
    """Await a command, mapping its refusals to HTTP answers (the transaction rolls back)."""
    try:
        result = await coro
    except scoring.NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except scoring.WrongState as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    except scoring.NotAllowed as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from exc
    except InvalidScores as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    return result


Assessor = Annotated[Principal, Depends(require(Role.ASSESSOR))]
Approver = Annotated[Principal, Depends(require(Role.APPROVER))]


@router.get(
    "/assignments",
    summary="My assignments (blind)",
    description="Only the calling assessor's own assignments; no educator identity.",
)
async def my_assignments(principal: Assessor, sessions: Sessions) -> list[AssignmentView]:
    me = _identity(principal)
    async with UnitOfWork(sessions) as uow:
        rows = await repo.assignments_for_assessor(uow.session, me)
    return [
        AssignmentView(
            assignment_id=r.assignment_id,
            role=r.role,
            status=r.status,
            assigned_at=r.assigned_at,
            due_at=r.due_at,
            attempt=r.attempt,
            micro_credential_id=r.micro_credential_id,
            micro_credential_version=r.micro_credential_version,
            rubric=_rubric(r.rubric),
            artifacts=_artifacts(r.artifacts),
            scores=_scores(r.scores),
        )
        for r in rows
    ]


@router.post(
    "/assignments/{assignment_id}/scores",
    summary="Score my assignment: a level and feedback for every rubric criterion",
    description="The decision follows once every rater has scored; raters who disagree on a "
    "level send the submission to an approver.",
    responses={
        404: {"description": "No such assignment of yours"},
        409: {"description": "Already scored, not in review, or rubric not known yet"},
        422: {"description": "Scores that do not fit the rubric; nothing is saved"},
    },
)
async def score(
    assignment_id: str,
    body: ScoresIn,
    principal: Assessor,
    sessions: Sessions,
    clock: ClockDep,
    metrics: Metrics,
) -> DecisionOut:
    me = _identity(principal)
    async with UnitOfWork(sessions) as uow:
        result = await _run(
            scoring.score_assignment(
                uow.session,
                assignment_id=assignment_id,
                assessor_id=me,
                scores=body.as_rating(),
                now=clock(),
            )
        )
        await uow.commit()
    return _outcome(result, metrics)


@router.get(
    "/approvals",
    summary="Submissions whose raters disagreed (blind)",
)
async def approvals(_: Approver, sessions: Sessions) -> list[ApprovalView]:
    views: list[ApprovalView] = []
    async with UnitOfWork(sessions) as uow:
        for review in await repo.reviews_awaiting_approver(uow.session, 200):
            catalog = await repo.catalog_version(
                uow.session, review.micro_credential_id, review.micro_credential_version
            )
            rows = await repo.assignments_of(uow.session, review.submission_id)
            views.append(
                ApprovalView(
                    submission_id=review.submission_id,
                    attempt=review.attempt,
                    micro_credential_id=review.micro_credential_id,
                    micro_credential_version=review.micro_credential_version,
                    rubric=_rubric(catalog.rubric if catalog else None),
                    artifacts=_artifacts(review.artifacts),
                    ratings=[
                        RatingOut(assessor_id=r.assessor_id, scores=_scores(r.scores) or [])
                        for r in rows
                        if r.scores is not None
                    ],
                )
            )
    return views


@router.post(
    "/approvals/{submission_id}",
    summary="Decide a disagreement: the approver's levels and feedback are final",
    responses={
        403: {"description": "Not on the roster, a rater of it, or a conflict of interest"},
        404: {"description": "No such review"},
        409: {"description": "The review is not awaiting an approver"},
        422: {"description": "Scores that do not fit the rubric; nothing is saved"},
    },
)
async def approve(
    submission_id: str,
    body: ScoresIn,
    principal: Approver,
    sessions: Sessions,
    clock: ClockDep,
    metrics: Metrics,
) -> DecisionOut:
    me = _identity(principal)
    async with UnitOfWork(sessions) as uow:
        result = await _run(
            scoring.approve(
                uow.session,
                submission_id=submission_id,
                approver_id=me,
                scores=body.as_rating(),
                now=clock(),
            )
        )
        await uow.commit()
    return _outcome(result, metrics)
