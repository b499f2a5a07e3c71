"""The review of one submission: the aggregate every review command goes through.

A :class:`Review` holds its raters' (and approver's) :class:`Assignment` s, the
:class:`Escalation` of each overdue one, and its :class:`MisconductCase` s. Each step of a review
is a method that checks the rules, changes the review, and records what happened: the events to
publish (:attr:`Review.events`) and the decisions for the educator's audit chain
(:attr:`Review.audit_trail`). The service layer loads a review, calls one method, saves it and
hands what was recorded to the unit of work.

The steps:

- **assignment** (:meth:`Review.assign`): free rater slots are filled, least loaded assessor
  first (chosen by :mod:`review.domain.assignment`); ``review.assigned`` per assignment, whose id
  (also the event id) derives from (submission, slot, generation);
- **scoring** (:meth:`Review.score`): a rater's scores; once every rater has scored, the
  decision follows from the rubric, or raters who disagree send it to an approver;
- **approval** (:meth:`Review.approve`): an approver's scores decide a disagreement;
- **decision**: ``review.decided`` (its id derives from the submission) and ``review.decided``
  on the audit trail;
- **misconduct** (:meth:`Review.flag`, :meth:`Review.rule`): flagged before a decision, the review
  is held until an approver rules. Confirmed before a decision: not earned, with the misconduct
  named, no criterion credited, open assignments closed. Confirmed after a pass:
  ``review.revocation_requested`` (its id derives from the submission). Confirmed after another
  decision: the outcome stands. Dismissed: the review continues where it was, open assignments'
  due dates moved by the time on hold;
- **overdue** (:meth:`Review.reassign_overdue`): an open rater assignment past due is released
  to a replacement if there is one, and escalated once (``review.assignment_escalated``, its id
  derived from the assignment); an escalation nobody could take is announced again when a
  later sweep finally reassigns it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from mc_events.contracts.base import Event
from mc_events.contracts.common import CriterionResult
from mc_events.contracts.enrollment import ArtifactRef, EvidenceSubmitted
from mc_events.contracts.review import (
    AssessorRole,
    Assigned,
    AssignmentEscalated,
    Decided,
    EscalationOutcome,
    MisconductKind,
    ReviewOutcome,
    RevocationRequested,
)
from review.domain.conflicts import AssessorLinks, EducatorFacts, conflicts, supervision_chain
from review.domain.refusals import NoSuch, NotAllowed, WrongState
from review.domain.scoring import (
    NeedsApprover,
    Outcome,
    Rating,
    Result,
    Rubric,
    Score,
    check_rating,
    decide,
    reconcile,
    results_of,
)


class ReviewStatus(StrEnum):
    """Where a review stands (the values are stored)."""

    AWAITING_ASSESSOR = "awaiting_assessor"
    IN_REVIEW = "in_review"
    AWAITING_APPROVER = "awaiting_approver"
    MISCONDUCT_HOLD = "misconduct_hold"
    DECIDED = "decided"


class AssignmentStatus(StrEnum):
    OPEN = "open"
    SCORED = "scored"
    RELEASED = "released"
    """Overdue and reassigned to someone else."""
    CLOSED = "closed"
    """No longer needed: the submission was decided without this rater (misconduct)."""


class CaseStatus(StrEnum):
    OPEN = "open"
    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"


class Effect(StrEnum):
    """What a misconduct ruling did."""

    NOT_EARNED = "not_earned"
    REVOCATION_REQUESTED = "revocation_requested"
    OUTCOME_STANDS = "outcome_stands"
    REVIEW_CONTINUES = "review_continues"


APPROVER_SLOT = 0
SWEEP_ACTOR = "system:overdue-sweep"

_ASSIGNMENT_NS = uuid.UUID("6c1f4a0e-2b8e-4f59-9a53-0e7c5d1b2a11")
_DECISION_NS = uuid.UUID("0b7d3c52-94a1-4c0e-8f7e-5d2f6a9e3c44")
_REVOCATION_NS = uuid.UUID("9a3e6f14-0c7b-4d52-b8e1-3f6d2a9c5b70")
_ESCALATION_NS = uuid.UUID("2d5c8e71-6a0f-4b3e-9d21-7f4a1c0b9e58")


def assignment_id(submission_id: str, slot: int, generation: int = 1) -> str:
    """Derived from (submission, slot, generation): a retried command makes the same one."""
    name = f"{submission_id}/{slot}" if generation == 1 else f"{submission_id}/{slot}/{generation}"
    return str(uuid.uuid5(_ASSIGNMENT_NS, name))


def approver_assignment_id(submission_id: str) -> str:
    return str(uuid.uuid5(_DECISION_NS, f"{submission_id}/approver"))


def decision_id(submission_id: str) -> str:
    return str(uuid.uuid5(_DECISION_NS, submission_id))


def revocation_request_id(submission_id: str) -> str:
    return str(uuid.uuid5(_REVOCATION_NS, submission_id))


def escalation_id(overdue_assignment_id: str) -> str:
    return str(uuid.uuid5(_ESCALATION_NS, overdue_assignment_id))


def late_reassignment_event_id(overdue_assignment_id: str) -> str:
    return str(uuid.uuid5(_ESCALATION_NS, f"{overdue_assignment_id}:reassigned"))


@dataclass
class Escalation:
    """An overdue assignment's escalation (one per assignment)."""

    escalation_id: str
    assignment_id: str
    submission_id: str
    assessor_id: str
    due_at: datetime
    escalated_at: datetime
    outcome: EscalationOutcome
    reassigned_assignment_id: str | None = None
    reassigned_to: str | None = None
    reassigned_at: datetime | None = None


