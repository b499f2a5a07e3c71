"""Stipend rules as versioned data, and the decision one rule makes about one award.

A rule belongs to a state (every district of it) or to one district. It pays a fixed amount in
integer cents per credential, for an educator's first credential only (DC Public Schools: $150
for the first MC), or per stack completion, from a named funding source; it may restrict who is
eligible (roles, license types, a license valid on the award date) and cap what one educator
receives per fiscal year. Rules are never edited: a change is a new version with its own
``effective_from``, and the version in force on the award date is the one that pays (the ledger
records ``rule_id`` and ``rule_version``).

Everything here is pure: the service layer reads usage and budgets under row locks and applies
what :func:`decide` returns.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from compensation.domain.fiscal import FiscalCalendar
from compensation.domain.versions import InvalidRule as InvalidRule
from compensation.domain.versions import (
    check_effective_dates,
    check_identity,
    check_state,
    in_force,
    versions_in_force,
)

UsageKey = tuple[str, str, int]
"""(educator_id, rule_id, cap period): one usage counter."""
BudgetKey = tuple[str, str, int]
"""(district_id, funding_source, fiscal_year): one district budget."""


class Basis(StrEnum):
    """What a stipend pays for (the values of the ``StipendBasis`` contract enum)."""

    CREDENTIAL = "credential"
    STACK_COMPLETION = "stack_completion"


class RuleKind(StrEnum):
    PER_CREDENTIAL = "per_credential"
    """Every awarded micro-credential (Florida: $1,000 per completion)."""
    FIRST_CREDENTIAL = "first_credential"
    """Only the educator's first paid micro-credential under this rule (DCPS: $150)."""
    PER_STACK = "per_stack"
    """Every completed stack (pathway)."""

    @property
    def basis(self) -> Basis:
        return Basis.STACK_COMPLETION if self is RuleKind.PER_STACK else Basis.CREDENTIAL


LIFETIME = 0
"""Cap period of a first-credential rule: the educator's whole history, not one year."""


def _is_cents(value: object) -> bool:
    # bool is an int subclass; floats and Decimals are refused: money here is integer cents.
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class StipendRule:
    """One version of a stipend rule."""

    rule_id: str
    version: int
    name: str
    state: str
    kind: RuleKind
    amount_cents: int
    funding_source: str
    effective_from: datetime
    effective_until: datetime | None = None
    district_id: str | None = None
    """None: the rule applies in every district of ``state``."""
    subject_ids: frozenset[str] = frozenset()
    """Micro-credential ids (or stack ids for per-stack rules) it pays for; empty: all."""
    eligible_roles: frozenset[str] = frozenset()
    """Roster roles (``StaffRole`` values) that qualify; empty: every role."""
    eligible_license_types: frozenset[str] = frozenset()
    """License types that qualify; empty: no license requirement."""
    requires_valid_license: bool = False
    """The educator's license must not have expired on the award date."""
    annual_cap_cents: int | None = None
    """Most one educator receives from this rule in one fiscal year; None: no cap."""
    calendar: FiscalCalendar = field(default_factory=FiscalCalendar)

    def __post_init__(self) -> None:
        check_identity(self)
        if not _is_cents(self.amount_cents) or self.amount_cents <= 0:
            raise InvalidRule("amount_cents must be a positive integer number of cents")
        if self.annual_cap_cents is not None and (
            not _is_cents(self.annual_cap_cents) or self.annual_cap_cents <= 0
        ):
            raise InvalidRule("annual_cap_cents must be a positive integer number of cents")
        check_state(self.state, example="FL")
        if not self.funding_source:
            raise InvalidRule("funding_source is required")
        check_effective_dates(self)

    @property
    def basis(self) -> Basis:
        return self.kind.basis

    def in_force_at(self, at: datetime) -> bool:
        return in_force(self, at)

    def cap_period(self, fiscal_year: int) -> int:
        """The usage bucket an award counts against: its fiscal year, or :data:`LIFETIME`."""
        return LIFETIME if self.kind is RuleKind.FIRST_CREDENTIAL else fiscal_year

    def usage_key(self, award: Award, fiscal_year: int) -> UsageKey:
        """The counter of what the award's educator received under this rule."""
        return (award.educator_id, self.rule_id, self.cap_period(fiscal_year))

    def budget_key(self, award: Award, fiscal_year: int) -> BudgetKey:
        """The district budget this rule pays the award from."""
        return (award.district_id, self.funding_source, fiscal_year)


