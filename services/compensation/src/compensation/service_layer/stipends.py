"""Commands that move money: apply an award, reverse a revoked one, add funds to a budget.

Each runs inside the caller's transaction (a consumer handler's, or a unit of work's) and never
commits. Exactly-once rests on three things, in this order:

1. ``pg_advisory_xact_lock`` on the award key: every command about one award (a duplicate
   delivered to another consumer, a revocation racing the award) waits for the other's commit,
   then sees its effects and does nothing twice;
2. row locks (``SELECT ... FOR UPDATE``) on the educator's usage counters and on the district
   budget rows, taken in key order (usage rows, then budgets, then deferrals) by every command,
   so caps and budgets are checked and charged against committed numbers under concurrency
   (READ COMMITTED is enough: whoever holds the row lock reads the latest committed row);
3. database constraints as the last word: the unique keys on the ledger and deferrals and the
   CHECKs on budgets and usage abort a transaction that would break them, whatever the code did.

A consumer batch handles several events in one transaction, so two batches can still take locks
in opposite orders; PostgreSQL detects that deadlock, aborts one, and the consumer runtime
retries its events one by one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from compensation.adapters import repository as repo
from compensation.adapters.repository import BudgetKey, UsageKey
from compensation.domain import ids
from compensation.domain.rules import (
    Award,
    Basis,
    Budget,
    Educator,
    Outcome,
    StipendRule,
    Usage,
    decide,
    rules_in_force,
)
from mc_events import audit
from mc_events.contracts.base import Event
from mc_events.contracts.compensation import (
    DeferralCancellationReason,
    StipendApproved,
    StipendBasis,
    StipendDeferralCancelled,
    StipendDeferred,
    StipendReversalReason,
    StipendReversed,
)
from mc_events.outbox import add_event, add_events

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


class EducatorNotOnRoster(Exception):
    """A stipend rule applies but the roster has not told us who the educator is yet."""


@dataclass
class AwardResult:
    approved: list[str] = field(default_factory=list)
    """Ledger entry ids."""
    deferred: list[str] = field(default_factory=list)
    """Deferral ids."""
    not_paid: dict[str, str] = field(default_factory=dict)
    """Rule id -> why nothing was paid (ineligible, cap reached, duplicate...)."""


def _usage_key(rule: StipendRule, award: Award, fiscal_year: int) -> UsageKey:
    return (award.educator_id, rule.rule_id, rule.cap_period(fiscal_year))


def _budget_key(rule: StipendRule, award: Award, fiscal_year: int) -> BudgetKey:
    return (award.district_id, rule.funding_source, fiscal_year)


def _source_fields(award: Award) -> dict[str, Any]:
    if award.basis is Basis.CREDENTIAL:
        return {"credential_id": award.source_id, "stack_completion_id": None}
    return {"credential_id": None, "stack_completion_id": award.source_id}


@dataclass(frozen=True)
class _Payment:
    """What one rule decided to pay for an award: an approval, or a deferral."""

    rule: StipendRule
    outcome: Outcome
    amount_cents: int
    fiscal_year: int
    fiscal_period: int


def _approval(award: Award, payment: _Payment, entry_id: str, now: datetime) -> dict[str, Any]:
    rule = payment.rule
    return {
        "entry_id": entry_id,
        "kind": "approval",
        "educator_id": award.educator_id,
        "district_id": award.district_id,
        "basis": award.basis.value,
        "award_key": award.award_key,
        **_source_fields(award),
        "rule_id": rule.rule_id,
        "rule_version": rule.version,
        "fiscal_year": payment.fiscal_year,
        "fiscal_period": payment.fiscal_period,
        "cap_period": rule.cap_period(payment.fiscal_year),
        "amount_cents": payment.amount_cents,
        "funding_source": rule.funding_source,
        "awarded_at": award.awarded_at,
        "recorded_at": now,
    }


def _deferral(award: Award, payment: _Payment, deferral_id: str, now: datetime) -> dict[str, Any]:
    rule = payment.rule
    return {
        "deferral_id": deferral_id,
        "educator_id": award.educator_id,
        "district_id": award.district_id,
        "basis": award.basis.value,
        "award_key": award.award_key,
        "source_id": award.source_id,
        "subject_id": award.subject_id,
        "rule_id": rule.rule_id,
        "rule_version": rule.version,
        "fiscal_year": payment.fiscal_year,
        "fiscal_period": payment.fiscal_period,
        "amount_cents": payment.amount_cents,
        "funding_source": rule.funding_source,
        "awarded_at": award.awarded_at,
        "deferred_at": now,
    }


def _payment_fields(award: Award, payment: _Payment) -> dict[str, Any]:
    """What ``StipendApproved`` and ``StipendDeferred`` say alike about a rule's payment."""
    return {
        "educator_id": award.educator_id,
        "district_id": award.district_id,
        "basis": StipendBasis(award.basis.value),
        **_source_fields(award),
        "rule_id": payment.rule.rule_id,
        "rule_version": payment.rule.version,
        "fiscal_year": payment.fiscal_year,
        "fiscal_period": payment.fiscal_period,
        "amount_cents": payment.amount_cents,
        "funding_source": payment.rule.funding_source,
    }


