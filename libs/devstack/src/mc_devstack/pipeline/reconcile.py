"""The figures of a run, from the services' public APIs and the event streams only:
every passed review has exactly one credential, one credit posting (where the registry keeps
the credit ledger) and one stipend; every revocation exactly one reversal; the stipends add up
to what the rules predict; the payments stream, deduplicated by event id, equals the ledger
the compensation API reports; the payroll export equals both; no dead letters.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from mc_devstack.pipeline.driver import Driver, Journey, World
from mc_devstack.pipeline.streams import StreamIndex
from mc_events.contracts.compensation import StipendApproved, StipendReversed
from mc_events.contracts.registry import CreditPostingReason, RenewalCreditsPosted
from mc_events.contracts.review import ReviewOutcome

CREDITS_PATH = "/educators/{educator_id}/renewal-credits"
"""The registry's renewal-credit ledger route: where it exists, credits are reconciled too."""


@dataclass
class Reconciliation:
    figures: dict[str, Any] = field(default_factory=dict)
    mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def check(self, what: str, actual: Any, expected: Any) -> None:
        self.figures[what] = actual
        if actual != expected:
            self.mismatches.append(f"{what}: {actual} (expected {expected})")

    def render(self) -> str:
        width = max(len(k) for k in self.figures) if self.figures else 0
        lines = [f"  {k:<{width}}  {v}" for k, v in self.figures.items()]
        if self.mismatches:
            lines.append("MISMATCHES:")
            lines.extend(f"  - {m}" for m in self.mismatches)
        else:
            lines.append("reconciled: every figure matches")
        return "\n".join(lines)


def _ours(world: World, index: StreamIndex) -> tuple[set[str], set[str]]:
    """Enrollment ids and credential ids of this world's micro-credential."""
    enrollments = {
        eid
        for eid, decisions in index.decisions.items()
        if any(d.micro_credential_id == world.mc_id for d in decisions)
    }
    credentials = {
        a.credential_id
        for eid in enrollments
        for a in index.awards.get(eid, [])
        if a.micro_credential_id == world.mc_id
    }
    return enrollments, credentials


def settled(world: World, index: StreamIndex, revoked: set[str], *, credits: bool) -> bool:
    """Whether every effect the streams should show for the passes and revocations so far
    is there (a run waits for this before reconciling)."""
    enrollments, credentials = _ours(world, index)
    for eid in enrollments:
        passed = [d for d in index.decisions[eid] if d.outcome is ReviewOutcome.PASSED]
        if passed and not index.awards.get(eid):
            return False
    for cid in credentials:
        if not index.stipends.get(cid) and not index.deferrals.get(cid):
            return False
        if credits and not index.credit_postings.get(cid):
            return False
    for cid in revoked:
        if not index.revocations.get(cid) or not index.reversals.get(cid):
            return False
        if credits and len(index.credit_postings.get(cid, [])) < 2:
            return False
    return True


