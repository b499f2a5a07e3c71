"""Misconduct: an assessor flags plagiarism, fabricated evidence or identifiable student data in
a submission they are assigned; an approver confirms or dismisses it (the rules and effects are
the :class:`~review.domain.review.Review`'s: :meth:`~review.domain.review.Review.flag`,
:meth:`~review.domain.review.Review.rule`).

Only an assessor assigned to the submission (assignment not released) flags. Only an approver
decides: on the assessor roster, not assigned to the submission (nor the one who flagged it),
and free of any conflict of interest with the educator. Every step is on the audit trail.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from mc_events.contracts.review import Decided, MisconductKind, RevocationRequested
from review.domain.refusals import NoSuch
from review.domain.review import (
    CaseStatus,
    Effect,
    MisconductCase,
    Review,
    ReviewStatus,
)
from review.domain.scoring import Rubric
from review.service_layer.assignment import AssignmentPolicy, fill
from review.service_layer.unit_of_work import UnitOfWork

OPEN_CASES_SHOWN = 200


@dataclass(frozen=True)
class RulingOutcome:
    case_id: str
    status: CaseStatus
    effect: Effect
    review_status: ReviewStatus
    submitted_at: datetime
    decision: Decided | None = None
    revocation: RevocationRequested | None = None


@dataclass(frozen=True)
class OpenCase:
    """An open case an approver may rule on, with the submission it is about (blind: the
    approver's view shows none of the educator's identity)."""

    case: MisconductCase
    review: Review
    rubric: Rubric | None


async def flag(
    uow: UnitOfWork,
    *,
    assignment_id: str,
    assessor_id: str,
    kind: MisconductKind,
    detail: str,
    now: datetime,
) -> MisconductCase:
    """Open a case on the submission of ``assessor_id``'s assignment ``assignment_id``."""
    async with uow:
        submission_id = await uow.reviews.submission_of_assignment(assignment_id, assessor_id)
        if submission_id is None:
            raise NoSuch("no such assignment")
        review = await uow.reviews.get(submission_id, for_update=True, with_cases=True)
        assert review is not None
        case = review.flag(
            assignment_id,
            assessor_id,
            case_id=str(uuid.uuid4()),
            kind=kind,
            detail=detail,
            now=now,
        )
        await uow.save(review)
        await uow.commit()
    return case


async def rule(
    uow: UnitOfWork,
    *,
    case_id: str,
    approver_id: str,
    confirmed: bool,
    finding: str,
    policy: AssignmentPolicy,
    now: datetime,
) -> RulingOutcome:
    """Confirm or dismiss an open case. A dismissal that puts the review back to waiting for an
    assessor assigns its free slots at once."""
    async with uow:
        submission_id = await uow.reviews.submission_of_case(case_id)
        if submission_id is None:
            raise NoSuch("no such misconduct case")
        review = await uow.reviews.get(submission_id, for_update=True, with_cases=True)
        assert review is not None
        approver = await uow.assessors.get(approver_id)
        ruling = review.rule(
            case_id,
            approver_id,
            approver.assessor.links if approver else None,
            await uow.roster.supervisor_links(review.supervision_start),
            confirmed=confirmed,
            finding=finding,
            rubric=await uow.catalog.rubric(
                review.micro_credential_id, review.micro_credential_version
            ),
            now=now,
        )
        if ruling.case.effect is Effect.REVIEW_CONTINUES and (
            review.status is ReviewStatus.AWAITING_ASSESSOR
        ):
            await uow.reviews.lock_assignments()
            await fill(uow, review, policy, now)
        await uow.save(review)
        await uow.commit()
    assert ruling.case.effect is not None
    return RulingOutcome(
        case_id=case_id,
        status=ruling.case.status,
        effect=ruling.case.effect,
        review_status=review.status,
        submitted_at=review.submitted_at,
        decision=ruling.decision,
        revocation=ruling.revocation,
    )


async def open_cases(uow: UnitOfWork, approver_id: str) -> list[OpenCase]:
    """The oldest open cases ``approver_id`` may rule on: not assigned to the submission, not
    the one who flagged it, no conflict of interest with the educator."""
    async with uow:
        approver = await uow.assessors.get(approver_id)
        shown: list[OpenCase] = []
        for case in await uow.reviews.open_cases(OPEN_CASES_SHOWN):
            review = await uow.reviews.get(case.submission_id)
            assert review is not None
            if case.flagged_by == approver_id or review.approver_problem(
                approver.assessor.links if approver else None,
                await uow.roster.supervisor_links(review.supervision_start),
            ):
                continue
            rubric = await uow.catalog.rubric(
                review.micro_credential_id, review.micro_credential_version
            )
            shown.append(OpenCase(case, review, rubric))
        return shown
