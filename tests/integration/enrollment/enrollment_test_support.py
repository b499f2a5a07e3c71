"""Helpers shared by the enrollment integration tests: a settable clock (the ``svc`` fixture
of conftest.py builds the service on one), registry and review events sent to the real broker,
roster registration, enrollment and evidence over the API, the deadline sweep, outbox and DLQ
readers."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from aiokafka import TopicPartition

from mc_events import kafka
from mc_events.consumer import wait_until
from mc_events.contracts.catalog import MicroCredentialPublished
from mc_events.contracts.common import (
    Credits,
    CreditUnit,
    CriterionResult,
    EvidenceKind,
    EvidenceRequirement,
    Fee,
    FeePayer,
    Level,
    Purpose,
    RubricCriterion,
)
from mc_events.contracts.review import (
    Assigned,
    AssignmentEscalated,
    Decided,
    EscalationOutcome,
    MisconductKind,
    ReviewOutcome,
)
from mc_events.envelope import to_record
from mc_events.storage import outbox
from mc_platform.auth import Role

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def published(mc_id: str, version: int = 1, **overrides) -> MicroCredentialPublished:
    fields = {
        "micro_credential_id": mc_id,
        "micro_credential_version": version,
        "issuer_id": "iss-1",
        "issuer_name": "Issuer",
        "title": f"Wait time v{version}",
        "competency": "Uses wait time after questioning",
        "description": "",
        "evidence_requirements": (
            EvidenceRequirement(id="r1", kind=EvidenceKind.VIDEO, prompt="Film it", required=True),
        ),
        "rubric": (
            RubricCriterion(
                id="c1",
                name="Wait",
                levels=(Level(id="l1", name="Low"), Level(id="l2", name="High")),
                required_level_id="l2",
            ),
        ),
        "credits": Credits(value=Decimal("10"), unit=CreditUnit.RENEWAL_CREDITS),
        "attempt_cap": 3,
        "completion_window_days": 90,
        "cooldown_days": 30,
        "fee": Fee(amount_cents=4000, payer=FeePayer.DISTRICT),
        "allowed_purposes": (Purpose.LICENSE_RENEWAL,),
        "approved_at": NOW - timedelta(days=10),
    }
    fields.update(overrides)
    return MicroCredentialPublished(**fields)


async def send(infra, *events) -> None:
    settings = kafka.KafkaSettings(
        bootstrap_servers=infra.kafka_bootstrap, enable_idempotence=infra.kafka_idempotence
    )
    producer = kafka.producer(settings)
    await producer.start()
    try:
        for event in events:
            record = to_record(event, source="/mc/registry")
            await producer.send_and_wait(
                record.topic, value=record.value, key=record.key, headers=record.headers
            )
    finally:
        await producer.stop()


async def catalog_has(svc, mc_id: str, *, versions: int = 1, retired: int = 0) -> bool:
    headers = svc.auth("sea", Role.STATE_ADMIN)

    async def seen() -> bool:
        r = await svc.client.get(f"/catalog/micro-credentials/{mc_id}", headers=headers)
        if r.status_code != 200:
            return False
        rows = r.json()
        return len(rows) == versions and sum(row["retired"] for row in rows) == retired

    return await wait_until(seen, 30)


async def register(svc, educator_id: str, district: str = "lea-1") -> None:
    data = (
        "educator_id,first_name,last_name,email,district_id,role\n"
        f"{educator_id},Ada,Lovelace,{educator_id}@x.example,{district},teacher\n"
    ).encode()
    r = await svc.client.post(
        "/roster/imports",
        files={"file": ("staff.csv", data, "text/csv")},
        headers=svc.auth("sea", Role.STATE_ADMIN),
    )
    assert r.json()["registered"] == 1


def educator(svc, educator_id: str):
    return svc.auth(educator_id, Role.EDUCATOR, educator_id=educator_id)


async def post_enroll(svc, educator_id: str, mc_id: str, purpose: str = "license_renewal"):
    return await svc.client.post(
        "/enrollments",
        json={"educator_id": educator_id, "micro_credential_id": mc_id, "purpose": purpose},
        headers=educator(svc, educator_id),
    )


async def my_enrollment(svc, educator_id: str, enrollment_id: str) -> dict:
    """One of the educator's enrollments, as ``GET /enrollments/me`` shows it."""
    rows = (await svc.client.get("/enrollments/me", headers=educator(svc, educator_id))).json()
    return next(e for e in rows if e["enrollment_id"] == enrollment_id)


async def status_becomes(svc, educator_id: str, enrollment_id: str, wanted: str) -> bool:
    """Waits until the enrollment has the status ``wanted`` (a consumed event moved it)."""

    async def check() -> bool:
        return (await my_enrollment(svc, educator_id, enrollment_id))["status"] == wanted

    return await wait_until(check, 30)


async def sweep(svc) -> dict:
    """Run the deadline sweep as the operator route does: ``{"expired": n, "reminded": n}``."""
    r = await svc.client.post(
        "/operations/deadline-sweep", headers=svc.auth("ops", Role.STATE_ADMIN)
    )
    assert r.status_code == 200, r.text
    return r.json()


