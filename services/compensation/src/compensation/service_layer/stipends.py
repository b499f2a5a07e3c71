"""Commands that move money: apply an award, reverse a revoked one, add funds to a budget; and
what an educator and a budget read.

Applying and reversing an award run in the consumer runtime's transaction (a unit of work that
joins it) and never commit; adding funds is an API command and commits. Exactly-once rests on
three things, in this order:

1. ``pg_advisory_xact_lock`` on the award key: every command about one award (a duplicate
   delivered to another consumer, a revocation racing the award) waits for the other's commit,
   then sees its effects and does nothing twice;
2. row locks (``SELECT ... FOR UPDATE``) on the educator's usage counters and on the district
   budget rows, taken in key order (usage rows, then budgets, then deferrals) by every command,
   so caps and budgets are checked and charged against committed numbers under concurrency
   (READ COMMITTED is enough: whoever holds the row lock reads the latest committed row);
3. database constraints as the last word: the unique keys on the ledger and deferrals and the
   CHECKs on budgets and usage abort a transaction that would break them, whatever the code did.

Events and audit records are collected by the unit of work and written after all of that (the
outbox's key counters and the audit chain heads are the last locks taken), with deterministic
event ids: a redelivered command announces nothing twice.

A consumer batch handles several events in one transaction, so two batches can still take locks
in opposite orders; PostgreSQL detects that deadlock, aborts one, and the consumer runtime
retries its events one by one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime

from compensation.domain.ledger import (
    Allocation,
    BudgetStatus,
    Deferral,
    LedgerEntry,
    Payment,
    StipendStatement,
    cancellation_reason,
    decide_award,
)
from compensation.domain.rules import (
    Award,
    BudgetKey,
    Educator,
    Outcome,
    StipendRule,
    decide,
    rules_in_force,
)
from compensation.service_layer.errors import Undeliverable
from compensation.service_layer.unit_of_work import UnitOfWork
from mc_events.contracts.compensation import DeferralCancellationReason, StipendReversalReason
from mc_platform.clock import Clock
from mc_platform.refusals import Invalid, NotFound

log = logging.getLogger(__name__)


class EducatorNotOnRoster(Undeliverable):
    """A stipend rule applies but the roster has not told us who the educator is yet."""


@dataclass
class AwardResult:
    approved: list[str] = field(default_factory=list)
    """Ledger entry ids."""
    deferred: list[str] = field(default_factory=list)
    """Deferral ids."""
    not_paid: dict[str, str] = field(default_factory=dict)
    """Rule id -> why nothing was paid (ineligible, cap reached, duplicate...)."""


# -- what is recorded and announced ---------------------------------------------------------


async def _record(
    uow: UnitOfWork, award: Award, payments: list[Payment], now: datetime
) -> tuple[list[LedgerEntry], list[Deferral]]:
    """Store what the rules decided for ``award`` (each kind of row in one statement) and
    announce it, in rule order: ``StipendApproved`` and an audit record per approval,
    ``StipendDeferred`` per deferral. Returns the approvals and the deferrals."""
    approvals: list[LedgerEntry] = []
    deferrals: list[Deferral] = []
    for payment in payments:
        if payment.outcome is Outcome.APPROVE:
            entry = payment.approval(award, now)
            approvals.append(entry)
            uow.announce(
                entry.approved(),
                about=entry.entry_id,
                object_type="ledger_entry",
                actor=f"award:{award.award_key}",
                action="stipend.approved",
                details={
                    "amount_cents": entry.amount_cents,
                    "rule": f"{entry.rule_id}@v{entry.rule_version}",
                    "fiscal_year": entry.fiscal_year,
                    "district_id": entry.district_id,
                },
                chain=_educator_chain(entry.educator_id),
                at=now,
            )
        else:
            deferral = payment.deferral(award, now)
            deferrals.append(deferral)
            uow.publish(deferral.deferred(), about=deferral.deferral_id)
    await uow.ledger.record_approvals(approvals)
    await uow.ledger.insert_deferrals(deferrals)
    return approvals, deferrals


def _announce_reversal(uow: UnitOfWork, award_key: str, reversal: LedgerEntry) -> None:
    uow.announce(
        reversal.reversed(),
        about=reversal.entry_id,
        object_type="ledger_entry",
        actor=f"revocation:{award_key}",
        action="stipend.reversed",
        details={
            "original_entry_id": reversal.reverses_entry_id,
            "amount_cents": reversal.amount_cents,
            "reason": reversal.reason,
        },
        chain=_educator_chain(reversal.educator_id),
        at=reversal.recorded_at,
    )


def _announce_cancellation(
    uow: UnitOfWork,
    award_key: str,
    deferral: Deferral,
    reason: DeferralCancellationReason,
    now: datetime,
) -> None:
    uow.announce(
        deferral.cancelled(reason, now),
        about=deferral.deferral_id,
        object_type="stipend_deferral",
        actor=f"revocation:{award_key}",
        action="stipend.deferral_cancelled",
        details={"amount_cents": deferral.amount_cents, "reason": str(reason)},
        chain=_educator_chain(deferral.educator_id),
        at=now,
    )


def _educator_chain(educator_id: str) -> str:
    return f"educator:{educator_id}"


# -- commands -------------------------------------------------------------------------------


async def apply_award(uow: UnitOfWork, award: Award, clock: Clock) -> AwardResult:
    """Apply every stipend rule in force to ``award``: approve, defer, or pay nothing.

    An award naming a reissued credential is the original credential's award (its unique
    keys pay it once)."""
    result = AwardResult()
    ledger = uow.ledger
    scope = await ledger.award_scope(award)
    if scope.state is None:
        # The district runs no stipend programme here (not registered with compensation).
        return result
    award = replace(award, source_id=scope.source_id)
    rules = rules_in_force(scope.rules, award, state=scope.state)
    if not rules:
        return result
    if scope.educator is None:
        raise EducatorNotOnRoster(
            f"educator {award.educator_id} is not on the roster read model yet"
        )
    await ledger.lock_award(award.award_key)
    history = await ledger.award_history(award.award_key)
    if history.revoked:
        result.not_paid = {rule.rule_id: "credential revoked" for rule in rules}
        return result
    years = {rule.rule_id: rule.calendar.fiscal_year(award.awarded_at) for rule in rules}
    usage = await ledger.lock_usage(
        {rule.usage_key(award, years[rule.rule_id]): rule.annual_cap_cents for rule in rules}
    )
    budgets = await ledger.lock_budgets(
        rule.budget_key(award, years[rule.rule_id]) for rule in rules
    )
    now = clock()
    decision = decide_award(
        rules, award, scope.educator, decided=history.decided, usage=usage, budgets=budgets
    )
    approvals, deferrals = await _record(uow, award, decision.payments, now)
    return AwardResult(
        approved=[entry.entry_id for entry in approvals],
        deferred=[deferral.deferral_id for deferral in deferrals],
        not_paid=decision.not_paid,
    )


async def reverse_award(
    uow: UnitOfWork, award_key: str, reason: StipendReversalReason, clock: Clock
) -> list[str]:
    """Claw back every stipend ``award_key`` was paid, once; cancel what is still deferred.

    Returns the reversal entry ids written now (empty for a redelivered revocation)."""
    now = clock()
    ledger = uow.ledger
    await ledger.lock_award(award_key)
    await ledger.mark_revoked(award_key, reason.value, now)
    approvals = await ledger.unreversed_approvals(award_key)
    await ledger.lock_usage({approval.usage_key: None for approval in approvals})
    await ledger.lock_budgets(approval.budget_key for approval in approvals)
    reversed_ids: list[str] = []
    for approval in approvals:
        reversal = approval.reversal(reason, now)
        if await ledger.record_reversal(reversal):
            _announce_reversal(uow, award_key, reversal)
            reversed_ids.append(reversal.entry_id)
    cancelled = await ledger.cancel_deferrals(award_key, now)
    for deferral in cancelled:
        _announce_cancellation(uow, award_key, deferral, cancellation_reason(reason), now)
    if cancelled:
        log.info("cancelled %d deferred stipends of revoked %s", len(cancelled), award_key)
    return reversed_ids


async def add_funds(
    uow: UnitOfWork, key: BudgetKey, amount_cents: int, *, added_by: str, clock: Clock
) -> Allocation:
    """Add ``amount_cents`` to a registered district's budget and pay deferred stipends,
    oldest first, while it covers them (eligibility and caps are judged again at payment)."""
    district_id, _, fiscal_year = key
    if not 2000 <= fiscal_year <= 2200:
        raise Invalid("fiscal_year out of range")
    async with uow:
        if await uow.roster.district_state(district_id) is None:
            raise NotFound("district is not registered")
        released = await _pay_deferred(uow, key, amount_cents, added_by=added_by, clock=clock)
        budget = await uow.ledger.budget_status(key)
        await uow.commit()
    return Allocation(budget, released)


async def _pay_deferred(
    uow: UnitOfWork, key: BudgetKey, amount_cents: int, *, added_by: str, clock: Clock
) -> list[str]:
    """The funds added, then the budget's deferrals paid in order; returns the ledger entry
    ids approved now."""
    now = clock()
    ledger = uow.ledger
    plans: list[tuple[Deferral, StipendRule, Educator]] = []
    for deferral in await ledger.waiting_deferrals(key):
        rule = await uow.stipend_rules.version(deferral.rule_id, deferral.rule_version)
        educator = await uow.roster.educator(deferral.educator_id)
        if rule is not None and educator is not None:
            plans.append((deferral, rule, educator))
    usage = await ledger.lock_usage(
        {
            rule.usage_key(deferral.award, deferral.fiscal_year): rule.annual_cap_cents
            for deferral, rule, _ in plans
        }
    )
    budget = (await ledger.lock_budgets([key]))[key].allocate(amount_cents)
    await ledger.add_funds(key, amount_cents, added_by=added_by, at=now)
    approved: list[str] = []
    for deferral, rule, educator in plans:
        if await ledger.lock_deferral(deferral.deferral_id) != "deferred":
            continue  # cancelled by a revocation since we listed it
        award = deferral.award
        usage_key = rule.usage_key(award, deferral.fiscal_year)
        decision = decide(rule, award, educator, usage[usage_key], budget)
        if decision.outcome is Outcome.DEFER:
            break  # first come, first paid: later deferrals wait behind this one
        if decision.outcome is Outcome.NOTHING:
            await ledger.resolve_deferral(deferral.deferral_id, "lapsed", now, None)
            continue
        payment = Payment(
            rule,
            Outcome.APPROVE,
            decision.amount_cents,
            deferral.fiscal_year,
            deferral.fiscal_period,
        )
        (entry,), _ = await _record(uow, award, [payment], now)
        await ledger.resolve_deferral(deferral.deferral_id, "approved", now, entry.entry_id)
        usage[usage_key] = usage[usage_key].plus(decision.amount_cents)
        budget = budget.commit(decision.amount_cents)
        approved.append(entry.entry_id)
    return approved


# -- reading --------------------------------------------------------------------------------


async def budget(uow: UnitOfWork, key: BudgetKey) -> BudgetStatus:
    """Allocated, committed and remaining cents of one budget, and what waits on it."""
    async with uow:
        return await uow.ledger.budget_status(key)


async def statement(
    uow: UnitOfWork, educator_id: str, *, district_scope: str | None
) -> StipendStatement:
    """An educator's ledger entries and which are held (``district_scope``: only that
    district's entries)."""
    async with uow:
        entries = await uow.ledger.educator_entries(educator_id)
        held = await uow.holds.held_entries(educator_id=educator_id)
    if district_scope is not None:
        entries = [entry for entry in entries if entry.district_id == district_scope]
    return StipendStatement(educator_id, entries, frozenset(entry.entry_id for entry in held))