async def _record(
    session: AsyncSession, award: Award, payments: list[_Payment], now: datetime
) -> list[str]:
    """Write what the rules decided for ``award``, in rule order: approvals (ledger entries,
    usage, budgets, ``StipendApproved`` and an audit record each) and deferrals (a waiting
    deferral and ``StipendDeferred`` each). Each kind of row is written in one statement.
    Returns the ledger entry or deferral id of each payment."""
    written: list[str] = []
    entries: list[dict[str, Any]] = []
    waiting: list[dict[str, Any]] = []
    usage: dict[UsageKey, tuple[int, int]] = {}
    committed: dict[BudgetKey, int] = {}
    events: list[Event] = []
    event_ids: list[str | None] = []
    for payment in payments:
        rule, amount_cents = payment.rule, payment.amount_cents
        event: Event
        if payment.outcome is Outcome.APPROVE:
            entry_id = ids.approval_entry_id(award.award_key, rule.rule_id, payment.fiscal_year)
            entries.append(_approval(award, payment, entry_id, now))
            usage_key = _usage_key(rule, award, payment.fiscal_year)
            count, cents = usage.get(usage_key, (0, 0))
            usage[usage_key] = (count + 1, cents + amount_cents)
            budget_key = _budget_key(rule, award, payment.fiscal_year)
            committed[budget_key] = committed.get(budget_key, 0) + amount_cents
            event = StipendApproved(
                **_payment_fields(award, payment), ledger_entry_id=entry_id, approved_at=now
            )
            written.append(entry_id)
        else:
            deferral_id = ids.deferral_id(award.award_key, rule.rule_id, payment.fiscal_year)
            waiting.append(_deferral(award, payment, deferral_id, now))
            event = StipendDeferred(
                **_payment_fields(award, payment), deferral_id=deferral_id, deferred_at=now
            )
            written.append(deferral_id)
        events.append(event)
        event_ids.append(ids.event_id(event.event_type, written[-1]))
    await repo.record_approvals(session, entries, usage, committed)
    await repo.insert_deferrals(session, waiting)
    await add_events(session, events, event_ids=event_ids)
    for entry in entries:
        await audit.append(
            session,
            actor=f"award:{award.award_key}",
            action="stipend.approved",
            object_type="ledger_entry",
            object_id=entry["entry_id"],
            details={
                "amount_cents": entry["amount_cents"],
                "rule": f"{entry['rule_id']}@v{entry['rule_version']}",
                "fiscal_year": entry["fiscal_year"],
                "district_id": award.district_id,
            },
            chain=f"educator:{award.educator_id}",
            at=now,
        )
    return written


async def _approve(
    session: AsyncSession,
    rule: StipendRule,
    award: Award,
    amount_cents: int,
    fiscal_year: int,
    fiscal_period: int,
    now: datetime,
) -> str:
    payment = _Payment(rule, Outcome.APPROVE, amount_cents, fiscal_year, fiscal_period)
    (entry_id,) = await _record(session, award, [payment], now)
    return entry_id