@dataclass(frozen=True)
class Award:
    """Something a stipend can pay for: an awarded credential or a completed stack."""

    basis: Basis
    source_id: str
    """The credential id or the stack completion id."""
    subject_id: str
    """The micro-credential id or the stack id."""
    educator_id: str
    district_id: str
    awarded_at: datetime

    @property
    def award_key(self) -> str:
        """One key per award across both bases (what the ledger's unique key names)."""
        return f"{self.basis}:{self.source_id}"


@dataclass(frozen=True)
class Educator:
    """What eligibility needs from the roster."""

    educator_id: str
    district_id: str
    role: str
    license_type: str | None = None
    license_expires_on: date | None = None


@dataclass(frozen=True)
class Usage:
    """What an educator has (net of reversals) received under one rule in one cap period."""

    paid_count: int = 0
    paid_cents: int = 0

    def plus(self, amount_cents: int) -> Usage:
        """After one more payment of ``amount_cents``."""
        return Usage(self.paid_count + 1, self.paid_cents + amount_cents)


@dataclass(frozen=True)
class Budget:
    """A district's budget for one funding source and fiscal year."""

    allocated_cents: int = 0
    committed_cents: int = 0

    @property
    def remaining_cents(self) -> int:
        return self.allocated_cents - self.committed_cents

    def covers(self, amount_cents: int) -> bool:
        return amount_cents <= self.remaining_cents

    def commit(self, amount_cents: int) -> Budget:
        """After committing ``amount_cents`` to a payment."""
        return Budget(self.allocated_cents, self.committed_cents + amount_cents)

    def allocate(self, amount_cents: int) -> Budget:
        """After ``amount_cents`` more funds."""
        return Budget(self.allocated_cents + amount_cents, self.committed_cents)


class Outcome(StrEnum):
    APPROVE = "approve"
    DEFER = "defer"
    NOTHING = "nothing"


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    amount_cents: int
    fiscal_year: int
    fiscal_period: int
    reason: str = ""


def rules_in_force(rules: Iterable[StipendRule], award: Award, *, state: str) -> list[StipendRule]:
    """For each rule id, the version in force on the award date, if it covers this award.

    Sorted by rule id: the service layer takes row locks in this order.
    """
    in_force_now = versions_in_force(
        (rule for rule in rules if rule.basis is award.basis),
        state=state,
        district_id=award.district_id,
        at=award.awarded_at,
    )
    return [
        rule
        for rule in in_force_now
        if not rule.subject_ids or award.subject_id in rule.subject_ids
    ]


def ineligibility(rule: StipendRule, educator: Educator, award: Award) -> str | None:
    """Why ``educator`` does not qualify for ``rule`` on the award date; None if they do."""
    if rule.eligible_roles and educator.role not in rule.eligible_roles:
        return f"role {educator.role!r} is not eligible"
    if rule.eligible_license_types and educator.license_type not in rule.eligible_license_types:
        return f"license type {educator.license_type!r} is not eligible"
    if rule.requires_valid_license:
        if educator.license_type is None:
            return "no license"
        on = rule.calendar.local_date(award.awarded_at)
        if educator.license_expires_on is not None and educator.license_expires_on < on:
            return f"license expired on {educator.license_expires_on.isoformat()}"
    return None


def decide(
    rule: StipendRule, award: Award, educator: Educator, usage: Usage, budget: Budget
) -> Decision:
    """What ``rule`` pays for ``award``, given what the educator already received (``usage``,
    of the award's cap period) and the district budget it draws on."""
    fiscal_year = rule.calendar.fiscal_year(award.awarded_at)
    fiscal_period = rule.calendar.fiscal_period(award.awarded_at)

    def nothing(reason: str) -> Decision:
        return Decision(Outcome.NOTHING, 0, fiscal_year, fiscal_period, reason)

    reason = ineligibility(rule, educator, award)
    if reason is not None:
        return nothing(reason)
    if rule.kind is RuleKind.FIRST_CREDENTIAL and usage.paid_count > 0:
        return nothing("first-credential stipend already paid")
    amount = rule.amount_cents
    if rule.annual_cap_cents is not None:
        # The cap pays what still fits under it: an award that crosses the cap is paid in part.
        amount = min(amount, rule.annual_cap_cents - usage.paid_cents)
        if amount <= 0:
            return nothing(f"annual cap of {rule.annual_cap_cents} cents reached")
    if not budget.covers(amount):
        return Decision(Outcome.DEFER, amount, fiscal_year, fiscal_period, "budget exhausted")
    return Decision(Outcome.APPROVE, amount, fiscal_year, fiscal_period)
