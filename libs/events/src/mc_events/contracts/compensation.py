"""Stipends and payroll (compensation service).

Stipends go on ``compensation.payments`` keyed by state educator id, so an educator's
approvals and clawbacks stay in order; payroll batches go on ``compensation.payroll`` keyed by
district id, the unit a district's payroll system imports.

Money is integer cents, signed the way the ledger sums it: approvals are positive, reversals
negative, and the sum of an educator's entries is what they are owed.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import ClassVar, Literal, Self

from pydantic import AwareDatetime, Field, model_validator

from mc_events.contracts.base import Event
from mc_events.contracts.common import Cents, Id, Sha256
from mc_events.topics import PAYMENTS, PAYROLL

Currency = Literal["USD"]


class StipendBasis(StrEnum):
    """What a stipend pays for."""

    CREDENTIAL = "credential"
    STACK_COMPLETION = "stack_completion"


class StipendReversalReason(StrEnum):
    """Why a stipend was reversed (clawed back)."""

    CREDENTIAL_REVOKED = "credential_revoked"
    CREDENTIAL_SUSPENDED = "credential_suspended"
    ISSUED_IN_ERROR = "issued_in_error"
    STACK_COMPLETION_REVERSED = "stack_completion_reversed"
    """The stack completion a bonus paid for no longer holds (a member credential was revoked)."""


class DeferralReason(StrEnum):
    """Why an earned stipend could not be approved yet."""

    BUDGET_EXHAUSTED = "budget_exhausted"


class DeferralCancellationReason(StrEnum):
    """Why a deferred stipend will never be paid."""

    CREDENTIAL_REVOKED = "credential_revoked"
    STACK_COMPLETION_REVERSED = "stack_completion_reversed"


class SalaryLaneChangeReason(StrEnum):
    """Why an educator's salary lane changed."""

    STACK_COMPLETED = "stack_completed"
    STACK_COMPLETION_REVERSED = "stack_completion_reversed"


class PayrollBatchStatus(StrEnum):
    """What a district payroll system did with a batch."""

    ACCEPTED = "accepted"
    PARTIALLY_ACCEPTED = "partially_accepted"
    REJECTED = "rejected"


class _StipendFor(Event):
    """What a stipend is for, under which rule (abstract: not an event itself)."""

    topic: ClassVar[str] = PAYMENTS.name
    key_field: ClassVar[str] = "educator_id"

    educator_id: Id = Field(description="The state educator id.")
    district_id: Id = Field(description="The district that pays.")
    basis: StipendBasis
    credential_id: Id | None = Field(default=None, description="basis = credential.")
    stack_completion_id: Id | None = Field(default=None, description="basis = stack_completion.")
    rule_id: Id = Field(description="The stipend rule that applied.")
    rule_version: int = Field(ge=1)
    fiscal_year: int = Field(
        ge=2000, le=2200, description="The fiscal year charged, named by the year it ends in."
    )
    fiscal_period: int = Field(
        ge=1,
        le=53,
        description="Period within the fiscal year, in the district's calendar (month or pay "
        "period).",
    )
    currency: Currency = "USD"

    @model_validator(mode="after")
    def _basis_names_its_source(self) -> Self:
        by_credential = self.basis is StipendBasis.CREDENTIAL
        if by_credential != (self.credential_id is not None) or by_credential == (
            self.stack_completion_id is not None
        ):
            raise ValueError(
                "basis credential needs credential_id only; "
                "basis stack_completion needs stack_completion_id only"
            )
        return self


class StipendApproved(_StipendFor):
    """A stipend was approved and entered in the payment ledger.

    Emitted by the compensation service when an award or stack completion matches a district
    stipend rule and the budget covers it. At most one per award (or completion) per rule:
    redelivered award events never pay twice. A payroll batch picks it up later.
    """

    event_type: ClassVar[str] = "compensation.stipend_approved"

    ledger_entry_id: Id
    amount_cents: Cents = Field(gt=0)
    funding_source: str = Field(
        description="The budget the stipend is charged to, e.g. 'state-mc-stipend-fund'."
    )
    approved_at: AwareDatetime


class StipendReversed(_StipendFor):
    """An approved stipend was reversed (clawed back).

    Emitted by the compensation service when the credential (or stack completion) it paid for
    is revoked or suspended, or it was approved in error. The reversal is its own negative
    ledger entry; the original entry is never changed.
    """

    event_type: ClassVar[str] = "compensation.stipend_reversed"

    reversal_entry_id: Id
    original_entry_id: Id = Field(description="The ledger entry of the approved stipend.")
    amount_cents: Cents = Field(
        lt=0, description="Signed ledger amount: minus the amount approved."
    )
    reason: StipendReversalReason
    reversed_at: AwareDatetime


class StipendDeferred(_StipendFor):
    """An earned stipend was deferred because the budget is exhausted.

    Emitted by the compensation service when an award or stack completion matches a stipend
    rule but the rule's budget for the fiscal year cannot cover it. Nothing is owed yet; a
    later :class:`StipendApproved` (new budget) may follow for the same award and rule.
    """

    event_type: ClassVar[str] = "compensation.stipend_deferred"

    deferral_id: Id
    amount_cents: Cents = Field(gt=0, description="The amount the rule would pay.")
    funding_source: str
    reason: DeferralReason = DeferralReason.BUDGET_EXHAUSTED
    deferred_at: AwareDatetime


