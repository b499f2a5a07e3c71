"""Salary-lane history on the real database: lanes only move up on completion, fall back to the
next standing lane on reversal, a reversal that arrives first blocks its late completion, the
history is append-only, and concurrent deliveries change a lane once."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from compensation_helpers import (
    add_teachers,
    clock,
    lane_changes,
    lane_rule,
    rows,
    setup_florida,
    transaction,
)
from sqlalchemy.exc import DBAPIError

from compensation.domain.lanes import Completion
from compensation.service_layer import lanes
from compensation.service_layer.stipends import reverse_award
from mc_devstack.testing import RunningService, unique_name
from mc_events.contracts.compensation import StipendReversalReason
from mc_platform.auth import Role

COMPLETED = datetime(2025, 10, 1, 15, tzinfo=UTC)
REVERSED = datetime(2025, 11, 1, tzinfo=UTC)


async def publish_lanes(svc: RunningService, district_id: str) -> None:
    """BA+30 (rank 2) for the 'stack-ba30' stack, MA (rank 3) for 'stack-ma'."""
    admin = svc.auth("admin", Role.DISTRICT_ADMIN, district_id=district_id)
    for stack, lane, rank in (("stack-ba30", "BA+30", 2), ("stack-ma", "MA", 3)):
        body = lane_rule(
            unique_name("lane"), lane=lane, rank=rank, district_id=district_id, stack_ids=[stack]
        )
        r = await svc.client.post("/salary-lane-rules", json=body, headers=admin)
        assert r.status_code == 201, r.text


def completion(educator: str, district: str, stack: str) -> Completion:
    return Completion(unique_name("stc"), stack, educator, district, COMPLETED)


async def complete(svc: RunningService, c: Completion) -> list[str]:
    async with transaction(svc) as uow:
        return await lanes.apply_completion(uow, c, clock)


async def reverse(svc: RunningService, c: Completion) -> list[str]:
    async with transaction(svc) as uow:
        await reverse_award(
            uow,
            lanes.completion_key(c.completion_id),
            StipendReversalReason.STACK_COMPLETION_REVERSED,
            clock,
        )
        return await lanes.revert_completion(
            uow, c.completion_id, c.educator_id, c.district_id, REVERSED, clock
        )


async def lanes_of(svc: RunningService, educator: str) -> list[tuple[str | None, str | None]]:
    return [(c.from_lane, c.to_lane) for c in await lane_changes(svc, educator)]


async def test_a_lower_lane_waits_behind_a_higher_one_and_takes_over_when_it_is_reversed(svc):
    fl = await setup_florida(svc, budget_cents=0)
    await publish_lanes(svc, fl.district_id)
    (educator,) = await add_teachers(svc, fl.district_id, 1)
    ma = completion(educator, fl.district_id, "stack-ma")
    ba30 = completion(educator, fl.district_id, "stack-ba30")

    assert len(await complete(svc, ma)) == 1
    assert await complete(svc, ba30) == []  # BA+30 is below MA: no change now
    assert await lanes_of(svc, educator) == [(None, "MA")]

    assert len(await reverse(svc, ma)) == 1
    assert await reverse(svc, ma) == []  # redelivered reversal
    assert await lanes_of(svc, educator) == [(None, "MA"), ("MA", "BA+30")]
    assert len(await reverse(svc, ba30)) == 1
    changes = await lane_changes(svc, educator)
    assert [(c.from_lane, c.to_lane) for c in changes] == [
        (None, "MA"),
        ("MA", "BA+30"),
        ("BA+30", None),
    ]
    # Each reversal names the change it takes back.
    assert changes[1].reverts_change_id == changes[0].change_id
    assert changes[2].reverts_change_id is not None


async def test_a_reversal_that_arrives_first_blocks_the_late_completion(svc):
    fl = await setup_florida(svc, budget_cents=0)
    await publish_lanes(svc, fl.district_id)
    (educator,) = await add_teachers(svc, fl.district_id, 1)
    ma = completion(educator, fl.district_id, "stack-ma")
    assert await reverse(svc, ma) == []
    assert await complete(svc, ma) == []
    assert await lane_changes(svc, educator) == []
    assert (
        await rows(svc, "SELECT 1 FROM salary_lane_grants WHERE educator_id = :e", e=educator) == []
    )


async def test_a_completion_no_rule_covers_changes_nothing(svc):
    fl = await setup_florida(svc, budget_cents=0)
    await publish_lanes(svc, fl.district_id)
    (educator,) = await add_teachers(svc, fl.district_id, 1)
    assert await complete(svc, completion(educator, fl.district_id, "stack-other")) == []
    # An unregistered district has no salary schedule here.
    assert await complete(svc, completion(educator, "unknown-district", "stack-ma")) == []
    assert await lane_changes(svc, educator) == []


async def test_the_stack_grant_names_the_lane_when_the_rule_does_not(svc):
    fl = await setup_florida(svc, budget_cents=0)
    state = svc.auth("sea", Role.STATE_ADMIN)
    body = lane_rule(unique_name("lane"), lane=None, rank=2, stack_ids=["stack-granted"])
    assert (
        await svc.client.post("/salary-lane-rules", json=body, headers=state)
    ).status_code == 201
    (educator,) = await add_teachers(svc, fl.district_id, 1)
    granted = Completion(
        unique_name("stc"), "stack-granted", educator, fl.district_id, COMPLETED, ("BA+45",)
    )
    assert len(await complete(svc, granted)) == 1
    assert await lanes_of(svc, educator) == [(None, "BA+45")]


async def test_lane_history_is_append_only(svc):
    fl = await setup_florida(svc, budget_cents=0)
    await publish_lanes(svc, fl.district_id)
    (educator,) = await add_teachers(svc, fl.district_id, 1)
    await complete(svc, completion(educator, fl.district_id, "stack-ma"))
    for statement in (
        "UPDATE salary_lane_changes SET to_lane = 'PhD' WHERE educator_id = :e",
        "DELETE FROM salary_lane_grants WHERE educator_id = :e",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            async with svc.runtime.engine.begin() as conn:
                await conn.execute(sa.text(statement).bindparams(e=educator))
    assert await lanes_of(svc, educator) == [(None, "MA")]


async def test_concurrent_deliveries_change_a_lane_once_and_keep_the_history_consistent(svc):
    fl = await setup_florida(svc, budget_cents=0)
    await publish_lanes(svc, fl.district_id)
    (educator,) = await add_teachers(svc, fl.district_id, 1)
    ma = completion(educator, fl.district_id, "stack-ma")
    ba30 = completion(educator, fl.district_id, "stack-ba30")
    start = asyncio.Event()

    async def one(c: Completion) -> list[str]:
        await start.wait()
        return await complete(svc, c)

    tasks = [asyncio.create_task(one(c)) for c in [ma] * 5 + [ba30] * 5]
    await asyncio.sleep(0.05)
    start.set()
    await asyncio.gather(*tasks)

    assert (
        await rows(
            svc, "SELECT count(*) AS n FROM salary_lane_grants WHERE educator_id = :e", e=educator
        )
    )[0].n == 2
    history = await lanes_of(svc, educator)
    # Whichever came first, the lane ends on MA and every change starts where the last ended.
    assert history in ([(None, "MA")], [(None, "BA+30"), ("BA+30", "MA")])
    assert all(prev[1] == nxt[0] for prev, nxt in itertools.pairwise(history))
