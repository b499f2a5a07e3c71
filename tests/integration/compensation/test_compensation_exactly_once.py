"""Exactly-once stipends through the running service: awards and revocations produced to
``registry.credentials``, the roster to ``enrollment.roster``, effects read from the database."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import sqlalchemy as sa
from compensation_helpers import (
    awarded,
    ledger,
    outbox_events,
    revoked,
    scalar,
    setup_florida,
    teacher,
    wait_for_educator,
    wait_for_entries,
)

from compensation.domain import ids
from compensation.entrypoints.consumer import build_handlers
from mc_devstack.testing import unique_name
from mc_events import kafka
from mc_events.consumer import EventConsumer, wait_until
from mc_events.contracts.compensation import StipendApproved, StipendDeferred, StipendReversed
from mc_events.topics import CREDENTIALS, ROSTER
from mc_platform import audit
from mc_platform.auth import Role


async def test_duplicated_redelivered_and_replayed_award_pays_once(svc, producer, infra):
    fl = await setup_florida(svc, budget_cents=10_000_000)
    educator = unique_name("edu")
    await producer.send(teacher(educator, fl.district_id))
    await wait_for_educator(svc, educator)

    award = awarded(educator, fl.district_id)
    event_id = await producer.send(award)
    await producer.send(award, event_id=event_id)  # redelivered: same CloudEvents id
    duplicate_id = await producer.send(award)  # duplicated upstream: same award, new event id
    marker = awarded(educator, fl.district_id)  # same key, so processed after the three
    marker_id = await producer.send(marker)

    entries = await wait_for_entries(svc, educator, 2)
    await asyncio.sleep(0.3)
    entries = await ledger(svc, educator)
    assert sorted(e.credential_id for e in entries) == sorted(
        [award.credential_id, marker.credential_id]
    )
    assert all(e.kind == "approval" and e.amount_cents == 100_000 for e in entries)
    assert {(e.rule_id, e.rule_version, e.fiscal_year) for e in entries} == {(fl.rule_id, 1, 2026)}

    # Replay: a new consumer (its own group and inbox name, so the inbox cannot help) reads
    # both topics from the beginning while the service's own consumer keeps running.
    replay = EventConsumer(
        name="compensation-replay",
        group_id=unique_name("compensation-replay"),
        handlers=build_handlers(),
        topics=[CREDENTIALS.name, ROSTER.name],
        sessions=svc.runtime.sessions,
        kafka_settings=kafka.KafkaSettings(
            bootstrap_servers=infra.kafka_bootstrap,
            enable_idempotence=infra.kafka_idempotence,
            fetch_max_wait_ms=10,
        ),
        metrics=svc.runtime.metrics,
    )
    await replay.start()
    try:

        async def replayed_marker() -> bool:
            await replay.poll_once()
            seen = await scalar(
                svc,
                "SELECT count(*) FROM event_inbox WHERE consumer = 'compensation-replay' "
                "AND event_id = ANY(:ids)",
                ids=[event_id, duplicate_id, marker_id],
            )
            return seen == 3

        assert await wait_until(replayed_marker, 60)
    finally:
        await replay.stop()

    assert [e.entry_id for e in await ledger(svc, educator)] == [e.entry_id for e in entries]
    approved = await outbox_events(svc, StipendApproved.ce_type(), educator)
    assert sorted(row.event_id for row in approved) == sorted(
        ids.event_id(StipendApproved.event_type, e.entry_id) for e in entries
    )
    r = await svc.client.get(
        f"/educators/{educator}/stipends",
        headers=svc.auth(educator, Role.EDUCATOR, educator_id=educator),
    )
    assert r.status_code == 200, r.text
    assert r.json()["balance_cents"] == 200_000


async def test_revocation_reverses_once_even_if_delivered_twice(svc, producer):
    fl = await setup_florida(svc, budget_cents=10_000_000)
    educator = unique_name("edu")
    await producer.send(teacher(educator, fl.district_id))
    await wait_for_educator(svc, educator)
    award = awarded(educator, fl.district_id)
    await producer.send(award)
    (approval,) = await wait_for_entries(svc, educator, 1)

    revocation = revoked(award)
    event_id = await producer.send(revocation)
    await producer.send(revocation, event_id=event_id)
    await producer.send(revocation)
    marker = awarded(educator, fl.district_id)
    await producer.send(marker)
    await wait_for_entries(svc, educator, 3)
    await asyncio.sleep(0.3)

    entries = await ledger(svc, educator)
    reversals = [e for e in entries if e.kind == "reversal"]
    assert len(entries) == 3
    assert len(reversals) == 1
    (reversal,) = reversals
    assert reversal.reverses_entry_id == approval.entry_id
    assert reversal.amount_cents == -100_000
    assert reversal.reason == "credential_revoked"
    # History is never edited: the approval is still there, unchanged.
    assert entries[0]._mapping == approval._mapping
    assert sum(e.amount_cents for e in entries) == 100_000

    (event,) = await outbox_events(svc, StipendReversed.ce_type(), educator)
    assert event.event_id == ids.event_id(StipendReversed.event_type, reversal.entry_id)
    payload = json.loads(event.payload)
    assert payload["original_entry_id"] == approval.entry_id
    assert payload["amount_cents"] == -100_000

    r = await svc.client.get(
        f"/districts/{fl.district_id}/budgets/2026",
        params={"funding_source": fl.funding_source},
        headers=svc.auth("admin", Role.DISTRICT_ADMIN, district_id=fl.district_id),
    )
    assert r.json()["committed_cents"] == 100_000  # the clawback went back to the budget

    # Every money decision is on the educator's tamper-evident trail, a statewide rule on the
    # state's.
    async with svc.runtime.engine.connect() as conn:
        trail = (
            await conn.execute(
                sa.select(audit.audit_log.c.action, audit.audit_log.c.object_id)
                .where(audit.audit_log.c.chain == f"educator:{educator}")
                .order_by(audit.audit_log.c.seq)
            )
        ).all()
        assert [tuple(row) for row in trail] == [
            ("stipend.approved", approval.entry_id),
            ("stipend.reversed", reversal.entry_id),
            ("stipend.approved", entries[2].entry_id),
        ]
        rule = await conn.execute(
            sa.select(audit.audit_log.c.chain, audit.audit_log.c.action).where(
                audit.audit_log.c.object_id == f"{fl.rule_id}@v1"
            )
        )
        assert [tuple(row) for row in rule] == [("state:FL", "rule.published")]
        assert await audit.verify(conn) == []


async def test_exhausted_budget_defers_and_added_funds_pay(svc, producer):
    fl = await setup_florida(svc, budget_cents=100_000)
    first, second = unique_name("edu"), unique_name("edu")
    for educator in (first, second):
        await producer.send(teacher(educator, fl.district_id))
        await wait_for_educator(svc, educator)
    await producer.send(awarded(first, fl.district_id))
    await wait_for_entries(svc, first, 1)
    await producer.send(awarded(second, fl.district_id))

    async def deferred() -> bool:
        return bool(await outbox_events(svc, StipendDeferred.ce_type(), second))

    assert await wait_until(deferred, 30)
    assert await ledger(svc, second) == []
    admin = svc.auth("admin", Role.DISTRICT_ADMIN, district_id=fl.district_id)
    budget = await svc.client.get(
        f"/districts/{fl.district_id}/budgets/2026",
        params={"funding_source": fl.funding_source},
        headers=admin,
    )
    assert budget.json()["remaining_cents"] == 0
    assert budget.json()["deferred_cents"] == 100_000

    r = await svc.client.post(
        f"/districts/{fl.district_id}/budgets/2026/allocations",
        json={"funding_source": fl.funding_source, "amount_cents": 100_000},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    (released,) = r.json()["released_entry_ids"]
    assert r.json()["budget"]["committed_cents"] == 200_000
    assert r.json()["budget"]["deferred_count"] == 0
    (entry,) = await ledger(svc, second)
    assert entry.entry_id == released
    (event,) = await outbox_events(svc, StipendApproved.ce_type(), second)
    assert event.event_id == ids.event_id(StipendApproved.event_type, released)


async def test_awards_are_charged_to_the_fiscal_year_of_their_local_date(svc, producer):
    fl = await setup_florida(svc, budget_cents=100_000, fiscal_year=2025)
    state = svc.auth("sea", Role.STATE_ADMIN)
    r = await svc.client.post(
        f"/districts/{fl.district_id}/budgets/2026/allocations",
        json={"funding_source": fl.funding_source, "amount_cents": 100_000},
        headers=state,
    )
    assert r.status_code == 201
    educator = unique_name("edu")
    await producer.send(teacher(educator, fl.district_id))
    await wait_for_educator(svc, educator)
    # 23:30 on 30 June in Florida, and 00:30 on 1 July: one budget year each.
    await producer.send(
        awarded(educator, fl.district_id, awarded_at=datetime(2025, 7, 1, 3, 30, tzinfo=UTC))
    )
    await producer.send(
        awarded(educator, fl.district_id, awarded_at=datetime(2025, 7, 1, 4, 30, tzinfo=UTC))
    )
    entries = await wait_for_entries(svc, educator, 2)
    assert [(e.fiscal_year, e.fiscal_period) for e in entries] == [(2025, 12), (2026, 1)]
