"""The ledger: what the stipend rules decided for an award, and what it says about it.

An award is paid by every rule in force that covers it: each rule approves (a ledger entry in
integer cents, charged to the educator's usage counter and the district budget), defers (the
budget cannot cover it: a deferral waits for funds), or pays nothing. A revocation reverses
each approval once (a negative entry naming the original; the original is never changed) and
cancels what is still deferred. The events announcing each of these are built here, from the
entry or deferral they are about, and nowhere else.

Everything here is pure; the service layer reads usage and budgets under row locks, stores what
these functions return and emits their events.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from compensation.domain import ids
from compensation.domain.rules import (
    Award,
    Basis,
    Budget,
    BudgetKey,
    Educator,
    Outcome,
    StipendRule,
    Usage,
    UsageKey,
    decide,
)
from mc_events.contracts.compensation import (
    DeferralCancellationReason,
    StipendApproved,
    StipendBasis,
    StipendDeferralCancelled,
    StipendDeferred,
    StipendReversalReason,
    StipendReversed,
)

APPROVAL = "approval"
REVERSAL = "reversal"


_PAYMENT_FIELDS = (
    "kind",
    "educator_id",
    "amount_cents",
    "funding_source",
    "rule_id",
    "rule_version",
    "fiscal_year",
    "fiscal_period",
    "credential_id",
    "stack_completion_id",
)


def _sources(basis: str, source_id: str) -> tuple[str | None, str | None]:
    """(credential_id, stack_completion_id) of an award's source."""
    if basis == Basis.CREDENTIAL.value:
        return source_id, None
    return None, source_id


def _stipend_for(item: LedgerEntry | Deferral) -> dict[str, Any]:
    """What every stipend event says about whom, what and which rule and period it is for."""
    if isinstance(item, LedgerEntry):
        credential_id, stack_completion_id = item.credential_id, item.stack_completion_id
    else:
        credential_id, stack_completion_id = _sources(item.basis, item.source_id)
    return {
        "educator_id": item.educator_id,
        "district_id": item.district_id,
        "basis": StipendBasis(item.basis),
        "credential_id": credential_id,
        "stack_completion_id": stack_completion_id,
        "rule_id": item.rule_id,
        "rule_version": item.rule_version,
        "fiscal_year": item.fiscal_year,
        "fiscal_period": item.fiscal_period,
    }


@dataclass(frozen=True)
class LedgerEntry:
    """One row of the append-only ledger: an approval (positive cents) or the reversal of one
    (negative cents, naming the entry it reverses)."""

    entry_id: str
    kind: str
    educator_id: str
    district_id: str
    basis: str
    award_key: str
    credential_id: str | None
    stack_completion_id: str | None
    rule_id: str
    rule_version: int
    fiscal_year: int
    fiscal_period: int
    cap_period: int
    amount_cents: int
    funding_source: str
    awarded_at: datetime
    recorded_at: datetime
    reverses_entry_id: str | None = None
    reason: str | None = None
    seq: int | None = None
    """The ledger's order (None until stored)."""

    @property
    def usage_key(self) -> UsageKey:
        return (self.educator_id, self.rule_id, self.cap_period)

    def payment_fields(self) -> dict[str, Any]:
        """What a payroll line or a list of unpaid items says about the entry it pays."""
        return {name: getattr(self, name) for name in _PAYMENT_FIELDS}

    @property
    def budget_key(self) -> BudgetKey:
        return (self.district_id, self.funding_source, self.fiscal_year)

    def reversal(self, reason: StipendReversalReason, now: datetime) -> LedgerEntry:
        """The entry that takes this approval back (its id derived from this one's)."""
        return replace(
            self,
            entry_id=ids.reversal_entry_id(self.entry_id),
            kind=REVERSAL,
            amount_cents=-self.amount_cents,
            reverses_entry_id=self.entry_id,
            reason=reason.value,
            recorded_at=now,
            seq=None,
        )

    def approved(self) -> StipendApproved:
        """``StipendApproved`` for this approval."""
        return StipendApproved(
            **_stipend_for(self),
            amount_cents=self.amount_cents,
            funding_source=self.funding_source,
            ledger_entry_id=self.entry_id,
            approved_at=self.recorded_at,
        )

    def reversed(self) -> StipendReversed:
        """``StipendReversed`` for this reversal."""
        if self.reverses_entry_id is None or self.reason is None:
            raise ValueError(f"ledger entry {self.entry_id} is not a reversal")
        return StipendReversed(
            **_stipend_for(self),
            reversal_entry_id=self.entry_id,
            original_entry_id=self.reverses_entry_id,
            amount_cents=self.amount_cents,
            reason=StipendReversalReason(self.reason),
            reversed_at=self.recorded_at,
        )


