"""Blind scoring: an assessor's own assignments and scores, and the approvers' tie-breaks.

Blind by construction: these responses are built only from the assignment, the
micro-credential's rubric and the evidence references. No educator name, email, district or
school is ever selected for them (review stores no names or emails at all).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Self

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, model_validator

from mc_events.contracts.enrollment import ArtifactRef
from mc_events.contracts.review import Decided
from mc_platform.dependencies import ClockDep
from review.domain.review import Review, ReviewStatus
from review.domain.scoring import Criterion, Rubric, Score
from review.entrypoints.api.deps import Approver, Assessor, Metrics, UoW, assessor_id_of
from review.metrics import ReviewMetrics
from review.service_layer import scoring
from review.service_layer.scoring import ScoreOutcome

router = APIRouter(tags=["scoring"])

# -- what assessors and approvers see (misconduct's views too) ------------------------------


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


class DecisionOut(BaseModel):
    review_status: str
    decision_id: str | None = None
    outcome: str | None = None


def rubric_out(criteria: Sequence[Criterion] | None) -> list[CriterionOut] | None:
    if criteria is None:
        return None
    return [
        CriterionOut(id=c.id, level_ids=list(c.level_ids), required_level_id=c.required_level_id)
        for c in criteria
    ]


def artifacts_out(artifacts: Sequence[ArtifactRef]) -> list[ArtifactOut]:
    return [ArtifactOut.model_validate(a.model_dump(mode="json")) for a in artifacts]


def scores_out(scores: Mapping[str, Score] | None) -> list[ScoreOut] | None:
    if scores is None:
        return None
    return [
        ScoreOut(criterion_id=criterion_id, level_id=s.level_id, feedback=s.feedback)
        for criterion_id, s in sorted(scores.items())
    ]


def blind_submission(review: Review, rubric: Rubric | None) -> dict[str, Any]:
    """What an approver sees of a submission: its ids, rubric and evidence references."""
    return {
        "submission_id": review.submission_id,
        "attempt": review.attempt,
        "micro_credential_id": review.micro_credential_id,
        "micro_credential_version": review.micro_credential_version,
        "rubric": rubric_out(rubric.criteria if rubric else None),
        "artifacts": artifacts_out(review.artifacts),
    }


def count_decision(
    metrics: ReviewMetrics, decision: Decided, submitted_at: datetime | None
) -> None:
    """Count a committed decision (and how long its submission waited for it)."""
    metrics.decisions.labels(decision.outcome.value).inc()
    if submitted_at is not None:
        waited = decision.decided_at - submitted_at
        metrics.time_to_decision.observe(max(waited.total_seconds(), 0.0))


def decision_out(result: ScoreOutcome, metrics: ReviewMetrics) -> DecisionOut:
    """The answer to a committed command that scored or decided a review, after counting what
    it did."""
    decision = result.decision
    if decision is not None:
        count_decision(metrics, decision, result.submitted_at)
    elif result.review_status is ReviewStatus.AWAITING_APPROVER:
        metrics.disagreements.inc()
    return DecisionOut(
        review_status=result.review_status.value,
        decision_id=decision.decision_id if decision else None,
        outcome=decision.outcome.value if decision else None,
    )


# -- scoring ----------------------------------------------------------------------------------


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


@router.get(
    "/assignments",
    summary="My assignments (blind)",
    description="Only the calling assessor's own assignments; no educator identity.",
)
async def my_assignments(principal: Assessor, uow: UoW) -> list[AssignmentView]:
    return [
        AssignmentView(
            assignment_id=a.assignment_id,
            role=a.role.value,
            status=a.status.value,
            assigned_at=a.assigned_at,
            due_at=a.due_at,
            attempt=a.attempt,
            micro_credential_id=a.micro_credential_id,
            micro_credential_version=a.micro_credential_version,
            rubric=rubric_out(a.rubric),
            artifacts=artifacts_out(a.artifacts),
            scores=scores_out(a.scores),
        )
        for a in await scoring.assignments_of(uow, assessor_id_of(principal))
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
    uow: UoW,
    clock: ClockDep,
    metrics: Metrics,
) -> DecisionOut:
    result = await scoring.score_assignment(
        uow,
        assignment_id=assignment_id,
        assessor_id=assessor_id_of(principal),
        scores=body.as_rating(),
        now=clock(),
    )
    return decision_out(result, metrics)


@router.get(
    "/approvals",
    summary="Submissions whose raters disagreed (blind)",
)
async def approvals(_: Approver, uow: UoW) -> list[ApprovalView]:
    return [
        ApprovalView(
            **blind_submission(a.review, a.rubric),
            ratings=[
                RatingOut(assessor_id=held.assessor_id, scores=scores_out(held.scores) or [])
                for held in a.review.assignments
                if held.scores is not None
            ],
        )
        for a in await scoring.approvals(uow)
    ]


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
    uow: UoW,
    clock: ClockDep,
    metrics: Metrics,
) -> DecisionOut:
    result = await scoring.approve(
        uow,
        submission_id=submission_id,
        approver_id=assessor_id_of(principal),
        scores=body.as_rating(),
        now=clock(),
    )
    return decision_out(result, metrics)
