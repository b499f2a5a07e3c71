"""Commands of scoring: a rater scores their assignment, an approver breaks a tie, and the
decision (with its ``review.decided`` event) follows from the rubric's required levels.

Each command runs in one transaction that locks the review row, so two raters finishing at the
same moment produce one decision. The decision id (also the event id) is derived from the
submission, so a retried command cannot publish a second decision.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from mc_events import audit
from mc_events.contracts.common import CriterionResult
from mc_events.contracts.review import AssessorRole, Decided, MisconductKind, ReviewOutcome
from mc_events.outbox import add_event
from review.adapters import repository as repo
from review.adapters.repository import AssignmentStatus, ReviewStatus
from review.domain.conflicts import EducatorFacts, conflicts, supervision_chain
from review.domain.scoring import (
    Criterion,
    NeedsApprover,
    Outcome,
    Result,
    Score,
    check_rating,
    decide,
    reconcile,
    results_of,
)

_DECISION_NS = uuid.UUID("0b7d3c52-94a1-4c0e-8f7e-5d2f6a9e3c44")
APPROVER_SLOT = 0


class ScoringError(Exception):
    """A scoring command that cannot be carried out; the subclass says why."""


class NotFound(ScoringError):
    pass


class WrongState(ScoringError):
    pass


class NotAllowed(ScoringError):
    pass


@dataclass(frozen=True)
class ScoreOutcome:
    review_status: str
    decision: Decided | None = None
    submitted_at: datetime | None = None


def decision_id(submission_id: str) -> str:
    return str(uuid.uuid5(_DECISION_NS, submission_id))


def _criteria(raw: Any) -> tuple[Criterion, ...]:
    return tuple(Criterion(c["id"], tuple(c["level_ids"]), c["required_level_id"]) for c in raw)


def rubric_of(catalog_row: Any) -> tuple[Criterion, ...]:
    return _criteria(catalog_row.rubric)


def _stored(scores: Mapping[str, Score]) -> list[dict[str, str]]:
    return [
        {"criterion_id": k, "level_id": v.level_id, "feedback": v.feedback}
        for k, v in sorted(scores.items())
    ]


def _rating(stored: list[dict[str, str]]) -> dict[str, Score]:
    return {s["criterion_id"]: Score(s["level_id"], s["feedback"]) for s in stored}


async def review_rubric(session: AsyncSession, review: Any) -> tuple[tuple[Criterion, ...], int]:
    catalog = await repo.catalog_version(
        session, review.micro_credential_id, review.micro_credential_version
    )
    if catalog is None:
        raise WrongState("the rubric of this micro-credential version is not known yet")
    return rubric_of(catalog), int(catalog.attempt_cap)


async def score_assignment(
    session: AsyncSession,
    *,
    assignment_id: str,
    assessor_id: str,
    scores: Mapping[str, Score],
    now: datetime,
) -> ScoreOutcome:
    """Record a rater's scores; decide when every rater has scored (or queue for an approver).

    Three statements, then the decision's event and audit record: the review is locked, its
    assignments (this one included) and rubric are read under the lock, and the scores are
    saved together with the review's new status. Every other assignment is read under the
    lock too: only a command holding it scores one, so which are scored cannot change."""
    review = await repo.lock_review_of_assignment(session, assignment_id, assessor_id)
    if review is None:
        raise NotFound("no such assignment")
    # Read under the review's lock: a concurrent request may have scored it meanwhile.
    rows = await repo.assignments_and_catalog(
        session,
        review.submission_id,
        review.micro_credential_id,
        review.micro_credential_version,
    )
    assignment = next(r for r in rows if r.assignment_id == assignment_id)
    if assignment.role != AssessorRole.RATER.value:
        raise WrongState("approver decisions go through the approvals endpoint")
    if assignment.status != AssignmentStatus.OPEN:
        raise WrongState(f"this assignment is {assignment.status}, not open")
    if review.status != ReviewStatus.IN_REVIEW:
        raise WrongState(f"the review is {review.status}, not in review")
    catalog = rows[0]
    if catalog.catalog_rubric is None:
        raise WrongState("the rubric of this micro-credential version is not known yet")
    rubric, attempt_cap = _criteria(catalog.catalog_rubric), int(catalog.catalog_attempt_cap)
    check_rating(rubric, scores)
    stored = _stored(scores)

    # The raters who will have scored once these scores are saved, in slot order.
    scored = [
        (r.assessor_id, stored if r.assignment_id == assignment_id else r.scores)
        for r in rows
        if r.role == AssessorRole.RATER.value
        and (r.assignment_id == assignment_id or r.status == AssignmentStatus.SCORED)
    ]
    if len(scored) < review.raters_required:
        if not await repo.save_scores(session, assignment_id, stored, now):
            raise _no_longer_open()
        return ScoreOutcome(ReviewStatus.IN_REVIEW)
    ratings = [_rating(rating) for _, rating in scored]
    if len(ratings) == 1:
        results = results_of(rubric, ratings[0])
    else:
        reconciled = reconcile(rubric, ratings[0], ratings[1])
        if isinstance(reconciled, NeedsApprover):
            if not await repo.save_scores_and_set_status(
                session,
                assignment_id,
                stored,
                now,
                submission_id=review.submission_id,
                status=ReviewStatus.AWAITING_APPROVER,
            ):
                raise _no_longer_open()
            return ScoreOutcome(ReviewStatus.AWAITING_APPROVER)
        results = reconciled.results
    rater_ids = tuple(rater_id for rater_id, _ in scored)
    decision = _decision(
        review, results, attempt_cap=attempt_cap, rater_ids=rater_ids, approver_id=None, now=now
    )
    if not await repo.save_scores_and_mark_decided(
        session,
        assignment_id,
        stored,
        now,
        submission_id=review.submission_id,
        decision_id=decision.event.decision_id,
        outcome=decision.outcome.value,
        results=_kept_results(results),
    ):
        raise _no_longer_open()
    await _publish(session, review, decision, now=now)
    return ScoreOutcome(ReviewStatus.DECIDED, decision.event, review.submitted_at)


def _no_longer_open() -> WrongState:
    return WrongState("this assignment is no longer open")


async def approve(
    session: AsyncSession,
    *,
    submission_id: str,
    approver_id: str,
    scores: Mapping[str, Score],
    now: datetime,
) -> ScoreOutcome:
    """An approver's scores decide a review the raters disagreed on.

    The approver must be on the assessor roster, must not be one of the raters, and is held to
    the same conflict-of-interest rules as the raters.
    """
    review = await repo.lock_review(session, submission_id)
    if review is None:
        raise NotFound("no review for this submission")
    if review.status != ReviewStatus.AWAITING_APPROVER:
        raise WrongState(f"the review is {review.status}, not awaiting an approver")
    record = await repo.get_assessor(session, approver_id)
    if record is None:
        raise NotAllowed("the approver is not on the assessor roster")
    raters = [
        r
        for r in await repo.assignments_of(session, submission_id)
        if r.role == AssessorRole.RATER.value
    ]
    if approver_id in {r.assessor_id for r in raters}:
        raise NotAllowed("a rater of this submission cannot also approve it")
    educator = EducatorFacts(
        review.educator_id, review.district_id, review.school_id, review.supervisor_id
    )
    start = [review.educator_id] + ([review.supervisor_id] if review.supervisor_id else [])
    chain = supervision_chain(educator, await repo.supervisor_links(session, start))
    if conflicts(record.assessor.links, educator, chain):
        raise NotAllowed("the approver has a conflict of interest with this submission")
    rubric, attempt_cap = await review_rubric(session, review)
    results = results_of(rubric, scores)
    await repo.insert_assignment(
        session,
        {
            "assignment_id": str(uuid.uuid5(_DECISION_NS, f"{submission_id}/approver")),
            "submission_id": submission_id,
            "slot": APPROVER_SLOT,
            "role": AssessorRole.APPROVER.value,
            "assessor_id": approver_id,
            "assigned_at": now,
            "due_at": now,
            "status": AssignmentStatus.SCORED,
            "scores": _stored(scores),
            "scored_at": now,
        },
    )
    event = await decide_review(
        session,
        review,
        results,
        attempt_cap=attempt_cap,
        rater_ids=tuple(r.assessor_id for r in raters),
        approver_id=approver_id,
        now=now,
    )
    return ScoreOutcome(ReviewStatus.DECIDED, event, review.submitted_at)


@dataclass(frozen=True)
class _Decision:
    event: Decided
    outcome: Outcome
    actor: str
    details: dict[str, Any]
    """Of the audit record."""


def _decision(
    review: Any,
    results: tuple[Result, ...],
    *,
    attempt_cap: int,
    rater_ids: tuple[str, ...],
    approver_id: str | None,
    now: datetime,
    misconduct: MisconductKind | None = None,
) -> _Decision:
    if misconduct is not None:
        outcome = Outcome.NOT_EARNED
    else:
        outcome = decide(results, attempt=review.attempt, attempt_cap=attempt_cap)
    new_id = decision_id(review.submission_id)
    event = Decided(
        decision_id=new_id,
        enrollment_id=review.enrollment_id,
        submission_id=review.submission_id,
        attempt=review.attempt,
        educator_id=review.educator_id,
        district_id=review.district_id,
        micro_credential_id=review.micro_credential_id,
        micro_credential_version=review.micro_credential_version,
        outcome=ReviewOutcome(outcome.value),
        results=tuple(
            CriterionResult(
                criterion_id=r.criterion_id,
                achieved_level_id=r.level_id,
                met=r.met,
                feedback=r.feedback,
            )
            for r in results
        ),
        assessor_ids=rater_ids,
        approver_id=approver_id,
        decided_at=now,
        misconduct=misconduct,
    )
    details = {
        "decision_id": new_id,
        "outcome": outcome.value,
        "attempt": review.attempt,
        "raters": list(rater_ids),
        "approver": approver_id,
        "results": {r.criterion_id: r.level_id for r in results},
        "misconduct": misconduct.value if misconduct else None,
    }
    return _Decision(event, outcome, approver_id or ",".join(rater_ids), details)


def _kept_results(results: tuple[Result, ...]) -> list[dict[str, Any]]:
    """The results kept on the review for the research measures."""
    return [{"criterion_id": r.criterion_id, "level_id": r.level_id, "met": r.met} for r in results]


async def _publish(
    session: AsyncSession, review: Any, decision: _Decision, *, now: datetime
) -> None:
    """The decision's ``review.decided`` event (outbox) and its audit record."""
    event = decision.event
    await add_event(session, event, event_id=event.decision_id, time=now)
    await audit.append(
        session,
        actor=decision.actor,
        action="review.decided",
        object_type="submission",
        object_id=review.submission_id,
        details=decision.details,
        chain=f"educator:{review.educator_id}",
        at=now,
    )


async def decide_review(
    session: AsyncSession,
    review: Any,
    results: tuple[Result, ...],
    *,
    attempt_cap: int,
    rater_ids: tuple[str, ...],
    approver_id: str | None,
    now: datetime,
    misconduct: MisconductKind | None = None,
) -> Decided:
    """Publish and record the decision. For confirmed ``misconduct`` it is not earned whatever
    the results say: the caller passes results that credit no criterion."""
    decision = _decision(
        review,
        results,
        attempt_cap=attempt_cap,
        rater_ids=rater_ids,
        approver_id=approver_id,
        now=now,
        misconduct=misconduct,
    )
    await _publish(session, review, decision, now=now)
    await repo.mark_decided(
        session,
        review.submission_id,
        decision_id=decision.event.decision_id,
        outcome=decision.outcome.value,
        at=now,
        # Kept for the research measures; a misconduct decision scored nothing.
        results=None if misconduct else _kept_results(results),
    )
    return decision.event