@dataclass(frozen=True)
class Deferral:
    """A stipend a rule approves but the budget cannot cover yet: it waits (``deferred``) for
    funds, then is ``approved``, ``lapsed`` (no longer payable) or ``cancelled`` (revoked)."""

    deferral_id: str
    educator_id: str
    district_id: str
    basis: str
    award_key: str
    source_id: str
    subject_id: str
    rule_id: str
    rule_version: int
    fiscal_year: int
    fiscal_period: int
    amount_cents: int
    funding_source: str
    awarded_at: datetime
    deferred_at: datetime
    status: str = "deferred"
    resolved_at: datetime | None = None
    entry_id: str | None = None
    seq: int | None = None

    @property
    def award(self) -> Award:
        return Award(
            Basis(self.basis),
            self.source_id,
            self.subject_id,
            self.educator_id,
            self.district_id,
            self.awarded_at,
        )

    def deferred(self) -> StipendDeferred:
        """``StipendDeferred`` for this deferral."""
        return StipendDeferred(
            **_stipend_for(self),
            amount_cents=self.amount_cents,
            funding_source=self.funding_source,
            deferral_id=self.deferral_id,
            deferred_at=self.deferred_at,
        )

    def cancelled(
        self, reason: DeferralCancellationReason, now: datetime
    ) -> StipendDeferralCancelled:
        """``StipendDeferralCancelled`` for this deferral, cancelled ``now``."""
        return StipendDeferralCancelled(
            **_stipend_for(self),
            deferral_id=self.deferral_id,
            amount_cents=self.amount_cents,
            funding_source=self.funding_source,
            reason=reason,
            cancelled_at=now,
        )


def cancellation_reason(reason: StipendReversalReason) -> DeferralCancellationReason:
    """Why an award's deferrals are cancelled when its approvals are reversed for ``reason``."""
    if reason is StipendReversalReason.STACK_COMPLETION_REVERSED:
        return DeferralCancellationReason.STACK_COMPLETION_REVERSED
    return DeferralCancellationReason.CREDENTIAL_REVOKED


@dataclass(frozen=True)
class Payment:
    """What one rule decided to pay for an award: an approval, or a deferral."""

    rule: StipendRule
    outcome: Outcome
    amount_cents: int
    fiscal_year: int
    fiscal_period: int

    def approval(self, award: Award, now: datetime) -> LedgerEntry:
        rule = self.rule
        credential_id, stack_completion_id = _sources(award.basis.value, award.source_id)
        return LedgerEntry(
            entry_id=ids.approval_entry_id(award.award_key, rule.rule_id, self.fiscal_year),
            kind=APPROVAL,
            educator_id=award.educator_id,
            district_id=award.district_id,
            basis=award.basis.value,
            award_key=award.award_key,
            credential_id=credential_id,
            stack_completion_id=stack_completion_id,
            rule_id=rule.rule_id,
            rule_version=rule.version,
            fiscal_year=self.fiscal_year,
            fiscal_period=self.fiscal_period,
            cap_period=rule.cap_period(self.fiscal_year),
            amount_cents=self.amount_cents,
            funding_source=rule.funding_source,
            awarded_at=award.awarded_at,
            recorded_at=now,
        )

    def deferral(self, award: Award, now: datetime) -> Deferral:
        rule = self.rule
        return Deferral(
            deferral_id=ids.deferral_id(award.award_key, rule.rule_id, self.fiscal_year),
            educator_id=award.educator_id,
            district_id=award.district_id,
            basis=award.basis.value,
            award_key=award.award_key,
            source_id=award.source_id,
            subject_id=award.subject_id,
            rule_id=rule.rule_id,
            rule_version=rule.version,
            fiscal_year=self.fiscal_year,
            fiscal_period=self.fiscal_period,
            amount_cents=self.amount_cents,
            funding_source=rule.funding_source,
            awarded_at=award.awarded_at,
            deferred_at=now,
        )


