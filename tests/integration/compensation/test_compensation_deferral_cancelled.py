"""A deferred stipend whose credential is revoked (or whose stack completion is reversed) before
funds arrive is cancelled once, announced once with ``compensation.stipend_deferral_cancelled``,
and never paid afterwards."""

from __future__ import annotations

import asyncio
import json

from compensation_helpers import (
    AWARDED_AT,
    add_teachers,
    awarded,
    clock,
    ledger,
    outbox_events,
    revoked,
    rows,
    setup_florida,
    stack_bonus_rule,
    teacher,
    transaction,
    wait_for_educator,
    wait_for_entries,
)

from compensation.domain import ids
from compensation.domain.rules import Award, Basis
from compensation.service_layer.stipends import apply_award, reverse_award
from mc_devstack.testing import unique_name
from mc_events.consumer import wait_until
from mc_events.contracts.compensation import (
    StipendDeferralCancelled,
    StipendDeferred,
    StipendReversalReason,
)
from mc_platform.auth import Role


async def test_a_revoked_deferral_is_cancelled_once_and_never_paid(svc, producer):
    fl = await setup_florida(svc, budget_cents=0)  # nothing allocated: every stipend waits
    educator = unique_name("edu")
    await producer.send(teacher(educator, fl.district_id))
    await wait_for_educator(svc, educator)
    award = awarded(educator, fl.district_id)
    await producer.send(award)

    async def deferred() -> bool:
        return bool(await outbox_events(svc, StipendDeferred.ce_type(), educator))

    assert await wait_until(deferred, 30)
    revocation = revoked(award)
    event_id = await producer.send(revocation)
    await producer.send(revocation, event_id=event_id)  # redelivered
    await producer.send(revocation)  # duplicated upstream

    async def cancelled() -> bool:
        return bool(await outbox_events(svc, StipendDeferralCancelled.ce_type(), educator))

    assert await wait_until(cancelled, 30)
    later = awarded(educator, fl.district_id)
    await producer.send(later)  # same key: processed after the revocations

    async def later_deferred() -> bool:
        return len(await outbox_events(svc, StipendDeferred.ce_type(), educator)) == 2

    assert await wait_until(later_deferred, 30)
    await asyncio.sleep(0.3)

    (event,) = await outbox_events(svc, StipendDeferralCancelled.ce_type(), educator)
    deferral_id = ids.deferral_id(f"credential:{award.credential_id}", fl.rule_id, 2026)
    assert event.event_id == ids.event_id(StipendDeferralCancelled.event_type, deferral_id)
    payload = json.loads(event.payload)
    assert payload["deferral_id"] == deferral_id
    assert payload["credential_id"] == award.credential_id
    assert (payload["amount_cents"], payload["reason"]) == (100_000, "credential_revoked")

    # Funds arrive: the later award is paid, the cancelled one never.
    admin = svc.auth("admin", Role.DISTRICT_ADMIN, district_id=fl.district_id)
    r = await svc.client.post(
        f"/districts/{fl.district_id}/budgets/2026/allocations",
        json={"funding_source": fl.funding_source, "amount_cents": 1_000_000},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    (released,) = r.json()["released_entry_ids"]
    (entry,) = await wait_for_entries(svc, educator, 1)
    assert (entry.entry_id, entry.credential_id) == (released, later.credential_id)
    (status,) = await rows(
        svc, "SELECT status FROM stipend_deferrals WHERE deferral_id = :d", d=deferral_id
    )
    assert status.status == "cancelled"


async def test_a_reversed_stack_completion_cancels_its_deferred_bonus(svc):
    fl = await setup_florida(svc, budget_cents=0)
    state = svc.auth("sea", Role.STATE_ADMIN)
    bonus = unique_name("fl-stack")
    r = await svc.client.post("/stipend-rules", json=stack_bonus_rule(bonus), headers=state)
    assert r.status_code == 201, r.text
    (educator,) = await add_teachers(svc, fl.district_id, 1)
    completion = Award(
        Basis.STACK_COMPLETION, unique_name("stc"), "stack-x", educator, fl.district_id, AWARDED_AT
    )
    async with transaction(svc) as uow:
        result = await apply_award(uow, completion, clock)
    (deferral_id,) = result.deferred  # only the per-stack rule covers a completion
    for _ in range(2):  # the reversal, and its redelivery
        async with transaction(svc) as uow:
            await reverse_award(
                uow,
                completion.award_key,
                StipendReversalReason.STACK_COMPLETION_REVERSED,
                clock,
            )

    (event,) = await outbox_events(svc, StipendDeferralCancelled.ce_type(), educator)
    payload = json.loads(event.payload)
    assert payload["deferral_id"] == deferral_id
    assert (payload["basis"], payload["stack_completion_id"], payload["credential_id"]) == (
        "stack_completion",
        completion.source_id,
        None,
    )
    assert payload["reason"] == "stack_completion_reversed"
    r = await svc.client.post(
        f"/districts/{fl.district_id}/budgets/2026/allocations",
        json={"funding_source": fl.funding_source, "amount_cents": 1_000_000},
        headers=state,
    )
    assert r.status_code == 201, r.text
    assert r.json()["released_entry_ids"] == []
    assert r.json()["budget"]["committed_cents"] == 0
    assert await ledger(svc, educator) == []
