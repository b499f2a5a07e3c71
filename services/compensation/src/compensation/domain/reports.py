"""What a district reads about its money: spend, budgets, pending, deferred and held payments per
funding source for a fiscal year, and the unpaid items behind them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from compensation.domain.ledger import Deferral, LedgerEntry
from compensation.domain.rules import Basis


class PaymentStatus(StrEnum):
    PENDING = "pending"
    DEFERRED = "deferred"
    HELD = "held"
    """Not yet exported and held: the credential is suspended (released on reinstatement)."""


@dataclass(frozen=True)
class UnpaidItem:
    """A ledger entry not paid yet (pending or held), or a stipend waiting for budget."""

    id: str
    status: str
    kind: str
    educator_id: str
    amount_cents: int
    funding_source: str
    rule_id: str
    rule_version: int
    fiscal_year: int
    fiscal_period: int
    credential_id: str | None
    stack_completion_id: str | None

    @classmethod
    def of_entry(cls, entry: LedgerEntry, status: PaymentStatus) -> UnpaidItem:
        return cls(id=entry.entry_id, status=status.value, **entry.payment_fields())

    @classmethod
    def of_deferral(cls, deferral: Deferral) -> UnpaidItem:
        by_credential = deferral.basis == Basis.CREDENTIAL.value
        return cls(
            id=deferral.deferral_id,
            status=PaymentStatus.DEFERRED.value,
            kind="deferral",
            educator_id=deferral.educator_id,
            amount_cents=deferral.amount_cents,
            funding_source=deferral.funding_source,
            rule_id=deferral.rule_id,
            rule_version=deferral.rule_version,
            fiscal_year=deferral.fiscal_year,
            fiscal_period=deferral.fiscal_period,
            credential_id=deferral.source_id if by_credential else None,
            stack_completion_id=None if by_credential else deferral.source_id,
        )


@dataclass(frozen=True)
class SourceSpend:
    """A funding source's ledger sums for a district and fiscal year."""

    funding_source: str
    approved_cents: int
    reversed_cents: int
    paid_cents: int
    pending_cents: int
    pending_count: int


@dataclass(frozen=True)
class SourceBudget:
    funding_source: str
    allocated_cents: int
    committed_cents: int


@dataclass(frozen=True)
class SourceDeferred:
    funding_source: str
    deferred_count: int
    deferred_cents: int


@dataclass(frozen=True)
class FundingSourceFigures:
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
    held_cents: int
    held_count: int


@dataclass(frozen=True)
class DistrictFigures:
    district_id: str
    fiscal_year: int
    funding_sources: list[FundingSourceFigures]

    @property
    def net_cents(self) -> int:
        return sum(source.net_cents for source in self.funding_sources)

    @property
    def pending_cents(self) -> int:
        return sum(source.pending_cents for source in self.funding_sources)

    @property
    def deferred_cents(self) -> int:
        return sum(source.deferred_cents for source in self.funding_sources)

    @property
    def held_cents(self) -> int:
        return sum(source.held_cents for source in self.funding_sources)


def district_figures(
    district_id: str,
    fiscal_year: int,
    *,
    spend: Iterable[SourceSpend],
    budgets: Iterable[SourceBudget],
    deferred: Iterable[SourceDeferred],
    held: Iterable[LedgerEntry],
) -> DistrictFigures:
    """The district's figures per funding source (a source with spend, a budget or deferrals;
    held entries are pending too: not paid, and kept out of batches)."""
    spent = {s.funding_source: s for s in spend}
    budget = {b.funding_source: b for b in budgets}
    waiting = {d.funding_source: d for d in deferred}
    held_cents: dict[str, list[int]] = {}
    for entry in held:
        held_cents.setdefault(entry.funding_source, []).append(entry.amount_cents)
    sources = []
    for source in sorted(set(spent) | set(budget) | set(waiting)):
        s, b, d = spent.get(source), budget.get(source), waiting.get(source)
        approved = s.approved_cents if s else 0
        reversed_ = s.reversed_cents if s else 0
        sources.append(
            FundingSourceFigures(
                funding_source=source,
                allocated_cents=b.allocated_cents if b else 0,
                committed_cents=b.committed_cents if b else 0,
                remaining_cents=(b.allocated_cents - b.committed_cents) if b else 0,
                approved_cents=approved,
                reversed_cents=reversed_,
                net_cents=approved + reversed_,
                paid_cents=s.paid_cents if s else 0,
                pending_cents=s.pending_cents if s else 0,
                pending_count=s.pending_count if s else 0,
                deferred_cents=d.deferred_cents if d else 0,
                deferred_count=d.deferred_count if d else 0,
                held_cents=sum(held_cents.get(source, [])),
                held_count=len(held_cents.get(source, [])),
            )
        )
    return DistrictFigures(district_id, fiscal_year, sources)