@dataclass
class Assignment:
    """One assessor's part in a review: a rater's slot (1..n; each reassignment of an overdue
    one is the slot's next generation), or the approver's (slot 0)."""

    assignment_id: str
    submission_id: str
    slot: int
    generation: int
    role: AssessorRole
    assessor_id: str
    assigned_at: datetime
    due_at: datetime
    status: AssignmentStatus
    scores: dict[str, Score] | None = None
    scored_at: datetime | None = None
    released_at: datetime | None = None
    escalation: Escalation | None = None

    @property
    def is_rater(self) -> bool:
        return self.role is AssessorRole.RATER


@dataclass
class MisconductCase:
    """A misconduct flag on a submission and, once an approver ruled, the ruling."""

    case_id: str
    submission_id: str
    flagged_by: str
    kind: MisconductKind
    detail: str
    flagged_at: datetime
    status: CaseStatus
    review_status_before: ReviewStatus
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    finding: str | None = None
    effect: Effect | None = None


@dataclass(frozen=True)
class KeptResult:
    """A decided criterion, kept on the review for the research measures."""

    criterion_id: str
    level_id: str
    met: bool


@dataclass(frozen=True)
class Recorded:
    """An event to publish if the command commits."""

    event: Event
    event_id: str
    time: datetime


@dataclass(frozen=True)
class AuditEntry:
    """A decision for the educator's audit chain, about the submission."""

    actor: str
    action: str
    object_id: str
    details: dict[str, Any]
    chain: str
    at: datetime
    object_type: str = "submission"


@dataclass(frozen=True)
class Overdue:
    """What :meth:`Review.reassign_overdue` did."""

    reassigned: Assigned | None
    """The replacement's assignment, if there was a replacement."""
    escalated: bool
    """A new escalation (an SLA breach seen for the first time)."""


@dataclass(frozen=True)
class Ruling:
    """What :meth:`Review.rule` did."""

    case: MisconductCase
    decision: Decided | None = None
    revocation: RevocationRequested | None = None


