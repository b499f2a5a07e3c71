"""The compensation API refuses what it must, with a clear 4xx, and changes nothing."""

from __future__ import annotations

import pytest
from compensation_helpers import (
    awarded,
    florida_rule,
    rows,
    setup_florida,
    teacher,
    wait_for_educator,
    wait_for_entries,
)

from mc_devstack.testing import unique_name
from mc_events import kafka
from mc_events.consumer import wait_until
from mc_events.dlq import list_dead_letters, replay_dead_letters
from mc_events.topics import CREDENTIALS
from mc_platform.auth import Role


async def test_routes_require_a_token_and_the_right_role(svc):
    r = await svc.client.post("/stipend-rules", json=florida_rule("x"))
    assert r.status_code == 401
    r = await svc.client.put(
        "/districts/d1", json={"state": "FL"}, headers=svc.auth("t", Role.EDUCATOR)
    )
    assert r.status_code == 403
    r = await svc.client.put(
        "/districts/d1",
        json={"state": "FL"},
        headers=svc.auth("a", Role.DISTRICT_ADMIN, district_id="d1"),
    )
    assert r.status_code == 403


@pytest.mark.parametrize("amount", [1000.0, "100000", 0, -5, 10.5])
async def test_money_must_be_positive_integer_cents(svc, amount):
    state = svc.auth("sea", Role.STATE_ADMIN)
    r = await svc.client.post(
        "/stipend-rules", json=florida_rule(unique_name("r"), amount_cents=amount), headers=state
    )
    assert r.status_code == 422, r.text
    assert await rows(svc, "SELECT 1 FROM stipend_rules") == []


async def test_a_district_admin_acts_for_their_own_district_only(svc):
    fl = await setup_florida(svc, budget_cents=100_000)
    other = svc.auth("other", Role.DISTRICT_ADMIN, district_id="somewhere-else")
    r = await svc.client.post(
        f"/districts/{fl.district_id}/budgets/2026/allocations",
        json={"funding_source": fl.funding_source, "amount_cents": 100},
        headers=other,
    )
    assert r.status_code == 403
    r = await svc.client.get(
        f"/districts/{fl.district_id}/budgets/2026",
        params={"funding_source": fl.funding_source},
        headers=other,
    )
    assert r.status_code == 403
    r = await svc.client.post(
        "/stipend-rules",
        json=florida_rule(unique_name("r"), district_id=fl.district_id),
        headers=other,
    )
    assert r.status_code == 403
    # Nor may a district take over a statewide rule by publishing a version of it.
    own = svc.auth("own", Role.DISTRICT_ADMIN, district_id=fl.district_id)
    r = await svc.client.post(
        "/stipend-rules", json=florida_rule(fl.rule_id, district_id=fl.district_id), headers=own
    )
    assert r.status_code == 409
    (budget,) = await rows(svc, "SELECT allocated_cents FROM budgets")
    assert budget.allocated_cents == 100_000


async def test_rule_changes_are_new_versions(svc):
    fl = await setup_florida(svc, budget_cents=0)
    state = svc.auth("sea", Role.STATE_ADMIN)
    r = await svc.client.post(
        "/stipend-rules",
        json=florida_rule(
            fl.rule_id, amount_cents=120_000, effective_from="2026-07-01T00:00:00-04:00"
        ),
        headers=state,
    )
    assert r.status_code == 201, r.text
    assert r.json()["version"] == 2
    r = await svc.client.get(f"/stipend-rules/{fl.rule_id}", headers=state)
    assert [(v["version"], v["amount_cents"]) for v in r.json()] == [(1, 100_000), (2, 120_000)]
    r = await svc.client.post(
        "/stipend-rules",
        json=florida_rule(unique_name("r"), effective_from="2026-07-01T00:00:00"),
        headers=state,
    )
    assert r.status_code == 422  # naive datetimes are refused


async def test_an_educator_sees_only_their_own_stipends(svc):
    r = await svc.client.get(
        "/educators/someone-else/stipends",
        headers=svc.auth("me", Role.EDUCATOR, educator_id="me"),
    )
    assert r.status_code == 403


async def test_award_for_an_educator_missing_from_the_roster_is_dead_lettered_then_replayed(
    svc, producer, infra
):
    fl = await setup_florida(svc, budget_cents=100_000)
    stranger = unique_name("edu")
    award_id = await producer.send(awarded(stranger, fl.district_id))
    settings = kafka.KafkaSettings(
        bootstrap_servers=infra.kafka_bootstrap, enable_idempotence=infra.kafka_idempotence
    )
    letters: list = []

    async def dead_lettered() -> bool:
        letters[:] = [
            letter
            for letter in await list_dead_letters(settings, CREDENTIALS.name, idle_seconds=0.5)
            if letter.event_id == award_id
        ]
        return bool(letters)

    assert await wait_until(dead_lettered, 45)
    assert "not on the roster" in letters[0].error_message
    assert await rows(svc, "SELECT 1 FROM ledger_entries") == []

    # Once the roster knows the educator, the operator replays the dead letter and it pays.
    await producer.send(teacher(stranger, fl.district_id))
    await wait_for_educator(svc, stranger)
    assert await replay_dead_letters(settings, letters[:1]) == 1
    (entry,) = await wait_for_entries(svc, stranger, 1)
    assert entry.amount_cents == 100_000