class StipendDeferralCancelled(_StipendFor):
    """A deferred stipend was cancelled: it will never be paid.

    Emitted by the compensation service, once per deferral, when the credential (or stack
    completion) a stipend was deferred for is revoked (or reversed) before funds arrived. It
    closes the :class:`StipendDeferred` with the same ``deferral_id``; funds added later never
    pay it.
    """

    event_type: ClassVar[str] = "compensation.stipend_deferral_cancelled"

    deferral_id: Id = Field(description="The deferral of the earlier StipendDeferred.")
    amount_cents: Cents = Field(gt=0, description="The amount that was deferred.")
    funding_source: str
    reason: DeferralCancellationReason
    cancelled_at: AwareDatetime


class SalaryLaneChanged(Event):
    """An educator's salary lane changed because of a stack completion (or its reversal).

    Emitted by the compensation service when a salary-lane rule of the educator's district (or
    state) moves them to a higher lane after a stack completion, and when a reversed completion
    takes that lane away again (the educator falls back to the highest lane still earned, or to
    their contract lane: ``to_lane`` None). Payroll applies ``to_lane`` from ``effective_at``.
    At most one per completion, rule and direction: redelivered events never change a lane twice.
    """

    event_type: ClassVar[str] = "compensation.salary_lane_changed"
    topic: ClassVar[str] = PAYMENTS.name
    key_field: ClassVar[str] = "educator_id"

    lane_change_id: Id
    educator_id: Id = Field(description="The state educator id.")
    district_id: Id = Field(description="The district whose salary schedule it is.")
    from_lane: str | None = Field(
        description="The lane granted by micro-credentials before; None: the contract lane."
    )
    to_lane: str | None = Field(
        description="The lane from now on; None: back to the educator's contract lane."
    )
    reason: SalaryLaneChangeReason
    stack_completion_id: Id = Field(description="The completion granted or reversed.")
    stack_id: Id
    rule_id: Id = Field(description="The salary-lane rule that applied.")
    rule_version: int = Field(ge=1)
    reverts_lane_change_id: Id | None = Field(
        default=None, description="For a reversal: the lane change it takes back."
    )
    effective_at: AwareDatetime = Field(
        description="When the completion happened (or was reversed)."
    )
    changed_at: AwareDatetime

    @model_validator(mode="after")
    def _reversal_names_what_it_reverts(self) -> Self:
        reverting = self.reason is SalaryLaneChangeReason.STACK_COMPLETION_REVERSED
        if reverting != (self.reverts_lane_change_id is not None):
            raise ValueError("a reversal (and only a reversal) names reverts_lane_change_id")
        if self.from_lane == self.to_lane:
            raise ValueError("from_lane and to_lane are the same: the lane did not change")
        return self


class PayrollBatchExported(Event):
    """A payroll batch was exported to a district's payroll system.

    Emitted by the compensation service when it writes the batch of a district's ledger
    entries for a pay period. The payroll system deduplicates on ``idempotency_key``: an
    export retried after a crash carries the same key and checksum.
    """

    event_type: ClassVar[str] = "compensation.payroll_batch_exported"
    topic: ClassVar[str] = PAYROLL.name
    key_field: ClassVar[str] = "district_id"

    batch_id: Id
    district_id: Id
    pay_period_id: Id = Field(description="The district's pay period, e.g. '2026-PP07'.")
    pay_period_start: date
    pay_period_end: date
    entry_count: int = Field(ge=0)
    total_cents: Cents = Field(description="Signed sum of the entries (reversals negative).")
    currency: Currency = "USD"
    checksum_sha256: Sha256 = Field(description="SHA-256 of the exported file.")
    idempotency_key: Id
    exported_at: AwareDatetime

    @model_validator(mode="after")
    def _period_is_ordered(self) -> Self:
        if self.pay_period_start > self.pay_period_end:
            raise ValueError("pay_period_start is after pay_period_end")
        return self


class PayrollBatchAcknowledged(Event):
    """A district payroll system acknowledged a payroll batch.

    Emitted by the compensation service when the district's payroll system confirms (or
    rejects) an exported batch. Rejected entries go back into the next batch.
    """

    event_type: ClassVar[str] = "compensation.payroll_batch_acknowledged"
    topic: ClassVar[str] = PAYROLL.name
    key_field: ClassVar[str] = "district_id"

    batch_id: Id
    district_id: Id
    idempotency_key: Id
    status: PayrollBatchStatus
    accepted_entry_count: int = Field(ge=0)
    rejected_entry_ids: tuple[Id, ...] = Field(
        default=(), description="Ledger entries the payroll system refused."
    )
    payroll_reference: str | None = Field(
        default=None, description="The payroll system's own id for the batch."
    )
    message: str = ""
    acknowledged_at: AwareDatetime


__all__ = [
    "DeferralCancellationReason",
    "DeferralReason",
    "PayrollBatchAcknowledged",
    "PayrollBatchExported",
    "PayrollBatchStatus",
    "SalaryLaneChangeReason",
    "SalaryLaneChanged",
    "StipendApproved",
    "StipendBasis",
    "StipendDeferralCancelled",
    "StipendDeferred",
    "StipendReversalReason",
    "StipendReversed",
]
