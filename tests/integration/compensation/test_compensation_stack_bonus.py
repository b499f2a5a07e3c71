"""Stack bonuses are stipends with basis stack_completion: the same annual caps, budgets and
deferral as per-credential stipends, one per completion, rule and fiscal year."""

from __future__ import annotations

import asyncio

import pytest
from compensation_helpers import (
    AWARDED_AT,
    add_teachers,
    clock,
    ledger,
    setup_florida,
    stack_bonus_rule,
    transaction,
)

from compensation.domain.lanes import Completion
from compensation.domain.rules import Award, Basis
from compensation.service_layer import lanes
from compensation.service_layer.stipends import AwardResult, apply_award
from mc_devstack.testing import RunningService, unique_name
from mc_platform.auth import Role


def stack(educator: str, district: str, stack_id: str = "stack-x") -> Award:
    return Award(
        Basis.STACK_COMPLETION, unique_name("stc"), stack_id, educator, district, AWARDED_AT
    )


async def apply(svc: RunningService, award: Award) -> AwardResult:
    async with transaction(svc) as uow:
        return await apply_award(uow, award, clock)


async def test_stack_bonuses_respect_the_annual_cap_and_the_stacks_they_name(svc):
    fl = await setup_florida(svc, budget_cents=10_000_000)
    state = svc.auth("sea", Role.STATE_ADMIN)
    rule = stack_bonus_rule(
        unique_name("fl-stack"), annual_cap_cents=75_000, subject_ids=["stack-x", "stack-y"]
    )
    assert (await svc.client.post("/stipend-rules", json=rule, headers=state)).status_code == 201
    (educator,) = await add_teachers(svc, fl.district_id, 1)

    results = [await apply(svc, stack(educator, fl.district_id, s)) for s in ("x", "stack-x")]
    assert results[0].approved == []  # a stack the rule does not name
    assert len(results[1].approved) == 1
    assert len((await apply(svc, stack(educator, fl.district_id, "stack-y"))).approved) == 1
    third = await apply(svc, stack(educator, fl.district_id))
    assert third.approved == []
    assert "cap" in next(iter(third.not_paid.values()))
    assert [e.amount_cents for e in await ledger(svc, educator)] == [50_000, 25_000]
    assert {e.basis for e in await ledger(svc, educator)} == {"stack_completion"}


async def test_the_same_completion_delivered_concurrently_pays_its_bonus_once(svc):
    fl = await setup_florida(svc, budget_cents=10_000_000)
    state = svc.auth("sea", Role.STATE_ADMIN)
    rule = stack_bonus_rule(unique_name("fl-stack"))
    assert (await svc.client.post("/stipend-rules", json=rule, headers=state)).status_code == 201
    (educator,) = await add_teachers(svc, fl.district_id, 1)
    completion = stack(educator, fl.district_id)
    start = asyncio.Event()

    async def one() -> AwardResult:
        await start.wait()
        return await apply(svc, completion)

    tasks = [asyncio.create_task(one()) for _ in range(6)]
    await asyncio.sleep(0.05)
    start.set()
    results = await asyncio.gather(*tasks)
    assert sum(len(r.approved) for r in results) == 1
    (entry,) = await ledger(svc, educator)
    assert entry.stack_completion_id == completion.source_id


async def test_a_lane_rule_for_an_educator_missing_from_the_roster_refuses_to_guess(svc):
    fl = await setup_florida(svc, budget_cents=0)
    state = svc.auth("sea", Role.STATE_ADMIN)
    body = {
        "rule_id": unique_name("lane"),
        "name": "MA lane",
        "state": "FL",
        "lane": "MA",
        "rank": 3,
        "effective_from": "2020-01-01T00:00:00Z",
    }
    assert (
        await svc.client.post("/salary-lane-rules", json=body, headers=state)
    ).status_code == 201
    stranger = Completion(
        unique_name("stc"), "stack-x", unique_name("edu"), fl.district_id, AWARDED_AT
    )
    with pytest.raises(lanes.EducatorNotOnRosterForLane):
        async with transaction(svc) as uow:
            await lanes.apply_completion(uow, stranger, clock)