async def apply_award(session: AsyncSession, award: Award, clock: Clock) -> AwardResult:
    """Apply every stipend rule in force to ``award``: approve, defer, or pay nothing.

    An award naming a reissued credential is the original credential's award (its unique
    keys pay it once)."""
    result = AwardResult()
    scope = await repo.award_scope(session, award)
    if scope.state is None:
        # The district runs no stipend programme here (not registered with compensation).
        return result
    award = replace(award, source_id=scope.source_id)
    rules = rules_in_force(scope.rules, award, state=scope.state)
    if not rules:
        return result
    educator = scope.educator
    if educator is None:
        raise EducatorNotOnRoster(
            f"educator {award.educator_id} is not on the roster read model yet"
        )
    await repo.lock_award(session, award.award_key)
    history = await repo.award_history(session, award.award_key)
    if history.revoked:
        result.not_paid = {rule.rule_id: "credential revoked" for rule in rules}
        return result
    fiscal_years = {rule.rule_id: rule.calendar.fiscal_year(award.awarded_at) for rule in rules}
    usage = await repo.lock_usage(
        session,
        {
            _usage_key(rule, award, fiscal_years[rule.rule_id]): rule.annual_cap_cents
            for rule in rules
        },
    )
    budgets = await repo.lock_budgets(
        session, [_budget_key(rule, award, fiscal_years[rule.rule_id]) for rule in rules]
    )
    now = clock()
    payments: list[_Payment] = []
    for rule in rules:
        fiscal_year = fiscal_years[rule.rule_id]
        if (rule.rule_id, fiscal_year) in history.decided:
            result.not_paid[rule.rule_id] = "already decided (duplicate award)"
            continue
        usage_key = _usage_key(rule, award, fiscal_year)
        budget_key = _budget_key(rule, award, fiscal_year)
        decision = decide(rule, award, educator, usage[usage_key], budgets[budget_key])
        if decision.outcome is Outcome.NOTHING:
            result.not_paid[rule.rule_id] = decision.reason
            continue
        payments.append(
            _Payment(
                rule, decision.outcome, decision.amount_cents, fiscal_year, decision.fiscal_period
            )
        )
        if decision.outcome is Outcome.APPROVE:
            spent = usage[usage_key]
            usage[usage_key] = Usage(spent.paid_count + 1, spent.paid_cents + decision.amount_cents)
            budget = budgets[budget_key]
            budgets[budget_key] = Budget(
                budget.allocated_cents, budget.committed_cents + decision.amount_cents
            )
    written = await _record(session, award, payments, now)
    for payment, written_id in zip(payments, written, strict=True):
        if payment.outcome is Outcome.APPROVE:
            result.approved.append(written_id)
        else:
            result.deferred.append(written_id)
    return result


async def reverse_award(
    session: AsyncSession,
    award_key: str,
    reason: StipendReversalReason,
    clock: Clock,
) -> list[str]:
    """Claw back every stipend ``award_key`` was paid, once; cancel what is still deferred.

    Returns the reversal entry ids written now (empty for a redelivered revocation)."""
    now = clock()
    await repo.lock_award(session, award_key)
    await repo.mark_revoked(session, award_key, reason.value, now)
    approvals = await repo.unreversed_approvals(session, award_key)
    await repo.lock_usage(
        session, {(a.educator_id, a.rule_id, a.cap_period): None for a in approvals}
    )
    await repo.lock_budgets(
        session, [(a.district_id, a.funding_source, a.fiscal_year) for a in approvals]
    )
    reversed_ids: list[str] = []
    for original in approvals:
        reversal_id = ids.reversal_entry_id(original.entry_id)
        inserted = await repo.insert_reversal(
            session,
            {
                "entry_id": reversal_id,
                "kind": "reversal",
                "educator_id": original.educator_id,
                "district_id": original.district_id,
                "basis": original.basis,
                "award_key": original.award_key,
                "credential_id": original.credential_id,
                "stack_completion_id": original.stack_completion_id,
                "rule_id": original.rule_id,
                "rule_version": original.rule_version,
                "fiscal_year": original.fiscal_year,
                "fiscal_period": original.fiscal_period,
                "cap_period": original.cap_period,
                "amount_cents": -original.amount_cents,
                "funding_source": original.funding_source,
                "reverses_entry_id": original.entry_id,
                "reason": reason.value,
                "awarded_at": original.awarded_at,
                "recorded_at": now,
            },
        )
        if not inserted:
            continue
        await repo.add_usage(
            session,
            (original.educator_id, original.rule_id, original.cap_period),
            -1,
            -original.amount_cents,
        )
        await repo.change_budget(
            session,
            (original.district_id, original.funding_source, original.fiscal_year),
            committed=-original.amount_cents,
        )
        event = StipendReversed(
            educator_id=original.educator_id,
            district_id=original.district_id,
            basis=StipendBasis(original.basis),
            credential_id=original.credential_id,
            stack_completion_id=original.stack_completion_id,
            rule_id=original.rule_id,
            rule_version=original.rule_version,
            fiscal_year=original.fiscal_year,
            fiscal_period=original.fiscal_period,
            reversal_entry_id=reversal_id,
            original_entry_id=original.entry_id,
            amount_cents=-original.amount_cents,
            reason=reason,
            reversed_at=now,
        )
        await add_event(session, event, event_id=ids.event_id(event.event_type, reversal_id))
        await audit.append(
            session,
            actor=f"revocation:{award_key}",
            action="stipend.reversed",
            object_type="ledger_entry",
            object_id=reversal_id,
            details={
                "original_entry_id": original.entry_id,
                "amount_cents": -original.amount_cents,
                "reason": str(reason),
            },
            chain=f"educator:{original.educator_id}",
            at=now,
        )
        reversed_ids.append(reversal_id)
    cancelled = await repo.cancel_deferrals(session, award_key, now)
    cancellation = (
        DeferralCancellationReason.STACK_COMPLETION_REVERSED
        if reason is StipendReversalReason.STACK_COMPLETION_REVERSED
        else DeferralCancellationReason.CREDENTIAL_REVOKED
    )
    for deferral in cancelled:
        by_credential = deferral.basis == Basis.CREDENTIAL.value
        cancelled_event = StipendDeferralCancelled(
            educator_id=deferral.educator_id,
            district_id=deferral.district_id,
            basis=StipendBasis(deferral.basis),
            credential_id=deferral.source_id if by_credential else None,
            stack_completion_id=None if by_credential else deferral.source_id,
            rule_id=deferral.rule_id,
            rule_version=deferral.rule_version,
            fiscal_year=deferral.fiscal_year,
            fiscal_period=deferral.fiscal_period,
            deferral_id=deferral.deferral_id,
            amount_cents=deferral.amount_cents,
            funding_source=deferral.funding_source,
            reason=cancellation,
            cancelled_at=now,
        )
        await add_event(
            session,
            cancelled_event,
            event_id=ids.event_id(cancelled_event.event_type, deferral.deferral_id),
        )
        await audit.append(
            session,
            actor=f"revocation:{award_key}",
            action="stipend.deferral_cancelled",
            object_type="stipend_deferral",
            object_id=deferral.deferral_id,
            details={"amount_cents": deferral.amount_cents, "reason": str(cancellation)},
            chain=f"educator:{deferral.educator_id}",
            at=now,
        )
    if cancelled:
        log.info("cancelled %d deferred stipends of revoked %s", len(cancelled), award_key)
    return reversed_ids


