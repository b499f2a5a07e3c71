"""Misconduct: an assessor flags plagiarism, fabricated
evidence or identifiable student data in a submission they are assigned; an approver confirms
or dismisses it.

- Flagged before a decision, the review is put on hold (no scoring, no approval, no overdue
  sweep) until an approver rules.
- Confirmed before a decision: the submission is decided ``not_earned`` with the misconduct
  named on ``review.decided`` (no criterion is credited; each result's feedback gives the
  finding). Open rater assignments are closed.
- Confirmed after a passing decision (an award): ``review.revocation_requested`` once (its id is
  derived from the submission); the registry revokes, which reverses pay and credits.
- Confirmed after another decision: nothing was awarded, the outcome stands; the finding is on
  the audit trail.
- Dismissed: the review continues where it was; open assignments' due dates move by the time
  on hold, so the hold never makes an assessor overdue.

Only an assessor assigned to the submission (assignment not released) flags. Only an approver
decides: on the assessor roster, not assigned to the submission (nor the one who flagged it),
and free of any conflict of interest with the educator. Every step is on the audit trail.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from mc_events import audit
from mc_events.contracts.review import AssessorRole, Decided, MisconductKind, RevocationRequested
from mc_events.outbox import add_event
from review.adapters import repository as repo
from review.adapters.repository import AssignmentStatus, CaseStatus, ReviewStatus
from review.domain.conflicts import EducatorFacts, conflicts, supervision_chain
from review.domain.scoring import Result
from review.service_layer.assignment import AssignmentPolicy, assign
from review.service_layer.scoring import (
    NotAllowed,
    NotFound,
    WrongState,
    decide_review,
    review_rubric,
)

_REVOCATION_NS = uuid.UUID("9a3e6f14-0c7b-4d52-b8e1-3f6d2a9c5b70")


class Effect:
    """What a ruling did."""

    NOT_EARNED = "not_earned"
    REVOCATION_REQUESTED = "revocation_requested"
    OUTCOME_STANDS = "outcome_stands"
    REVIEW_CONTINUES = "review_continues"


def revocation_request_id(submission_id: str) -> str:
    return str(uuid.uuid5(_REVOCATION_NS, submission_id))


@dataclass(frozen=True)
class Ruling:
    case_id: str
    status: str
    effect: str
    review_status: str
    submitted_at: datetime
    decision: Decided | None = None
    revocation: RevocationRequested | None = None


def _chain(review: Any) -> str:
    return f"educator:{review.educator_id}"


async def flag(
    session: AsyncSession,
    *,
    assignment_id: str,
    assessor_id: str,
    kind: MisconductKind,
    detail: str,
    now: datetime,
) -> Any:
    """Open a case on the submission of ``assignment_id``; returns the case row."""
    found = await repo.get_assignment(session, assignment_id)
    if found is None or found.assessor_id != assessor_id:
        raise NotFound("no such assignment")
    review = await repo.lock_review(session, found.submission_id)
    assert review is not None
    assignment = await repo.get_assignment(session, assignment_id)
    assert assignment is not None
    if assignment.status == AssignmentStatus.RELEASED:
        raise NotAllowed("this assignment was reassigned: it is no longer yours")
    cases = await repo.cases_of(session, review.submission_id)
    if any(c.status == CaseStatus.OPEN for c in cases):
        raise WrongState("a misconduct flag on this submission is already with an approver")
    if any(c.status == CaseStatus.CONFIRMED for c in cases):
        raise WrongState("misconduct in this submission is already confirmed")
    case_id = str(uuid.uuid4())
    await repo.insert_case(
        session,
        {
            "case_id": case_id,
            "submission_id": review.submission_id,
            "flagged_by": assessor_id,
            "kind": kind.value,
            "detail": detail,
            "flagged_at": now,
            "status": CaseStatus.OPEN,
            "review_status_before": review.status,
        },
    )
    if review.status != ReviewStatus.DECIDED:
        await repo.set_review_status(session, review.submission_id, ReviewStatus.MISCONDUCT_HOLD)
    await audit.append(
        session,
        actor=assessor_id,
        action="review.misconduct_flagged",
        object_type="submission",
        object_id=review.submission_id,
        details={"case_id": case_id, "kind": kind.value, "detail": detail},
        chain=_chain(review),
        at=now,
    )
    return await repo.lock_case(session, case_id)


async def approver_problem(session: AsyncSession, review: Any, approver_id: str) -> str | None:
    """Why ``approver_id`` may not rule on ``review`` (None: they may)."""
    record = await repo.get_assessor(session, approver_id)
    if record is None:
        return "the approver is not on the assessor roster"
    held = {a.assessor_id for a in await repo.assignments_of(session, review.submission_id)}
    if approver_id in held:
        return "an assessor of this submission cannot also rule on it"
    educator = EducatorFacts(
        review.educator_id, review.district_id, review.school_id, review.supervisor_id
    )
    start = [review.educator_id] + ([review.supervisor_id] if review.supervisor_id else [])
    chain = supervision_chain(educator, await repo.supervisor_links(session, start))
    if conflicts(record.assessor.links, educator, chain):
        return "the approver has a conflict of interest with this submission"
    return None


async def rule(
    session: AsyncSession,
    *,
    case_id: str,
    approver_id: str,
    confirmed: bool,
    finding: str,
    policy: AssignmentPolicy,
    now: datetime,
) -> Ruling:
    """Confirm or dismiss an open case (see the module docstring for the effects)."""
    case = await repo.lock_case(session, case_id)
    if case is None:
        raise NotFound("no such misconduct case")
    review = await repo.lock_review(session, case.submission_id)
    assert review is not None
    case = await repo.lock_case(session, case_id)
    assert case is not None
    if case.status != CaseStatus.OPEN:
        raise WrongState(f"the case is already {case.status}")
    problem = await approver_problem(session, review, approver_id)
    if problem is not None or approver_id == case.flagged_by:
        raise NotAllowed(problem or "the assessor who flagged it cannot rule on it")
    kind = MisconductKind(case.kind)
    decision: Decided | None = None
    revocation: RevocationRequested | None = None
    review_status = review.status
    if not confirmed:
        effect = Effect.OUTCOME_STANDS
        if review.status == ReviewStatus.MISCONDUCT_HOLD:
            effect = Effect.REVIEW_CONTINUES
            review_status = case.review_status_before
            await repo.set_review_status(session, review.submission_id, review_status)
            await repo.extend_open_assignments(session, review.submission_id, now - case.flagged_at)
            if review_status == ReviewStatus.AWAITING_ASSESSOR:
                await assign(session, review.submission_id, policy, now)
                refreshed = await repo.get_review(session, review.submission_id)
                review_status = refreshed.status if refreshed else review_status
    elif review.status == ReviewStatus.MISCONDUCT_HOLD:
        effect = Effect.NOT_EARNED
        decision = await _not_earned(session, review, kind, finding, approver_id, now)
        review_status = ReviewStatus.DECIDED
    elif review.outcome == "passed":
        effect = Effect.REVOCATION_REQUESTED
        request_id = revocation_request_id(review.submission_id)
        revocation = RevocationRequested(
            request_id=request_id,
            enrollment_id=review.enrollment_id,
            submission_id=review.submission_id,
            educator_id=review.educator_id,
            micro_credential_id=review.micro_credential_id,
            kind=kind,
            detail=finding,
            approver_id=approver_id,
            requested_at=now,
        )
        await add_event(session, revocation, event_id=request_id, time=now)
    else:
        effect = Effect.OUTCOME_STANDS
    status = CaseStatus.CONFIRMED if confirmed else CaseStatus.DISMISSED
    await repo.resolve_case(
        session,
        case_id,
        status=status,
        resolved_by=approver_id,
        at=now,
        finding=finding,
        effect=effect,
    )
    await audit.append(
        session,
        actor=approver_id,
        action=f"review.misconduct_{status}",
        object_type="submission",
        object_id=review.submission_id,
        details={
            "case_id": case_id,
            "kind": kind.value,
            "flagged_by": case.flagged_by,
            "finding": finding,
            "effect": effect,
            "revocation_request_id": revocation.request_id if revocation else None,
            "decision_id": decision.decision_id if decision else None,
        },
        chain=_chain(review),
        at=now,
    )
    return Ruling(case_id, status, effect, review_status, review.submitted_at, decision, revocation)


async def _not_earned(
    session: AsyncSession,
    review: Any,
    kind: MisconductKind,
    finding: str,
    approver_id: str,
    now: datetime,
) -> Decided:
    rubric, attempt_cap = await review_rubric(session, review)
    reason = f"Not earned: misconduct confirmed ({kind.value.replace('_', ' ')})."
    if finding:
        reason = f"{reason} {finding}"
    # No criterion is credited: the evidence cannot stand for any of them. The level is the
    # rubric's lowest (the result type needs one); ``met`` and the feedback say the rest.
    results = tuple(Result(c.id, c.level_ids[0], False, reason) for c in rubric)
    raters = [
        a
        for a in await repo.assignments_of(session, review.submission_id)
        if a.role == AssessorRole.RATER.value
        and a.status in (AssignmentStatus.OPEN, AssignmentStatus.SCORED)
    ]
    await repo.close_open_assignments(session, review.submission_id)
    return await decide_review(
        session,
        review,
        results,
        attempt_cap=attempt_cap,
        rater_ids=tuple(a.assessor_id for a in raters),
        approver_id=approver_id,
        now=now,
        misconduct=kind,
    )
