"""Caps and budgets hold under concurrent awards: many award commands run at once, each in its
own transaction on its own connection to the real database (what several consumer replicas
processing different partitions do), and the numbers never go past their limits."""

from __future__ import annotations

import asyncio

from compensation_helpers import (
    add_teachers,
    clock,
    credential,
    florida_rule,
    ledger,
    rows,
    scalar,
    setup_florida,
    transaction,
)

from compensation.domain.rules import Award
from compensation.service_layer.stipends import AwardResult, apply_award, reverse_award
from mc_devstack.testing import RunningService, unique_name
from mc_events.contracts.compensation import StipendReversalReason
from mc_platform.auth import Role


async def award_concurrently(svc: RunningService, awards: list[Award]) -> list[AwardResult]:
    start = asyncio.Event()

    async def one(award: Award) -> AwardResult:
        await start.wait()  # release them together
        async with transaction(svc) as uow:
            return await apply_award(uow, award, clock)

    tasks = [asyncio.create_task(one(award)) for award in awards]
    await asyncio.sleep(0.05)
    start.set()
    return await asyncio.gather(*tasks)


async def test_concurrent_awards_never_overspend_the_budget(svc):
    fl = await setup_florida(svc, budget_cents=500_000)  # five $1,000 stipends
    educators = await add_teachers(svc, fl.district_id, 12)
    results = await award_concurrently(svc, [credential(e, fl.district_id) for e in educators])

    assert sum(len(r.approved) for r in results) == 5
    assert sum(len(r.deferred) for r in results) == 7
    (budget,) = await rows(
        svc,
        "SELECT allocated_cents, committed_cents FROM budgets WHERE district_id = :d",
        d=fl.district_id,
    )
    assert (budget.allocated_cents, budget.committed_cents) == (500_000, 500_000)
    paid = await scalar(
        svc, "SELECT sum(amount_cents) FROM ledger_entries WHERE district_id = :d", d=fl.district_id
    )
    assert paid == 500_000


async def test_concurrent_awards_never_exceed_an_educators_annual_cap(svc):
    district = unique_name("duval")
    state = svc.auth("sea", Role.STATE_ADMIN)
    await svc.client.put(f"/districts/{district}", json={"state": "FL"}, headers=state)
    rule = florida_rule(unique_name("fl-capped"), district_id=district, annual_cap_cents=250_000)
    r = await svc.client.post("/stipend-rules", json=rule, headers=state)
    assert r.status_code == 201, r.text
    r = await svc.client.post(
        f"/districts/{district}/budgets/2026/allocations",
        json={"funding_source": rule["funding_source"], "amount_cents": 10_000_000},
        headers=state,
    )
    assert r.status_code == 201, r.text
    (educator,) = await add_teachers(svc, district, 1)

    results = await award_concurrently(svc, [credential(educator, district) for _ in range(6)])

    entries = await ledger(svc, educator)
    assert sorted(e.amount_cents for e in entries) == [50_000, 100_000, 100_000]
    assert sum(len(r.approved) for r in results) == 3
    assert sum("cap" in reason for r in results for reason in r.not_paid.values()) == 3


async def test_the_same_award_applied_concurrently_pays_once(svc):
    fl = await setup_florida(svc, budget_cents=10_000_000)
    (educator,) = await add_teachers(svc, fl.district_id, 1)
    award = credential(educator, fl.district_id)

    results = await award_concurrently(svc, [award] * 8)

    assert sum(len(r.approved) for r in results) == 1
    (entry,) = await ledger(svc, educator)
    assert entry.amount_cents == 100_000


async def test_a_revocation_racing_its_award_never_leaves_money_paid(svc):
    fl = await setup_florida(svc, budget_cents=10_000_000)
    educators = await add_teachers(svc, fl.district_id, 6)
    awards = [credential(e, fl.district_id) for e in educators]
    start = asyncio.Event()

    async def award(a: Award) -> None:
        await start.wait()
        async with transaction(svc) as uow:
            await apply_award(uow, a, clock)

    async def revoke(a: Award) -> None:
        await start.wait()
        async with transaction(svc) as uow:
            await reverse_award(uow, a.award_key, StipendReversalReason.CREDENTIAL_REVOKED, clock)

    tasks = [asyncio.create_task(job(a)) for a in awards for job in (award, revoke)]
    await asyncio.sleep(0.05)
    start.set()
    await asyncio.gather(*tasks)

    for educator in educators:
        entries = await ledger(svc, educator)
        # Either the award came first (approval, then its one reversal) or the revocation did
        # (nothing paid at all): never an approval left standing.
        assert [e.kind for e in entries] in ([], ["approval", "reversal"])
        assert sum(e.amount_cents for e in entries) == 0
    assert (
        await scalar(
            svc, "SELECT committed_cents FROM budgets WHERE district_id = :d", d=fl.district_id
        )
        == 0
    )