async def reconcile(
    driver: Driver,
    world: World,
    journeys: list[Journey],
    index: StreamIndex,
    revoked: set[str],
    *,
    credits: bool,
    payroll_batches: dict[str, dict[str, Any]] | None = None,
) -> Reconciliation:
    """Compare what the driver did, what the streams show and what the APIs report."""
    r = Reconciliation()
    enrollments, credentials = _ours(world, index)
    passed_decisions = [
        d for eid in enrollments for d in index.decisions[eid] if d.outcome is ReviewOutcome.PASSED
    ]
    earned = [j for j in journeys if j.passed_at is not None]
    r.check("educators driven to a pass", len(earned), len(journeys))
    r.check("passed reviews on review.reviews", len(passed_decisions), len(earned))
    revision_decisions = sum(
        1
        for eid in enrollments
        for d in index.decisions[eid]
        if d.outcome is ReviewOutcome.REVISION_REQUESTED
    )
    r.figures["revisions requested"] = revision_decisions

    awards_per_decision = Counter(
        a.decision_id for eid in enrollments for a in index.awards.get(eid, [])
    )
    r.check(
        "passed reviews without exactly one credential",
        sum(1 for d in passed_decisions if awards_per_decision[d.decision_id] != 1),
        0,
    )
    r.check("credentials awarded", len(credentials), len(passed_decisions))

    stipends: list[StipendApproved] = [s for c in credentials for s in index.stipends.get(c, [])]
    r.check(
        "credentials without exactly one stipend",
        sum(1 for c in credentials if len(index.stipends.get(c, [])) != 1),
        0,
    )
    r.figures["stipends deferred (budget)"] = sum(
        len(index.deferrals.get(c, [])) for c in credentials
    )
    if credits:
        postings: list[RenewalCreditsPosted] = [
            p for c in credentials for p in index.credit_postings.get(c, [])
        ]
        r.check(
            "credentials without exactly one award credit posting",
            sum(
                1
                for c in credentials
                if sum(
                    1
                    for p in index.credit_postings.get(c, [])
                    if p.reason is CreditPostingReason.AWARD
                )
                != 1
            ),
            0,
        )
        r.check(
            "revocations without exactly one credit reversal",
            sum(
                1
                for c in revoked
                if sum(
                    1
                    for p in index.credit_postings.get(c, [])
                    if p.reason is CreditPostingReason.REVOCATION
                )
                != 1
            ),
            0,
        )
        r.figures["renewal credits, net"] = str(sum(p.renewal_credits for p in postings))
    else:
        r.figures["credit postings"] = "not checked (the registry has no credit ledger yet)"

    r.check("revocations requested", len(revoked), len(revoked & credentials))
    r.check(
        "revocations without exactly one CredentialRevoked",
        sum(1 for c in revoked if len(index.revocations.get(c, [])) != 1),
        0,
    )
    reversals: list[StipendReversed] = [s for c in credentials for s in index.reversals.get(c, [])]
    r.check(
        "revocations without exactly one stipend reversal",
        sum(1 for c in revoked if len(index.reversals.get(c, [])) != 1),
        0,
    )
    r.check(
        "reversals of credentials never revoked",
        len({s.credential_id for s in reversals} - revoked),
        0,
    )

    approved_cents = sum(s.amount_cents for s in stipends)
    reversed_cents = sum(s.amount_cents for s in reversals)
    r.check("stipends approved, cents", approved_cents, len(credentials) * world.stipend_cents)
    r.check(
        "stipends net of clawbacks, cents",
        approved_cents + reversed_cents,
        (len(credentials) - len(revoked)) * world.stipend_cents,
    )

    # The ledger as the compensation API reports it, district by district, against the payments
    # stream deduplicated by event id.
    ledger_approved = ledger_reversed = 0
    for district in world.districts:
        for year in world.fiscal_years:
            report = await driver.district_report(district, year)
            for source in report["funding_sources"]:
                if source["funding_source"] == world.funding_source:
                    ledger_approved += source["approved_cents"]
                    ledger_reversed += source["reversed_cents"]
    r.check("ledger approved (API) = payments stream", ledger_approved, approved_cents)
    r.check("ledger reversed (API) = payments stream", ledger_reversed, reversed_cents)
    r.figures["stream records redelivered (deduplicated by id)"] = index.redelivered

    if payroll_batches is not None:
        exported = sum(int(b["total_cents"]) for b in payroll_batches.values())
        r.check("payroll exports total = ledger net", exported, ledger_approved + ledger_reversed)
        streamed = sum(
            index.batches[b["batch_id"]].total_cents
            for b in payroll_batches.values()
            if b["batch_id"] in index.batches
        )
        r.check("payroll stream batches total = exports", streamed, exported)

    r.check("dead letters", len(index.dead_letters), 0)
    if index.dead_letters:
        r.figures["dead letters (first 5)"] = [
            (d.topic, d.headers.get("dlq.consumer"), d.headers.get("dlq.error.message", "")[:200])
            for d in index.dead_letters[:5]
        ]
    r.check("undecodable records", index.undecodable, 0)
    return r
