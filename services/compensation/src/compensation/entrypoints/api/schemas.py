"""Request and response bodies. Money is ``StrictInt`` cents: a JSON 1000.0 or "1000" is refused
with 422 rather than silently coerced."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictInt

from compensation.domain.fiscal import FiscalCalendar
from compensation.domain.lanes import SalaryLaneRule
from compensation.domain.ledger import BudgetStatus, LedgerEntry, StipendStatement
from compensation.domain.payroll import Acknowledgement, AckStatus, Batch
from compensation.domain.rules import BudgetKey, RuleKind, StipendRule
from mc_events.contracts.roster import StaffRole

PositiveCents = Annotated[StrictInt, Field(gt=0, description="Integer cents (USD).")]
StateCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="Two-letter postal code.")]
Slug = Annotated[str, Field(min_length=1, max_length=120, pattern=r"^[A-Za-z0-9][\w.:-]*$")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DistrictIn(_In):
    state: StateCode
    name: str = ""


class DistrictOut(BaseModel):
    district_id: str
    state: str
    name: str


class CalendarIn(_In):
    start_month: int = Field(default=7, ge=1, le=12)
    start_day: int = Field(default=1, ge=1, le=28)
    timezone: str = "UTC"


class RuleIn(_In):
    """One version of a stipend rule (the service numbers versions)."""

    rule_id: Slug
    name: str = Field(min_length=1)
    state: StateCode
    district_id: str | None = Field(default=None, description="None: every district of state.")
    kind: RuleKind
    amount_cents: PositiveCents
    funding_source: Slug
    effective_from: AwareDatetime
    effective_until: AwareDatetime | None = None
    subject_ids: list[str] = Field(
        default_factory=list, description="Micro-credential (or stack) ids; empty: all."
    )
    eligible_roles: list[StaffRole] = Field(default_factory=list)
    eligible_license_types: list[str] = Field(default_factory=list)
    requires_valid_license: bool = False
    annual_cap_cents: PositiveCents | None = None
    calendar: CalendarIn = Field(default_factory=CalendarIn)

    def to_domain(self) -> StipendRule:
        return StipendRule(
            rule_id=self.rule_id,
            version=1,
            name=self.name,
            state=self.state,
            district_id=self.district_id,
            kind=self.kind,
            amount_cents=self.amount_cents,
            funding_source=self.funding_source,
            effective_from=self.effective_from,
            effective_until=self.effective_until,
            subject_ids=frozenset(self.subject_ids),
            eligible_roles=frozenset(role.value for role in self.eligible_roles),
            eligible_license_types=frozenset(self.eligible_license_types),
            requires_valid_license=self.requires_valid_license,
            annual_cap_cents=self.annual_cap_cents,
            calendar=FiscalCalendar(
                self.calendar.start_month, self.calendar.start_day, self.calendar.timezone
            ),
        )


class RuleOut(BaseModel):
    rule_id: str
    version: int
    name: str
    state: str
    district_id: str | None
    kind: RuleKind
    amount_cents: int
    funding_source: str
    effective_from: datetime
    effective_until: datetime | None
    subject_ids: list[str]
    eligible_roles: list[str]
    eligible_license_types: list[str]
    requires_valid_license: bool
    annual_cap_cents: int | None
    calendar: CalendarIn

    @classmethod
    def of(cls, rule: StipendRule) -> RuleOut:
        return cls(
            rule_id=rule.rule_id,
            version=rule.version,
            name=rule.name,
            state=rule.state,
            district_id=rule.district_id,
            kind=rule.kind,
            amount_cents=rule.amount_cents,
            funding_source=rule.funding_source,
            effective_from=rule.effective_from,
            effective_until=rule.effective_until,
            subject_ids=sorted(rule.subject_ids),
            eligible_roles=sorted(rule.eligible_roles),
            eligible_license_types=sorted(rule.eligible_license_types),
            requires_valid_license=rule.requires_valid_license,
            annual_cap_cents=rule.annual_cap_cents,
            calendar=CalendarIn(
                start_month=rule.calendar.start_month,
                start_day=rule.calendar.start_day,
                timezone=rule.calendar.timezone,
            ),
        )


class AllocationIn(_In):
    funding_source: Slug
    amount_cents: PositiveCents


class BudgetOut(BaseModel):
    district_id: str
    funding_source: str
    fiscal_year: int
    allocated_cents: int
    committed_cents: int
    remaining_cents: int
    deferred_count: int
    deferred_cents: int

    @classmethod
    def of(cls, key: BudgetKey, budget: BudgetStatus) -> BudgetOut:
        district_id, funding_source, fiscal_year = key
        return cls(
            district_id=district_id,
            funding_source=funding_source,
            fiscal_year=fiscal_year,
            allocated_cents=budget.allocated_cents,
            committed_cents=budget.committed_cents,
            remaining_cents=budget.remaining_cents,
            deferred_count=budget.deferred_count,
            deferred_cents=budget.deferred_cents,
        )


class AllocationOut(BaseModel):
    budget: BudgetOut
    released_entry_ids: list[str] = Field(description="Deferred stipends approved now.")


class LedgerEntryOut(BaseModel):
    entry_id: str
    kind: str
    district_id: str
    basis: str
    credential_id: str | None
    stack_completion_id: str | None
    rule_id: str
    rule_version: int
    fiscal_year: int
    fiscal_period: int
    amount_cents: int
    funding_source: str
    reverses_entry_id: str | None
    reason: str | None
    awarded_at: datetime
    recorded_at: datetime
    held: bool = Field(
        default=False,
        description="Held from payroll: the credential is suspended and no batch carries it.",
    )

    @classmethod
    def of(cls, entry: LedgerEntry, *, held: bool) -> LedgerEntryOut:
        return cls.model_validate({**vars(entry), "held": held})


class EducatorStipendsOut(BaseModel):
    educator_id: str
    balance_cents: int = Field(description="Net of approvals and reversals.")
    by_fiscal_year: dict[int, int]
    held_cents: int = Field(default=0, description="Part of the balance held from payroll.")
    entries: list[LedgerEntryOut]

    @classmethod
    def of(cls, statement: StipendStatement) -> EducatorStipendsOut:
        held = statement.held_entry_ids
        return cls(
            educator_id=statement.educator_id,
            balance_cents=statement.balance_cents,
            by_fiscal_year=statement.by_fiscal_year,
            held_cents=statement.held_cents,
            entries=[
                LedgerEntryOut.of(entry, held=entry.entry_id in held) for entry in statement.entries
            ],
        )


# -- payroll and reports --------------------------------------------------------------------


class BatchIn(_In):
    pay_period_id: Slug = Field(description="The district's pay period, e.g. '2026-PP07'.")
    pay_period_start: date
    pay_period_end: date


class BatchOut(BaseModel):
    batch_id: str
    district_id: str
    pay_period_id: str
    pay_period_start: date
    pay_period_end: date
    idempotency_key: str
    status: str
    entry_count: int
    total_cents: int
    checksum_sha256: str = Field(description="SHA-256 of the CSV export.")
    exported_at: datetime

    @classmethod
    def of(cls, batch: Batch) -> BatchOut:
        return cls(
            **vars(batch.header),
            status=batch.status,
            entry_count=len(batch.lines),
            total_cents=batch.total_cents,
            checksum_sha256=batch.checksum_sha256,
        )


class AcknowledgementIn(_In):
    idempotency_key: str
    status: AckStatus
    rejected_entry_ids: list[str] = Field(default_factory=list)
    payroll_reference: str | None = None
    message: str = ""

    def to_domain(self) -> Acknowledgement:
        return Acknowledgement(
            idempotency_key=self.idempotency_key,
            status=self.status,
            rejected_entry_ids=list(self.rejected_entry_ids),
            payroll_reference=self.payroll_reference,
            message=self.message,
        )


class FundingSourceReport(BaseModel):
    funding_source: str
    allocated_cents: int
    committed_cents: int
    remaining_cents: int
    approved_cents: int
    reversed_cents: int
    net_cents: int
    paid_cents: int
    pending_cents: int
    pending_count: int
    deferred_cents: int
    deferred_count: int
    held_cents: int = Field(default=0, description="Pending, held: credential suspended.")
    held_count: int = 0


class DistrictReport(BaseModel):
    district_id: str
    fiscal_year: int
    funding_sources: list[FundingSourceReport]
    net_cents: int
    pending_cents: int
    deferred_cents: int
    held_cents: int = 0


class PaymentOut(BaseModel):
    id: str
    status: str
    educator_id: str
    kind: str
    amount_cents: int
    funding_source: str
    rule_id: str
    rule_version: int
    fiscal_year: int
    fiscal_period: int
    credential_id: str | None = None
    stack_completion_id: str | None = None


# -- salary lanes ---------------------------------------------------------------------------


class LaneRuleIn(_In):
    """One version of a salary-lane rule (the service numbers versions)."""

    rule_id: Slug
    name: str = Field(min_length=1)
    state: StateCode
    district_id: str | None = Field(default=None, description="None: every district of state.")
    lane: str | None = Field(
        default=None,
        min_length=1,
        max_length=120,
        description="The lane completing the stack moves to; None: the lane the stack's "
        "salary_lane grant names (then stack_ids are required).",
    )
    rank: StrictInt = Field(ge=1, le=1000, description="The lane's place in the schedule.")
    stack_ids: list[str] = Field(default_factory=list, description="Stacks; empty: all.")
    eligible_roles: list[StaffRole] = Field(default_factory=list)
    effective_from: AwareDatetime
    effective_until: AwareDatetime | None = None

    def to_domain(self) -> SalaryLaneRule:
        return SalaryLaneRule(
            rule_id=self.rule_id,
            version=1,
            name=self.name,
            state=self.state,
            district_id=self.district_id,
            lane=self.lane,
            rank=self.rank,
            stack_ids=frozenset(self.stack_ids),
            eligible_roles=frozenset(role.value for role in self.eligible_roles),
            effective_from=self.effective_from,
            effective_until=self.effective_until,
        )


class LaneRuleOut(BaseModel):
    rule_id: str
    version: int
    name: str
    state: str
    district_id: str | None
    lane: str | None
    rank: int
    stack_ids: list[str]
    eligible_roles: list[str]
    effective_from: datetime
    effective_until: datetime | None

    @classmethod
    def of(cls, rule: SalaryLaneRule) -> LaneRuleOut:
        return cls(
            rule_id=rule.rule_id,
            version=rule.version,
            name=rule.name,
            state=rule.state,
            district_id=rule.district_id,
            lane=rule.lane,
            rank=rule.rank,
            stack_ids=sorted(rule.stack_ids),
            eligible_roles=sorted(rule.eligible_roles),
            effective_from=rule.effective_from,
            effective_until=rule.effective_until,
        )


class LaneChangeOut(BaseModel):
    change_id: str
    seq: int
    educator_id: str
    district_id: str
    from_lane: str | None
    to_lane: str | None
    reason: str
    stack_completion_id: str
    stack_id: str
    rule_id: str
    rule_version: int
    reverts_change_id: str | None
    effective_at: datetime
    recorded_at: datetime


class LaneGrantOut(BaseModel):
    grant_id: str
    district_id: str
    stack_completion_id: str
    stack_id: str
    rule_id: str
    rule_version: int
    lane: str
    rank: int
    granted_at: datetime
    reversed_at: datetime | None = Field(description="None: the grant stands.")


class EducatorLanesOut(BaseModel):
    educator_id: str
    current_lanes: dict[str, str | None] = Field(
        description="District id -> lane now (None: the contract lane)."
    )
    changes: list[LaneChangeOut] = Field(description="Lane history, oldest first.")
    grants: list[LaneGrantOut]