async def outbox_events(svc, enrollment_id: str) -> list[tuple[str, dict]]:
    async with svc.runtime.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(outbox.c.event_type, outbox.c.payload)
            .where(outbox.c.partition_key == enrollment_id)
            .order_by(outbox.c.id)
        )
        return [(t.rsplit(".v", 1)[0], json.loads(p)) for t, p in rows.all()]


def new_ids() -> tuple[str, str]:
    suffix = uuid.uuid4().hex[:10]
    return f"mc-{suffix}", f"ed-{suffix}"


async def dead_letters(infra, topic: str, key: str, timeout: float = 30.0) -> list:
    """Records of ``topic`` with ``key``, read from the beginning until one shows up."""
    settings = kafka.KafkaSettings(
        bootstrap_servers=infra.kafka_bootstrap, enable_idempotence=infra.kafka_idempotence
    )
    consumer = kafka.consumer(settings, group_id=None)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        found = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not found:
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                found.extend(r for r in records if r.key == key.encode())
        return found
    finally:
        await consumer.stop()


async def enrolled_and_submitted(svc, infra, video: bytes = b"classroom video") -> dict[str, str]:
    """A registered educator enrolled in a fresh MC (one required video) who uploaded the video
    and submitted it: the ids of the educator, MC, enrollment, artifact and submission."""
    mc, ed = new_ids()
    await register(svc, ed)
    await send(infra, published(mc))
    assert await catalog_has(svc, mc)
    r = await post_enroll(svc, ed, mc)
    assert r.status_code == 201, r.text
    en = r.json()["enrollment_id"]
    up = await svc.client.post(
        f"/uploads/enrollments/{en}/evidence/r1",
        content=video,
        headers={**educator(svc, ed), "Content-Type": "video/mp4"},
    )
    assert up.status_code == 201, up.text
    sent = await svc.client.post(
        f"/enrollments/{en}/submissions",
        headers={**educator(svc, ed), "Idempotency-Key": uuid.uuid4().hex},
    )
    assert sent.status_code == 201, sent.text
    return {
        "educator": ed,
        "mc": mc,
        "enrollment": en,
        "artifact": up.json()["artifact_id"],
        "submission": sent.json()["submission_id"],
    }


def assigned(case: dict[str, str], assignment_id: str, assessor_id: str) -> Assigned:
    return Assigned(
        assignment_id=assignment_id,
        enrollment_id=case["enrollment"],
        submission_id=case["submission"],
        attempt=1,
        micro_credential_id=case["mc"],
        assessor_id=assessor_id,
        assigned_at=NOW,
        due_at=NOW + timedelta(days=7),
    )


def escalated(
    case: dict[str, str],
    overdue: tuple[str, str],
    reassigned: tuple[str, str] | None,
) -> AssignmentEscalated:
    """The overdue sweep's event for the ``(assignment id, assessor id)`` ``overdue``: reassigned
    to ``reassigned`` (the same pair for the new assignment), or left for a state admin."""
    return AssignmentEscalated(
        escalation_id=f"esc-{overdue[0]}",
        enrollment_id=case["enrollment"],
        submission_id=case["submission"],
        attempt=1,
        micro_credential_id=case["mc"],
        overdue_assignment_id=overdue[0],
        overdue_assessor_id=overdue[1],
        due_at=NOW + timedelta(days=7),
        outcome=EscalationOutcome.REASSIGNED if reassigned else EscalationOutcome.NEEDS_STATE_ADMIN,
        reassigned_assignment_id=reassigned[0] if reassigned else None,
        reassigned_to=reassigned[1] if reassigned else None,
        escalated_at=NOW + timedelta(days=8),
    )


def decided(
    case: dict[str, str],
    outcome: ReviewOutcome,
    *,
    misconduct: MisconductKind | None = None,
    decided_at: datetime = NOW + timedelta(days=5),
    decision_id: str | None = None,
) -> Decided:
    met = outcome is ReviewOutcome.PASSED
    return Decided(
        decision_id=decision_id or f"dec-{uuid.uuid4().hex[:8]}",
        enrollment_id=case["enrollment"],
        submission_id=case["submission"],
        attempt=1,
        educator_id=case["educator"],
        district_id="lea-1",
        micro_credential_id=case["mc"],
        micro_credential_version=1,
        outcome=outcome,
        results=(
            CriterionResult(
                criterion_id="c1",
                achieved_level_id="l2" if met else "l1",
                met=met,
                feedback="" if met else "The approver found the video taken from another class",
            ),
        ),
        assessor_ids=("as-1",),
        approver_id=None if met else "ap-1",
        decided_at=decided_at,
        misconduct=misconduct,
    )


def assessor(svc, assessor_id: str):
    return svc.auth(f"user-{assessor_id}", Role.ASSESSOR, assessor_id=assessor_id)


async def reads(svc, artifact_id: str, assessor_id: str) -> int:
    """The status an assessor gets reading the artifact's content."""
    r = await svc.client.get(
        f"/artifacts/{artifact_id}/content", headers=assessor(svc, assessor_id)
    )
    return r.status_code


async def becomes_readable(svc, artifact_id: str, assessor_id: str) -> bool:
    """Waits until the assessor may read the artifact (their assignment was consumed)."""

    async def check() -> bool:
        return await reads(svc, artifact_id, assessor_id) == 200

    return await wait_until(check, 30)