async def add_funds(
    session: AsyncSession,
    key: BudgetKey,
    amount_cents: int,
    *,
    added_by: str,
    clock: Clock,
) -> list[str]:
    """Add ``amount_cents`` to a budget and pay deferred stipends, oldest first, while it
    covers them (eligibility and caps are judged again at payment). Returns the ledger entry
    ids approved now."""
    now = clock()
    plans: list[tuple[Any, StipendRule, Award, Educator]] = []
    for deferral in await repo.waiting_deferrals(session, key):
        rule = await repo.rule_version(session, deferral.rule_id, deferral.rule_version)
        educator = await repo.get_educator(session, deferral.educator_id)
        if rule is None or educator is None:
            continue
        award = Award(
            Basis(deferral.basis),
            deferral.source_id,
            deferral.subject_id,
            deferral.educator_id,
            deferral.district_id,
            deferral.awarded_at,
        )
        plans.append((deferral, rule, award, educator))
    usage = await repo.lock_usage(
        session,
        {
            _usage_key(rule, award, deferral.fiscal_year): rule.annual_cap_cents
            for deferral, rule, award, _ in plans
        },
    )
    budget = (await repo.lock_budgets(session, [key]))[key]
    await repo.change_budget(session, key, allocated=amount_cents)
    await repo.record_allocation(session, key, amount_cents, added_by, now)
    budget = Budget(budget.allocated_cents + amount_cents, budget.committed_cents)
    approved: list[str] = []
    for deferral, rule, award, educator in plans:
        if await repo.lock_deferral(session, deferral.deferral_id) != "deferred":
            continue  # cancelled by a revocation since we listed it
        usage_key = _usage_key(rule, award, deferral.fiscal_year)
        decision = decide(rule, award, educator, usage[usage_key], budget)
        if decision.outcome is Outcome.DEFER:
            break  # first come, first paid: later deferrals wait behind this one
        if decision.outcome is Outcome.NOTHING:
            await repo.resolve_deferral(session, deferral.deferral_id, "lapsed", now, None)
            continue
        entry_id = await _approve(
            session,
            rule,
            award,
            decision.amount_cents,
            deferral.fiscal_year,
            deferral.fiscal_period,
            now,
        )
        await repo.resolve_deferral(session, deferral.deferral_id, "approved", now, entry_id)
        spent = usage[usage_key]
        usage[usage_key] = Usage(spent.paid_count + 1, spent.paid_cents + decision.amount_cents)
        budget = Budget(budget.allocated_cents, budget.committed_cents + decision.amount_cents)
        approved.append(entry_id)
    return approved
