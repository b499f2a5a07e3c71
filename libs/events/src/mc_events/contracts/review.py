"""Reviews (review service, topic ``review.reviews``, key = enrollment id).

Keyed by enrollment id, like the enrollment events, so an enrollment's assignments and
decisions stay in order. Events name assessors by id only; they never carry the educator's
name (review is blind).
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, Self

from pydantic import AwareDatetime, Field, model_validator

from mc_events.contracts.base import Event
from mc_events.contracts.common import CriterionResult, Id
from mc_events.topics import REVIEWS


class AssessorRole(StrEnum):
    """The part an assessor plays in a review."""

    RATER = "rater"
    APPROVER = "approver"


class ReviewOutcome(StrEnum):
    """The outcome of reviewing one submission."""

    PASSED = "passed"
    REVISION_REQUESTED = "revision_requested"
    NOT_EARNED = "not_earned"


class MisconductKind(StrEnum):
    """What an assessor flagged in a submission."""

    PLAGIARISM = "plagiarism"
    FABRICATED_EVIDENCE = "fabricated_evidence"
    IDENTIFIABLE_STUDENT_DATA = "identifiable_student_data"


class Assigned(Event):
    """A submission was assigned to an assessor.

    Emitted by the review service when it assigns a submission to a rater (or the approver who
    breaks ties), after excluding assessors with a conflict of interest (same district or
    school, or supervisor of the educator). One event per assessor; also when the overdue sweep
    reassigns a submission to another rater (see ``review.assignment_escalated``).
    """

    event_type: ClassVar[str] = "review.assigned"
    topic: ClassVar[str] = REVIEWS.name
    key_field: ClassVar[str] = "enrollment_id"

    assignment_id: Id
    enrollment_id: Id
    submission_id: Id
    attempt: int = Field(ge=1)
    micro_credential_id: Id
    assessor_id: Id
    role: AssessorRole = AssessorRole.RATER
    assigned_at: AwareDatetime
    due_at: AwareDatetime = Field(description="End of the review SLA (e.g. 5 business days).")


class Decided(Event):
    """A submission was decided: passed, revision requested, or not earned.

    Emitted by the review service when the raters' scores (and the approver's sign-off, where
    needed) are final. ``passed`` means every criterion is met; the registry turns a passed
    decision into an award, so the event carries the educator, district and micro-credential
    version. The enrollment service turns the other outcomes into a resubmission or an end.
    """

    event_type: ClassVar[str] = "review.decided"
    topic: ClassVar[str] = REVIEWS.name
    key_field: ClassVar[str] = "enrollment_id"

    decision_id: Id
    enrollment_id: Id
    submission_id: Id
    attempt: int = Field(ge=1)
    educator_id: Id = Field(description="The state educator id.")
    district_id: Id = Field(description="The educator's district when the evidence came in.")
    micro_credential_id: Id
    micro_credential_version: int = Field(ge=1)
    outcome: ReviewOutcome
    results: tuple[CriterionResult, ...] = Field(
        min_length=1, description="One result per rubric criterion."
    )
    assessor_ids: tuple[Id, ...] = Field(min_length=1, description="The raters who scored it.")
    approver_id: Id | None = Field(
        default=None, description="The lead assessor who signed off, if one did."
    )
    decided_at: AwareDatetime
    misconduct: MisconductKind | None = Field(
        default=None,
        description="Set when the outcome is not_earned because an approver confirmed "
        "misconduct in the evidence; no criterion is then met and each result's feedback gives "
        "the approver's finding.",
    )

    @model_validator(mode="after")
    def _outcome_matches_results(self) -> Self:
        all_met = all(result.met for result in self.results)
        if (self.outcome is ReviewOutcome.PASSED) != all_met:
            raise ValueError("outcome is passed exactly when every criterion is met")
        if self.misconduct is not None and self.outcome is not ReviewOutcome.NOT_EARNED:
            raise ValueError("a decision for misconduct is not_earned")
        return self


class RevocationRequested(Event):
    """An approver confirmed misconduct in evidence that has already earned a credential.

    Emitted by the review service when a misconduct flag is confirmed after the award. The
    registry revokes the credential of the enrollment (once, however often this arrives) with
    the reason mapped from ``kind``; the revocation then reverses pay and credits downstream.
    """

    event_type: ClassVar[str] = "review.revocation_requested"
    topic: ClassVar[str] = REVIEWS.name
    key_field: ClassVar[str] = "enrollment_id"

    request_id: Id = Field(description="Deterministic: one per confirmed misconduct case.")
    enrollment_id: Id
    submission_id: Id
    educator_id: Id = Field(description="The state educator id.")
    micro_credential_id: Id
    kind: MisconductKind
    detail: str = Field(default="", max_length=2000, description="The approver's finding.")
    approver_id: Id
    requested_at: AwareDatetime


class EscalationOutcome(StrEnum):
    """What the overdue sweep could do about an assignment past its SLA."""

    REASSIGNED = "reassigned"
    NEEDS_STATE_ADMIN = "needs_state_admin"


class AssignmentEscalated(Event):
    """A rater's assignment passed its SLA due date unscored.

    Emitted by the review service's overdue sweep, exactly once per overdue assignment. When
    another eligible assessor exists (same conflict, capacity, calibration and qualification
    rules; never anyone who held the submission before) the overdue assignment is released and
    the submission reassigned (``reassigned``, with a ``review.assigned`` event for the new
    assessor). Otherwise the assignment stays with its assessor and a state admin must act
    (``needs_state_admin``); later sweeps keep trying to reassign it, and the sweep that
    finally reassigns it announces that once more (same ``escalation_id``, ``reassigned``), so
    every release of an assignment is on the stream.
    """

    event_type: ClassVar[str] = "review.assignment_escalated"
    topic: ClassVar[str] = REVIEWS.name
    key_field: ClassVar[str] = "enrollment_id"

    escalation_id: Id = Field(
        description="Deterministic: one per overdue assignment (shared by its late reassignment)."
    )
    enrollment_id: Id
    submission_id: Id
    attempt: int = Field(ge=1)
    micro_credential_id: Id
    overdue_assignment_id: Id
    overdue_assessor_id: Id
    due_at: AwareDatetime = Field(description="The SLA due date that passed.")
    outcome: EscalationOutcome
    reassigned_assignment_id: Id | None = Field(
        default=None, description="The new assignment, when reassigned."
    )
    reassigned_to: Id | None = Field(
        default=None, description="The assessor now assigned, when reassigned."
    )
    escalated_at: AwareDatetime

    @model_validator(mode="after")
    def _reassignment_named_exactly_when_reassigned(self) -> Self:
        reassigned = self.outcome is EscalationOutcome.REASSIGNED
        named = self.reassigned_assignment_id is not None and self.reassigned_to is not None
        if reassigned != named:
            raise ValueError("a reassignment names the new assignment and assessor, else neither")
        return self


__all__ = [
    "AssessorRole",
    "Assigned",
    "AssignmentEscalated",
    "Decided",
    "EscalationOutcome",
    "MisconductKind",
    "ReviewOutcome",
    "RevocationRequested",
]
