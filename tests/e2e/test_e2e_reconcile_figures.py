"""The chaos run's reconciliation is itself a specification: it must fail on a duplicate stipend,
a missing clawback, a ledger that disagrees with the payments stream, or a dead letter. Fed
here with streams and API answers built by hand (no infrastructure: it is the arithmetic that is
under test; the chaos tests run it on the real system)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from mc_devstack.pipeline.driver import Educator, Journey, World
from mc_devstack.pipeline.reconcile import reconcile, settled
from mc_devstack.pipeline.streams import DeadLetter, StreamIndex
from mc_events.contracts.common import Credits, CreditUnit, CriterionResult, Purpose
from mc_events.contracts.compensation import StipendApproved, StipendBasis, StipendReversed
from mc_events.contracts.registry import CredentialAwarded, CredentialRevoked, RevocationReason
from mc_events.contracts.review import Decided, ReviewOutcome

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
MC = "wait-abc"
STIPEND = 50_000


def world(educators: int) -> World:
    return World(
        tag="abc",
        issuer_id="prov-abc",
        mc_id=MC,
        mc_version=1,
        rule_id="tx-mc-abc",
        funding_source="fund",
        stipend_cents=STIPEND,
        credits=Decimal(15),
        districts=["D1"],
        educators=[Educator(f"E{n}", "D1", "D1-S1", "Ada", "L") for n in range(educators)],
        assessors=["A1"],
        fiscal_years=[2027],
        budget_cents_per_district=10**9,
    )


class Ledger:
    """The compensation API's district report, as the reconciliation reads it."""

    def __init__(self, approved: int, reversed_: int) -> None:
        self.approved, self.reversed = approved, reversed_

    async def district_report(self, district_id: str, year: int) -> dict[str, Any]:
        return {
            "funding_sources": [
                {
                    "funding_source": "fund",
                    "approved_cents": self.approved,
                    "reversed_cents": self.reversed,
                }
            ]
        }


def eid() -> str:
    return str(uuid.uuid4())


def passed_award(index: StreamIndex, educator: Educator) -> tuple[Journey, str]:
    enrollment = eid()
    decision = Decided(
        decision_id=eid(),
        enrollment_id=enrollment,
        submission_id=eid(),
        attempt=1,
        educator_id=educator.educator_id,
        district_id=educator.district_id,
        micro_credential_id=MC,
        micro_credential_version=1,
        outcome=ReviewOutcome.PASSED,
        results=(CriterionResult(criterion_id="c", achieved_level_id="l", met=True),),
        assessor_ids=("A1",),
        decided_at=NOW,
    )
    credential = eid()
    award = CredentialAwarded(
        credential_id=credential,
        educator_id=educator.educator_id,
        district_id=educator.district_id,
        micro_credential_id=MC,
        micro_credential_version=1,
        enrollment_id=enrollment,
        decision_id=decision.decision_id,
        issuer_id="prov-abc",
        achievement_name="Wait time",
        purpose=Purpose.LICENSE_RENEWAL,
        credits=Credits(value=Decimal(15), unit=CreditUnit.PD_HOURS),
        awarded_at=NOW,
        credential_url=f"http://registry.example/credentials/{credential}",
        results=decision.results,
    )
    index.add(eid(), "review.reviews", decision)
    index.add(eid(), "registry.credentials", award)
    journey = Journey(educator, enrollment_id=enrollment, passed_at=1.0)
    return journey, credential


def stipend(educator: Educator, credential: str) -> StipendApproved:
    return StipendApproved(
        educator_id=educator.educator_id,
        district_id=educator.district_id,
        basis=StipendBasis.CREDENTIAL,
        credential_id=credential,
        rule_id="tx-mc-abc",
        rule_version=1,
        fiscal_year=2027,
        fiscal_period=6,
        ledger_entry_id=eid(),
        amount_cents=STIPEND,
        funding_source="fund",
        approved_at=NOW,
    )


