"""Helpers of the review integration tests: a fixed clock, input events produced to the real
broker (as the registry and enrollment would), and readers of the review database."""

from __future__ import annotations

import json
import uuid
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from mc_devstack.testing import running_service
from mc_events import kafka
from mc_events.consumer import wait_until
from mc_events.contracts.catalog import MicroCredentialPublished
from mc_events.contracts.common import (
    Credits,
    CreditUnit,
    EvidenceKind,
    EvidenceRequirement,
    Fee,
    FeePayer,
    Level,
    Purpose,
    RubricCriterion,
)
from mc_events.contracts.enrollment import ArtifactRef, EvidenceSubmitted
from mc_events.contracts.roster import EducatorRegistered, StaffRole
from mc_events.db import execute_core
from mc_events.envelope import to_record
from mc_events.storage import inbox, outbox
from mc_platform.auth import Role
from review.adapters.tables import roster_educators
from review.bootstrap import build
from review.config import Settings

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # a Monday
DUE = datetime(2026, 3, 9, 15, 0, tzinfo=UTC)  # five business days later


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class SettableClock:
    """A clock tests move by hand: ``clock.now += timedelta(days=8)``."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@asynccontextmanager
async def review_service(infra, clock=None, **overrides):
    """The review service on a fresh database, with the clock fixed at NOW (API, consumer and
    scheduler) unless a ``clock`` is given."""
    clock = clock or (lambda: NOW)

    async with running_service(
        lambda settings: build(settings, clock=clock), Settings, infra, **overrides
    ) as svc:
        yield svc


def admin(svc):
    return svc.auth("sea", Role.STATE_ADMIN)


async def put_assessor(svc, assessor_id: str, **fields) -> dict:
    body = {
        "district_id": uid("lea-far"),
        "qualifications": [],
        "calibration_status": "calibrated",
        "weekly_capacity": 5,
        **fields,
    }
    r = await svc.client.put(f"/assessors/{assessor_id}", json=body, headers=admin(svc))
    assert r.status_code in (200, 201), r.text
    return r.json()


def qualified_for(mc_id: str) -> list[dict]:
    return [{"kind": "micro_credential", "id": mc_id}]


def published(mc_id: str, competency: str) -> MicroCredentialPublished:
    return MicroCredentialPublished(
        micro_credential_id=mc_id,
        micro_credential_version=1,
        issuer_id="iss-1",
        issuer_name="Issuer",
        title="Wait time",
        competency=competency,
        description="",
        evidence_requirements=(
            EvidenceRequirement(id="r1", kind=EvidenceKind.VIDEO, prompt="Film it", required=True),
        ),
        rubric=(
            RubricCriterion(
                id="c1",
                name="Wait",
                levels=(Level(id="l1", name="Low"), Level(id="l2", name="High")),
                required_level_id="l2",
            ),
        ),
        credits=Credits(value=Decimal("10"), unit=CreditUnit.RENEWAL_CREDITS),
        attempt_cap=3,
        completion_window_days=90,
        cooldown_days=30,
        fee=Fee(amount_cents=4000, payer=FeePayer.DISTRICT),
        allowed_purposes=(Purpose.LICENSE_RENEWAL,),
        approved_at=NOW - timedelta(days=10),
    )


def registered(
    educator_id: str, district_id: str, supervisor_id: str | None = None, school_id=None
) -> EducatorRegistered:
    return EducatorRegistered(
        educator_id=educator_id,
        first_name="Ada",
        last_name="Lovelace",
        email=f"{educator_id}@x.example",
        district_id=district_id,
        school_id=school_id,
        role=StaffRole.TEACHER,
        supervisor_id=supervisor_id,
        registered_at=NOW - timedelta(days=30),
    )


def submitted(
    mc_id: str,
    *,
    educator_id: str | None = None,
    district_id: str = "lea-home",
    school_id: str | None = None,
    supervisor_id: str | None = None,
    submitted_at: datetime = NOW - timedelta(hours=1),
) -> EvidenceSubmitted:
    return EvidenceSubmitted(
        enrollment_id=uid("enr"),
        submission_id=uid("sub"),
        attempt=1,
        educator_id=educator_id or uid("edu"),
        district_id=district_id,
        school_id=school_id,
        supervisor_id=supervisor_id,
        micro_credential_id=mc_id,
        micro_credential_version=1,
        artifacts=(
            ArtifactRef(
                artifact_id=uid("art"),
                requirement_id="r1",
                kind=EvidenceKind.VIDEO,
                content_type="video/mp4",
                size_bytes=10,
                sha256="0" * 64,
                uri="evidence://x",
            ),
        ),
        submitted_at=submitted_at,
        deadline_at=NOW + timedelta(days=60),
    )


async def send(infra, *events, event_ids=None) -> list[str]:
    """Produce ``events`` to their topics; returns their CloudEvents ids."""
    settings = kafka.KafkaSettings(
        bootstrap_servers=infra.kafka_bootstrap, enable_idempotence=infra.kafka_idempotence
    )
    producer = kafka.producer(settings)
    ids = list(event_ids or [str(uuid.uuid4()) for _ in events])
    await producer.start()
    try:
        for event, event_id in zip(events, ids, strict=True):
            source = f"/mc/{event.event_type.split('.', 1)[0]}"
            record = to_record(event, source=source, event_id=event_id)
            await producer.send_and_wait(
                record.topic, value=record.value, key=record.key, headers=record.headers
            )
    finally:
        await producer.stop()
    return ids


async def review_of(svc, submission_id: str) -> dict | None:
    r = await svc.client.get(f"/reviews/{submission_id}", headers=admin(svc))
    return r.json() if r.status_code == 200 else None


async def wait_review(svc, submission_id: str, status: str, seconds: float = 30) -> dict:
    async def ready() -> bool:
        review = await review_of(svc, submission_id)
        return review is not None and review["status"] == status

    assert await wait_until(ready, seconds), await review_of(svc, submission_id)
    review = await review_of(svc, submission_id)
    assert review is not None
    return review


async def consumed(svc, *event_ids: str, seconds: float = 30) -> None:
    """Wait until the review consumer has committed every one of ``event_ids``."""

    async def done() -> bool:
        async with svc.runtime.sessions() as session:
            result = await execute_core(
                session, sa.select(sa.func.count()).where(inbox.c.event_id.in_(event_ids))
            )
            return int(result.scalar_one()) == len(set(event_ids))

    assert await wait_until(done, seconds)


async def roster_has(svc, *educator_ids: str, seconds: float = 30) -> None:
    async def done() -> bool:
        async with svc.runtime.sessions() as session:
            result = await execute_core(
                session,
                sa.select(sa.func.count()).where(roster_educators.c.educator_id.in_(educator_ids)),
            )
            return int(result.scalar_one()) == len(educator_ids)

    assert await wait_until(done, seconds)


async def outbox_events(svc, enrollment_id: str) -> list[dict]:
    async with svc.runtime.sessions() as session:
        result = await execute_core(
            session,
            sa.select(
                outbox.c.event_id, outbox.c.event_type, outbox.c.payload, outbox.c.published_at
            )
            .where(outbox.c.partition_key == enrollment_id)
            .order_by(outbox.c.id),
        )
        return [
            {
                "event_id": r.event_id,
                "event_type": r.event_type,
                "published": r.published_at is not None,
            }
            | json.loads(r.payload)
            for r in result
        ]


async def events_of_type(svc, enrollment_id: str, event_type: str) -> list[dict]:
    """The outbox events of ``enrollment_id`` whose type is ``event_type`` (any version)."""
    return [
        e
        for e in await outbox_events(svc, enrollment_id)
        if e["event_type"].rsplit(".", 1)[0] == event_type
    ]


def assessor(svc, assessor_id: str):
    return svc.auth(f"user-{assessor_id}", Role.ASSESSOR, assessor_id=assessor_id)


def approver(svc, assessor_id: str):
    return svc.auth(f"user-{assessor_id}", Role.APPROVER, assessor_id=assessor_id)


def scores(level: str, feedback: str = "") -> dict:
    return {"scores": [{"criterion_id": "c1", "level_id": level, "feedback": feedback}]}