@dataclass
class AwardDecision:
    payments: list[Payment] = field(default_factory=list)
    """In rule order: approvals and deferrals."""
    not_paid: dict[str, str] = field(default_factory=dict)
    """Rule id -> why nothing was paid (ineligible, cap reached, duplicate...)."""


def decide_award(
    rules: Iterable[StipendRule],
    award: Award,
    educator: Educator,
    *,
    decided: frozenset[tuple[str, int]],
    usage: Mapping[UsageKey, Usage],
    budgets: Mapping[BudgetKey, Budget],
) -> AwardDecision:
    """What every rule in force pays for ``award``, rule after rule: each approval counts
    against the usage and budget the next rules see. ``decided``: (rule id, fiscal year) the
    award was decided for already (a duplicate award pays nothing again)."""
    usage, budgets = dict(usage), dict(budgets)
    result = AwardDecision()
    for rule in rules:
        fiscal_year = rule.calendar.fiscal_year(award.awarded_at)
        if (rule.rule_id, fiscal_year) in decided:
            result.not_paid[rule.rule_id] = "already decided (duplicate award)"
            continue
        usage_key = rule.usage_key(award, fiscal_year)
        budget_key = rule.budget_key(award, fiscal_year)
        decision = decide(rule, award, educator, usage[usage_key], budgets[budget_key])
        if decision.outcome is Outcome.NOTHING:
            result.not_paid[rule.rule_id] = decision.reason
            continue
        result.payments.append(
            Payment(
                rule, decision.outcome, decision.amount_cents, fiscal_year, decision.fiscal_period
            )
        )
        if decision.outcome is Outcome.APPROVE:
            usage[usage_key] = usage[usage_key].plus(decision.amount_cents)
            budgets[budget_key] = budgets[budget_key].commit(decision.amount_cents)
    return result


@dataclass(frozen=True)
class BudgetStatus:
    """A district budget (one funding source, one fiscal year) and what waits on it."""

    allocated_cents: int
    committed_cents: int
    deferred_count: int
    deferred_cents: int

    @property
    def remaining_cents(self) -> int:
        return self.allocated_cents - self.committed_cents


@dataclass(frozen=True)
class Allocation:
    """Funds added to a budget: the budget now, and the deferred stipends they paid."""

    budget: BudgetStatus
    released_entry_ids: list[str]


@dataclass(frozen=True)
class StipendStatement:
    """An educator's ledger entries (the district's only, for a district admin)."""

    educator_id: str
    entries: list[LedgerEntry]
    held_entry_ids: frozenset[str]
    """Entries held from payroll (their credential is suspended)."""

    @property
    def balance_cents(self) -> int:
        return sum(entry.amount_cents for entry in self.entries)

    @property
    def by_fiscal_year(self) -> dict[int, int]:
        by_year: dict[int, int] = {}
        for entry in self.entries:
            by_year[entry.fiscal_year] = by_year.get(entry.fiscal_year, 0) + entry.amount_cents
        return by_year

    @property
    def held_cents(self) -> int:
        return sum(e.amount_cents for e in self.entries if e.entry_id in self.held_entry_ids)