def revocation(educator: Educator, credential: str, original: StipendApproved):
    revoked = CredentialRevoked(
        credential_id=credential,
        educator_id=educator.educator_id,
        district_id=educator.district_id,
        micro_credential_id=MC,
        micro_credential_version=1,
        enrollment_id=eid(),
        reason=RevocationReason.ISSUED_IN_ERROR,
        revoked_at=NOW,
    )
    reversal = StipendReversed(
        **original.model_dump(
            include={
                "educator_id",
                "district_id",
                "basis",
                "credential_id",
                "rule_id",
                "rule_version",
                "fiscal_year",
                "fiscal_period",
            }
        ),
        reversal_entry_id=eid(),
        original_entry_id=original.ledger_entry_id,
        amount_cents=-STIPEND,
        reason="credential_revoked",
        reversed_at=NOW,
    )
    return revoked, reversal


def run_of(
    educators: int, revoke: int
) -> tuple[World, list[Journey], StreamIndex, set[str], list[Any]]:
    w = world(educators)
    index = StreamIndex()
    journeys, revoked, stipends = [], set(), []
    for n, educator in enumerate(w.educators):
        journey, credential = passed_award(index, educator)
        journeys.append(journey)
        paid = stipend(educator, credential)
        stipends.append(paid)
        index.add(eid(), "compensation.payments", paid)
        if n < revoke:
            revoked_event, reversal = revocation(educator, credential, paid)
            index.add(eid(), "registry.credentials", revoked_event)
            index.add(eid(), "compensation.payments", reversal)
            revoked.add(credential)
    return w, journeys, index, revoked, stipends


async def test_a_clean_run_reconciles_and_redeliveries_of_the_same_id_count_once():
    w, journeys, index, revoked, stipends = run_of(4, revoke=1)
    assert settled(w, index, revoked, credits=False)
    paid = stipends[1]
    first_id = next(k for k, seen in index.events.items() if seen.event is paid)
    index.add(first_id, "compensation.payments", paid)  # redelivered after a relay crash
    result = await reconcile(
        Ledger(4 * STIPEND, -STIPEND),  # type: ignore[arg-type]
        w,
        journeys,
        index,
        revoked,
        credits=False,
    )
    assert result.ok, result.render()
    assert result.figures["stream records redelivered (deduplicated by id)"] == 1
    assert result.figures["stipends net of clawbacks, cents"] == 3 * STIPEND


async def test_a_second_stipend_for_one_award_is_a_mismatch():
    w, journeys, index, revoked, stipends = run_of(3, revoke=0)
    twice = stipends[0].model_copy(update={"ledger_entry_id": eid()})
    index.add(eid(), "compensation.payments", twice)
    result = await reconcile(
        Ledger(4 * STIPEND, 0),  # type: ignore[arg-type]
        w,
        journeys,
        index,
        revoked,
        credits=False,
    )
    assert not result.ok
    assert any("without exactly one stipend" in m for m in result.mismatches)
    assert any("stipends approved, cents" in m for m in result.mismatches)


async def test_a_revocation_without_clawback_a_ledger_off_by_a_cent_and_a_dead_letter_fail():
    w, journeys, index, revoked, _ = run_of(3, revoke=1)
    del index.reversals[next(iter(revoked))]
    index.dead_letters.append(DeadLetter("review.reviews.dlq", "k", {"dlq.consumer": "registry"}))
    assert not settled(w, index, revoked, credits=False)
    result = await reconcile(
        Ledger(3 * STIPEND + 1, 0),  # type: ignore[arg-type]
        w,
        journeys,
        index,
        revoked,
        credits=False,
    )
    problems = "\n".join(result.mismatches)
    assert "revocations without exactly one stipend reversal: 1" in problems
    assert "ledger approved (API) = payments stream" in problems
    assert "dead letters: 1" in problems
