"""Fixtures and helpers of the registry's integration tests: one registry service per module on
a fresh database and the session's broker, callers with their tokens, and topic helpers.

Test modules import the fixtures by name (a ``conftest.py`` here would shadow the
``conftest`` module other integration tests import)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from aiokafka import TopicPartition

from mc_devstack.samples import (  # noqa: F401  (the sample definitions: tests import them here)
    mc_spec_data,
    stack_spec_data,
)
from mc_devstack.testing import RunningService, running_service, unique_name
from mc_events import kafka
from mc_events.consumer import wait_until
from mc_events.contracts.base import Event
from mc_events.contracts.common import CriterionResult, Purpose
from mc_events.contracts.enrollment import Enrolled
from mc_events.contracts.review import Decided, ReviewOutcome
from mc_events.db import execute_core
from mc_events.envelope import decode, parse_record, to_record
from mc_events.storage import inbox
from mc_platform.auth import Role
from registry.bootstrap import build
from registry.config import Settings


class Actors:
    """Headers for the callers of a test, and an issuer registered with the state."""

    def __init__(self, svc: RunningService) -> None:
        self.svc = svc
        self.issuer_id = unique_name("prov")
        self.admin = svc.auth("sea-reviewer", Role.STATE_ADMIN)
        self.issuer = svc.auth("ann", Role.ISSUER, issuer_id=self.issuer_id)

    async def register_issuer(self, issuer_id: str | None = None, name: str = "Provider") -> str:
        issuer_id = issuer_id or self.issuer_id
        r = await self.svc.client.post(
            "/issuers", json={"issuer_id": issuer_id, "name": name}, headers=self.admin
        )
        assert r.status_code == 201, r.text
        return issuer_id

    async def draft_mc(self, spec: dict[str, Any], headers: dict[str, str] | None = None) -> str:
        r = await self.svc.client.post(
            "/micro-credentials", json=spec, headers=headers or self.issuer
        )
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    async def approve_mc(self, mc_id: str, version: int = 1) -> dict[str, Any]:
        base = f"/micro-credentials/{mc_id}/versions/{version}"
        r = await self.svc.client.post(f"{base}/submit", headers=self.issuer)
        assert r.status_code == 200, r.text
        r = await self.svc.client.post(f"{base}/approve", json={"reason": "ok"}, headers=self.admin)
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def published_mc(self, spec: dict[str, Any]) -> str:
        mc_id = await self.draft_mc(spec)
        await self.approve_mc(mc_id)
        return mc_id


async def events_on(
    svc: RunningService, topic: str, key: str, *, at_least: int, timeout: float = 20.0
) -> list[tuple[str, Event]]:
    """``(event id, event)`` of every record with ``key`` on ``topic``, from the beginning,
    once at least ``at_least`` are there (then a short grace for duplicates)."""
    consumer = kafka.consumer(svc.definition.settings.kafka, group_id=None)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        found: list[tuple[str, Event]] = []
        deadline = time.monotonic() + timeout
        quiet_until: float | None = None
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=100)
            for records in batch.values():
                for record in records:
                    if record.key is None or record.key.decode() != key:
                        continue
                    envelope = parse_record(record.headers, record.key, record.value)
                    found.append((envelope.id, decode(envelope)))
            if len(found) >= at_least:
                if quiet_until is None:
                    quiet_until = time.monotonic() + 0.5
                elif time.monotonic() >= quiet_until:
                    break
        return found
    finally:
        await consumer.stop()


async def publish(svc: RunningService, event: Event, event_id: str | None = None) -> str:
    """Put ``event`` on its topic as another service would (CloudEvents binary mode)."""
    record = to_record(event, source="/tests/registry", event_id=event_id)
    producer = kafka.producer(svc.definition.settings.kafka)
    await producer.start()
    try:
        await producer.send_and_wait(
            record.topic, value=record.value, key=record.key, headers=record.headers
        )
    finally:
        await producer.stop()
    return record.event_id


async def processed(svc: RunningService, *event_ids: str, timeout: float = 20.0) -> bool:
    """Whether the registry's consumer committed all of ``event_ids`` (its inbox has them)."""

    async def check() -> bool:
        async with svc.runtime.sessions() as session:
            rows = await execute_core(
                session, sa.select(inbox.c.event_id).where(inbox.c.event_id.in_(event_ids))
            )
            return len(rows.all()) == len(set(event_ids))

    return await wait_until(check, timeout)


def results(planning: str = "proficient", practice: str = "proficient") -> tuple[Any, ...]:
    return (
        CriterionResult(
            criterion_id="planning", achieved_level_id=planning, met=planning != "emerging"
        ),
        CriterionResult(
            criterion_id="practice", achieved_level_id=practice, met=practice != "emerging"
        ),
    )


def decided(mc_id: str, *, enrollment_id: str | None = None, **overrides: Any) -> Decided:
    data: dict[str, Any] = {
        "decision_id": unique_name("dec"),
        "enrollment_id": enrollment_id or unique_name("enr"),
        "submission_id": unique_name("sub"),
        "attempt": 1,
        "educator_id": unique_name("SC"),
        "district_id": "district-7",
        "micro_credential_id": mc_id,
        "micro_credential_version": 1,
        "outcome": ReviewOutcome.PASSED,
        "results": results(),
        "assessor_ids": ("assessor-1", "assessor-2"),
        "decided_at": datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
    }
    data.update(overrides)
    return Decided(**data)


def enrolled(decision: Decided, purpose: Purpose) -> Enrolled:
    return Enrolled(
        enrollment_id=decision.enrollment_id,
        educator_id=decision.educator_id,
        district_id=decision.district_id,
        micro_credential_id=decision.micro_credential_id,
        micro_credential_version=decision.micro_credential_version,
        purpose=purpose,
        enrolled_at=datetime(2026, 1, 10, 9, 0, tzinfo=UTC),
        deadline_at=datetime(2026, 7, 10, 9, 0, tzinfo=UTC),
    )


@pytest.fixture(scope="module")
async def registry(infra) -> AsyncIterator[RunningService]:
    async with running_service(build, Settings, infra) as svc:
        yield svc


@pytest.fixture
async def actors(registry) -> Actors:
    actors = Actors(registry)
    await actors.register_issuer()
    return actors