@dataclass
class Review:
    """A submission under review (see the module docstring)."""

    submission_id: str
    enrollment_id: str
    attempt: int
    educator: EducatorFacts
    micro_credential_id: str
    micro_credential_version: int
    raters_required: int
    status: ReviewStatus
    submitted_at: datetime
    received_at: datetime
    artifacts: tuple[ArtifactRef, ...]
    """References only (never content); the assessor's blind view lists them."""
    decision_id: str | None = None
    outcome: Outcome | None = None
    decided_at: datetime | None = None
    results: tuple[KeptResult, ...] | None = None
    assignments: list[Assignment] = field(default_factory=list)
    """In slot order (a slot's generations in order)."""
    loaded_cases: list[MisconductCase] | None = None
    """The misconduct cases, oldest first; None when the command did not load them."""
    events: list[Recorded] = field(default_factory=list)
    audit_trail: list[AuditEntry] = field(default_factory=list)

    @classmethod
    def of_submission(
        cls, submission: EvidenceSubmitted, *, raters_required: int, received_at: datetime
    ) -> Review:
        """A submission's new review, waiting for its raters."""
        return cls(
            submission_id=submission.submission_id,
            enrollment_id=submission.enrollment_id,
            attempt=submission.attempt,
            educator=EducatorFacts(
                educator_id=submission.educator_id,
                district_id=submission.district_id,
                school_id=submission.school_id,
                supervisor_id=submission.supervisor_id,
            ),
            micro_credential_id=submission.micro_credential_id,
            micro_credential_version=submission.micro_credential_version,
            raters_required=raters_required,
            status=ReviewStatus.AWAITING_ASSESSOR,
            submitted_at=submission.submitted_at,
            received_at=received_at,
            artifacts=submission.artifacts,
            loaded_cases=[],
        )

    # -- what the rules look at ---------------------------------------------------------------

    @property
    def cases(self) -> list[MisconductCase]:
        if self.loaded_cases is None:
            raise RuntimeError(f"the misconduct cases of {self.submission_id} were not loaded")
        return self.loaded_cases

    @property
    def chain(self) -> str:
        """The educator's audit chain."""
        return f"educator:{self.educator.educator_id}"

    @property
    def supervision_start(self) -> list[str]:
        """Whose supervisors a conflict-of-interest check needs: the educator's (and the
        submission's own supervisor's)."""
        supervisor = self.educator.supervisor_id
        return [self.educator.educator_id] + ([supervisor] if supervisor else [])

    @property
    def being_rated(self) -> bool:
        return self.status in (ReviewStatus.AWAITING_ASSESSOR, ReviewStatus.IN_REVIEW)

    @property
    def holders(self) -> frozenset[str]:
        """Everyone who ever held this submission (the other rater, one it was taken from)."""
        return frozenset(a.assessor_id for a in self.assignments)

    def free_slots(self) -> list[int]:
        taken = {a.slot for a in self.assignments if a.status is not AssignmentStatus.RELEASED}
        return [s for s in range(1, self.raters_required + 1) if s not in taken]

    def assignment(self, assignment_id: str) -> Assignment:
        for found in self.assignments:
            if found.assignment_id == assignment_id:
                return found
        raise NoSuch("no such assignment")

    def conflicts_with(
        self, assessor: AssessorLinks, supervisor_of: Mapping[str, str | None]
    ) -> bool:
        """Whether ``assessor`` has a conflict of interest with the educator (``supervisor_of``:
        the roster's supervisor links above :attr:`supervision_start`)."""
        chain = supervision_chain(self.educator, supervisor_of)
        return bool(conflicts(assessor, self.educator, chain))

    def approver_problem(
        self, approver: AssessorLinks | None, supervisor_of: Mapping[str, str | None]
    ) -> str | None:
        """Why ``approver`` (None: not on the roster) may not rule on a misconduct flag on this
        submission; None when they may."""
        if approver is None:
            return "the approver is not on the assessor roster"
        if approver.assessor_id in self.holders:
            return "an assessor of this submission cannot also rule on it"
        if self.conflicts_with(approver, supervisor_of):
            return "the approver has a conflict of interest with this submission"
        return None

    def take_recorded(self) -> tuple[list[Recorded], list[AuditEntry]]:
        """The events and audit entries recorded since the last call (and forget them)."""
        recorded = (self.events, self.audit_trail)
        self.events, self.audit_trail = [], []
        return recorded

    # -- assignment ---------------------------------------------------------------------------

    def assign(
        self, assessor_ids: Sequence[str], *, now: datetime, due_at: datetime
    ) -> list[Assigned]:
        """Give the free rater slots, in order, to ``assessor_ids`` (chosen for them, least
        loaded first); fewer assessors than slots leave the rest waiting. In review once every
        slot is held."""
        if self.status is not ReviewStatus.AWAITING_ASSESSOR:
            return []
        held = len(self.assignments) - len(
            [a for a in self.assignments if a.status is AssignmentStatus.RELEASED]
        )
        assigned = [
            self._new_rater(slot, assessor_id, now=now, due_at=due_at)
            for slot, assessor_id in zip(self.free_slots(), assessor_ids, strict=False)
        ]
        if held + len(assigned) >= self.raters_required:
            self.status = ReviewStatus.IN_REVIEW
        return assigned

    def _new_rater(
        self, slot: int, assessor_id: str, *, now: datetime, due_at: datetime
    ) -> Assigned:
        """A new assignment of ``slot`` (its next generation) and its ``review.assigned``."""
        generation = 1 + max((a.generation for a in self.assignments if a.slot == slot), default=0)
        new = Assignment(
            assignment_id=assignment_id(self.submission_id, slot, generation),
            submission_id=self.submission_id,
            slot=slot,
            generation=generation,
            role=AssessorRole.RATER,
            assessor_id=assessor_id,
            assigned_at=now,
            due_at=due_at,
            status=AssignmentStatus.OPEN,
        )
        self._add(new)
        event = Assigned(
            assignment_id=new.assignment_id,
            enrollment_id=self.enrollment_id,
            submission_id=self.submission_id,
            attempt=self.attempt,
            micro_credential_id=self.micro_credential_id,
            assessor_id=assessor_id,
            role=AssessorRole.RATER,
            assigned_at=now,
            due_at=due_at,
        )
        self._record(event, new.assignment_id, now)
        return event

    # -- scoring and decision -----------------------------------------------------------------

    def score(
        self, assignment_id: str, rating: Rating, rubric: Rubric | None, *, now: datetime
    ) -> Decided | None:
        """A rater's scores on their open assignment. Once every rater has scored, the review is
        decided (returns the decision), or goes to an approver when two raters disagree."""
        assignment = self.assignment(assignment_id)
        if not assignment.is_rater:
            raise WrongState("approver decisions go through the approvals endpoint")
        if assignment.status is not AssignmentStatus.OPEN:
            raise WrongState(f"this assignment is {assignment.status}, not open")
        if self.status is not ReviewStatus.IN_REVIEW:
            raise WrongState(f"the review is {self.status}, not in review")
        if rubric is None:
            raise WrongState("the rubric of this micro-credential version is not known yet")
        check_rating(rubric.criteria, rating)
        assignment.scores = dict(sorted(rating.items()))
        assignment.scored_at = now
        assignment.status = AssignmentStatus.SCORED
        scored = [a for a in self.assignments if a.is_rater and a.status is AssignmentStatus.SCORED]
        if len(scored) < self.raters_required:
            return None
        ratings = [a.scores or {} for a in scored]
        if len(ratings) == 1:
            results = results_of(rubric.criteria, ratings[0])
        else:
            reconciled = reconcile(rubric.criteria, ratings[0], ratings[1])
            if isinstance(reconciled, NeedsApprover):
                self.status = ReviewStatus.AWAITING_APPROVER
                return None
            results = reconciled.results
        return self._decide(
            results,
            attempt_cap=rubric.attempt_cap,
            rater_ids=tuple(a.assessor_id for a in scored),
            approver_id=None,
            now=now,
        )

    def approve(
        self,
        approver: AssessorLinks | None,
        supervisor_of: Mapping[str, str | None],
        rating: Rating,
        rubric: Rubric | None,
        *,
        now: datetime,
    ) -> Decided:
        """An approver's scores decide a review the raters disagreed on. The approver
        (``None``: not on the assessor roster) must not be one of its raters, and is held to the
        same conflict-of-interest rules as the raters."""
        if self.status is not ReviewStatus.AWAITING_APPROVER:
            raise WrongState(f"the review is {self.status}, not awaiting an approver")
        if approver is None:
            raise NotAllowed("the approver is not on the assessor roster")
        raters = [a for a in self.assignments if a.is_rater]
        if approver.assessor_id in {r.assessor_id for r in raters}:
            raise NotAllowed("a rater of this submission cannot also approve it")
        if self.conflicts_with(approver, supervisor_of):
            raise NotAllowed("the approver has a conflict of interest with this submission")
        if rubric is None:
            raise WrongState("the rubric of this micro-credential version is not known yet")
        results = results_of(rubric.criteria, rating)
        self._add(
            Assignment(
                assignment_id=approver_assignment_id(self.submission_id),
                submission_id=self.submission_id,
                slot=APPROVER_SLOT,
                generation=1,
                role=AssessorRole.APPROVER,
                assessor_id=approver.assessor_id,
                assigned_at=now,
                due_at=now,
                status=AssignmentStatus.SCORED,
                scores=dict(sorted(rating.items())),
                scored_at=now,
            )
        )
        return self._decide(
            results,
            attempt_cap=rubric.attempt_cap,
            rater_ids=tuple(r.assessor_id for r in raters),
            approver_id=approver.assessor_id,
            now=now,
        )

    def _decide(
        self,
        results: tuple[Result, ...],
        *,
        attempt_cap: int,
        rater_ids: tuple[str, ...],
        approver_id: str | None,
        now: datetime,
        misconduct: MisconductKind | None = None,
    ) -> Decided:
        """Decide the review: ``review.decided`` and its audit record. For confirmed
        ``misconduct`` it is not earned whatever the results say (the caller passes results
        that credit no criterion) and no results are kept for the research measures."""
        if misconduct is not None:
            outcome = Outcome.NOT_EARNED
        else:
            outcome = decide(results, attempt=self.attempt, attempt_cap=attempt_cap)
        new_id = decision_id(self.submission_id)
        event = Decided(
            decision_id=new_id,
            enrollment_id=self.enrollment_id,
            submission_id=self.submission_id,
            attempt=self.attempt,
            educator_id=self.educator.educator_id,
            district_id=self.educator.district_id,
            micro_credential_id=self.micro_credential_id,
            micro_credential_version=self.micro_credential_version,
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
        self.status = ReviewStatus.DECIDED
        self.decision_id = new_id
        self.outcome = outcome
        self.decided_at = now
        self.results = (
            None
            if misconduct
            else tuple(KeptResult(r.criterion_id, r.level_id, r.met) for r in results)
        )
        self._record(event, new_id, now)
        self._audit(
            actor=approver_id or ",".join(rater_ids),
            action="review.decided",
            details={
                "decision_id": new_id,
                "outcome": outcome.value,
                "attempt": self.attempt,
                "raters": list(rater_ids),
                "approver": approver_id,
                "results": {r.criterion_id: r.level_id for r in results},
                "misconduct": misconduct.value if misconduct else None,
            },
            at=now,
        )
        return event

    # -- misconduct ---------------------------------------------------------------------------

    def flag(
        self,
        assignment_id: str,
        assessor_id: str,
        *,
        case_id: str,
        kind: MisconductKind,
        detail: str,
        now: datetime,
    ) -> MisconductCase:
        """The assessor of ``assignment_id`` flags misconduct: a case for an approver; before a
        decision the review is held until they rule."""
        assignment = self.assignment(assignment_id)
        if assignment.assessor_id != assessor_id:
            raise NoSuch("no such assignment")
        if assignment.status is AssignmentStatus.RELEASED:
            raise NotAllowed("this assignment was reassigned: it is no longer yours")
        if any(c.status is CaseStatus.OPEN for c in self.cases):
            raise WrongState("a misconduct flag on this submission is already with an approver")
        if any(c.status is CaseStatus.CONFIRMED for c in self.cases):
            raise WrongState("misconduct in this submission is already confirmed")
        case = MisconductCase(
            case_id=case_id,
            submission_id=self.submission_id,
            flagged_by=assessor_id,
            kind=kind,
            detail=detail,
            flagged_at=now,
            status=CaseStatus.OPEN,
            review_status_before=self.status,
        )
        self.cases.append(case)
        if self.status is not ReviewStatus.DECIDED:
            self.status = ReviewStatus.MISCONDUCT_HOLD
        self._audit(
            actor=assessor_id,
            action="review.misconduct_flagged",
            details={"case_id": case_id, "kind": kind.value, "detail": detail},
            at=now,
        )
        return case

    def case(self, case_id: str) -> MisconductCase:
        for found in self.cases:
            if found.case_id == case_id:
                return found
        raise NoSuch("no such misconduct case")

    def rule(
        self,
        case_id: str,
        approver_id: str,
        approver: AssessorLinks | None,
        supervisor_of: Mapping[str, str | None],
        *,
        confirmed: bool,
        finding: str,
        rubric: Rubric | None,
        now: datetime,
    ) -> Ruling:
        """An approver (``approver``: their roster record, None if not on it) confirms or
        dismisses an open case (the effects are in the module docstring). A dismissal that puts
        the review back to ``awaiting_assessor`` leaves its free slots for :meth:`assign`."""
        case = self.case(case_id)
        if case.status is not CaseStatus.OPEN:
            raise WrongState(f"the case is already {case.status}")
        problem = self.approver_problem(approver, supervisor_of)
        if problem is not None or approver_id == case.flagged_by:
            raise NotAllowed(problem or "the assessor who flagged it cannot rule on it")
        decision: Decided | None = None
        revocation: RevocationRequested | None = None
        if not confirmed:
            effect = Effect.OUTCOME_STANDS
            if self.status is ReviewStatus.MISCONDUCT_HOLD:
                effect = Effect.REVIEW_CONTINUES
                self.status = case.review_status_before
                held_for = now - case.flagged_at
                for assignment in self.assignments:
                    if assignment.status is AssignmentStatus.OPEN:
                        assignment.due_at += held_for
        elif self.status is ReviewStatus.MISCONDUCT_HOLD:
            effect = Effect.NOT_EARNED
            decision = self._not_earned(case.kind, finding, approver_id, rubric, now)
        elif self.outcome is Outcome.PASSED:
            effect = Effect.REVOCATION_REQUESTED
            request_id = revocation_request_id(self.submission_id)
            revocation = RevocationRequested(
                request_id=request_id,
                enrollment_id=self.enrollment_id,
                submission_id=self.submission_id,
                educator_id=self.educator.educator_id,
                micro_credential_id=self.micro_credential_id,
                kind=case.kind,
                detail=finding,
                approver_id=approver_id,
                requested_at=now,
            )
            self._record(revocation, request_id, now)
        else:
            effect = Effect.OUTCOME_STANDS
        case.status = CaseStatus.CONFIRMED if confirmed else CaseStatus.DISMISSED
        case.resolved_by = approver_id
        case.resolved_at = now
        case.finding = finding
        case.effect = effect
        self._audit(
            actor=approver_id,
            action=f"review.misconduct_{case.status.value}",
            details={
                "case_id": case_id,
                "kind": case.kind.value,
                "flagged_by": case.flagged_by,
                "finding": finding,
                "effect": effect.value,
                "revocation_request_id": revocation.request_id if revocation else None,
                "decision_id": decision.decision_id if decision else None,
            },
            at=now,
        )
        return Ruling(case, decision, revocation)

    def _not_earned(
        self,
        kind: MisconductKind,
        finding: str,
        approver_id: str,
        rubric: Rubric | None,
        now: datetime,
    ) -> Decided:
        if rubric is None:
            raise WrongState("the rubric of this micro-credential version is not known yet")
        reason = f"Not earned: misconduct confirmed ({kind.value.replace('_', ' ')})."
        if finding:
            reason = f"{reason} {finding}"
        # No criterion is credited: the evidence cannot stand for any of them. The level is the
        # rubric's lowest (the result type needs one); ``met`` and the feedback say the rest.
        results = tuple(Result(c.id, c.level_ids[0], False, reason) for c in rubric.criteria)
        raters = [
            a
            for a in self.assignments
            if a.is_rater and a.status in (AssignmentStatus.OPEN, AssignmentStatus.SCORED)
        ]
        for assignment in self.assignments:
            if assignment.status is AssignmentStatus.OPEN:
                assignment.status = AssignmentStatus.CLOSED
        return self._decide(
            results,
            attempt_cap=rubric.attempt_cap,
            rater_ids=tuple(a.assessor_id for a in raters),
            approver_id=approver_id,
            now=now,
            misconduct=kind,
        )

    # -- overdue ------------------------------------------------------------------------------

    def reassign_overdue(
        self,
        overdue_id: str,
        replacement: str | None,
        *,
        now: datetime,
        due_at: datetime,
    ) -> Overdue:
        """An open rater assignment past due: released to ``replacement`` (the slot's next
        generation, due ``due_at``) if there is one, and escalated once. An escalation nobody
        could take records who finally took it (once), announced again under its own id."""
        overdue = self.assignment(overdue_id)
        new: Assigned | None = None
        if replacement is not None:
            overdue.status = AssignmentStatus.RELEASED
            overdue.released_at = now
            new = self._new_rater(overdue.slot, replacement, now=now, due_at=due_at)
        escalation = overdue.escalation
        if escalation is not None:
            # Escalated by an earlier sweep with nobody to take it; now someone can. The release
            # is announced once more (its own event id) so evidence access follows it.
            if new is not None and escalation.reassigned_assignment_id is None:
                escalation.reassigned_assignment_id = new.assignment_id
                escalation.reassigned_to = new.assessor_id
                escalation.reassigned_at = now
                self._escalated(overdue, escalation.escalation_id, new, now=now, first=False)
            return Overdue(new, escalated=False)
        outcome = EscalationOutcome.REASSIGNED if new else EscalationOutcome.NEEDS_STATE_ADMIN
        overdue.escalation = Escalation(
            escalation_id=escalation_id(overdue_id),
            assignment_id=overdue_id,
            submission_id=self.submission_id,
            assessor_id=overdue.assessor_id,
            due_at=overdue.due_at,
            escalated_at=now,
            outcome=outcome,
            reassigned_assignment_id=new.assignment_id if new else None,
            reassigned_to=new.assessor_id if new else None,
            reassigned_at=now if new else None,
        )
        self._escalated(overdue, overdue.escalation.escalation_id, new, now=now, first=True)
        return Overdue(new, escalated=True)

    def _escalated(
        self,
        overdue: Assignment,
        escalation: str,
        new: Assigned | None,
        *,
        now: datetime,
        first: bool,
    ) -> None:
        """``review.assignment_escalated`` (the escalation's first, or its late reassignment)
        and its audit record."""
        event = AssignmentEscalated(
            escalation_id=escalation,
            enrollment_id=self.enrollment_id,
            submission_id=self.submission_id,
            attempt=self.attempt,
            micro_credential_id=self.micro_credential_id,
            overdue_assignment_id=overdue.assignment_id,
            overdue_assessor_id=overdue.assessor_id,
            due_at=overdue.due_at,
            outcome=EscalationOutcome.REASSIGNED if new else EscalationOutcome.NEEDS_STATE_ADMIN,
            reassigned_assignment_id=new.assignment_id if new else None,
            reassigned_to=new.assessor_id if new else None,
            escalated_at=now,
        )
        event_id = escalation if first else late_reassignment_event_id(overdue.assignment_id)
        self._record(event, event_id, now)
        self._audit(
            actor=SWEEP_ACTOR,
            action="review.assignment_escalated" if first else "review.assignment_reassigned",
            details={
                "overdue_assignment_id": overdue.assignment_id,
                "overdue_assessor_id": overdue.assessor_id,
                "due_at": overdue.due_at.isoformat(),
                "reassigned_assignment_id": new.assignment_id if new else None,
                "reassigned_to": new.assessor_id if new else None,
            },
            at=now,
        )

    # -- recording ----------------------------------------------------------------------------

    def _add(self, assignment: Assignment) -> None:
        self.assignments.append(assignment)
        self.assignments.sort(key=lambda a: (a.slot, a.generation))

    def _record(self, event: Event, event_id: str, now: datetime) -> None:
        self.events.append(Recorded(event, event_id, now))

    def _audit(self, *, actor: str, action: str, details: dict[str, Any], at: datetime) -> None:
        self.audit_trail.append(
            AuditEntry(
                actor=actor,
                action=action,
                object_id=self.submission_id,
                details=details,
                chain=self.chain,
                at=at,
            )
        )
