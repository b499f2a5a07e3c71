"""Deadline reminders and the scheduler on a real database: one ``deadline_approaching`` event
per enrollment and threshold across repeated sweeps, concurrent sweepers and a crash, none for
closed enrollments or submissions with the assessors; the scheduler sweeping inside the
service, stepping aside while another replica holds the lock, surviving a failed run, and the
same sweep run once from the command line."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from enrollment_test_support import (
    NOW,
    catalog_has,
    educator,
    new_ids,
    outbox_events,
    post_enroll,
    published,
    send,
    sweep,
)
from sqlalchemy.exc import IntegrityError

from enrollment.adapters.tables import deadline_reminders, enrollments
from enrollment.bootstrap import deadline_scheduler
from enrollment.entrypoints import scheduler as scheduler_module
from enrollment.entrypoints.scheduler import SWEEP_LOCK
from enrollment.service_layer import deadlines
from enrollment.service_layer.unit_of_work import UnitOfWork
from mc_events import outbox as outbox_writer
from mc_events.consumer import wait_until
from mc_events.contracts.common import EvidenceKind, EvidenceRequirement
from mc_events.storage import outbox
from mc_platform.auth import Role

DAY = timedelta(days=1)
DEADLINE = NOW + 90 * DAY  # published() gives a 90-day completion window
REFLECTION_ONLY = (
    EvidenceRequirement(id="r", kind=EvidenceKind.REFLECTION, prompt="Reflect", required=True),
)


async def enrolled_many(svc, infra, n: int) -> tuple[str, list[str]]:
    """``n`` educators (one roster import) enrolled in one new MC at NOW."""
    mc, _ = new_ids()
    suffix = uuid.uuid4().hex[:8]
    eds = [f"ed-{suffix}-{i}" for i in range(n)]
    rows = "".join(f"{ed},Ada,Lovelace,{ed}@x.example,lea-1,teacher\n" for ed in eds)
    data = ("educator_id,first_name,last_name,email,district_id,role\n" + rows).encode()
    r = await svc.client.post(
        "/roster/imports",
        files={"file": ("staff.csv", data, "text/csv")},
        headers=svc.auth("sea", Role.STATE_ADMIN),
    )
    assert r.json()["registered"] == n
    await send(infra, published(mc, evidence_requirements=REFLECTION_ONLY))
    assert await catalog_has(svc, mc)
    ids = []
    for ed in eds:
        r = await post_enroll(svc, ed, mc)
        assert r.status_code == 201, r.text
        ids.append(r.json()["enrollment_id"])
    return mc, ids


def uow(svc) -> UnitOfWork:
    """A fresh unit of work on the service's database, for calling the sweep directly."""
    return UnitOfWork(svc.runtime.sessions)


def sample(svc, name: str, **labels: str) -> float | None:
    return svc.definition.registry.get_sample_value(name, labels)


async def reminders(svc, enrollment_id: str) -> list[dict]:
    return [
        p for kind, p in await outbox_events(svc, enrollment_id) if kind.endswith("approaching")
    ]


async def all_reminder_events(svc) -> list[str]:
    async with svc.runtime.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(outbox.c.partition_key).where(
                outbox.c.event_type == "enrollment.deadline_approaching.v1"
            )
        )
        return [r.partition_key for r in rows.all()]


async def test_one_reminder_per_threshold_as_the_deadline_nears_and_none_after_expiry(svc, infra):
    _, [en] = await enrolled_many(svc, infra, 1)
    svc.clock.now = DEADLINE - 14 * DAY - timedelta(seconds=1)
    assert await sweep(svc) == {"expired": 0, "reminded": 0}
    svc.clock.now = DEADLINE - 14 * DAY
    assert await sweep(svc) == {"expired": 0, "reminded": 1}
    assert await sweep(svc) == {"expired": 0, "reminded": 0}
    svc.clock.now = DEADLINE - 4 * DAY
    assert await sweep(svc) == {"expired": 0, "reminded": 0}
    svc.clock.now = DEADLINE - 3 * DAY
    assert await sweep(svc) == {"expired": 0, "reminded": 1}
    svc.clock.now = DEADLINE - DAY
    assert await sweep(svc) == {"expired": 0, "reminded": 0}
    svc.clock.now = DEADLINE
    assert await sweep(svc) == {"expired": 1, "reminded": 0}
    assert await sweep(svc) == {"expired": 0, "reminded": 0}
    kinds = [kind for kind, _ in await outbox_events(svc, en)]
    assert kinds == [
        "enrollment.enrolled",
        "enrollment.deadline_approaching",
        "enrollment.deadline_approaching",
        "enrollment.expired",
    ]
    first, second = await reminders(svc, en)
    assert (first["days_before"], second["days_before"]) == (14, 3)
    assert datetime.fromisoformat(first["deadline_at"]) == DEADLINE
    assert datetime.fromisoformat(second["reminded_at"]) == DEADLINE - 3 * DAY
    assert (second["status"], second["attempts_left"]) == ("enrolled", 3)


async def test_a_late_sweep_sends_only_the_nearest_reminder(svc, infra):
    _, [en] = await enrolled_many(svc, infra, 1)
    svc.clock.now = DEADLINE - 2 * DAY
    assert (await sweep(svc))["reminded"] == 1
    assert [r["days_before"] for r in await reminders(svc, en)] == [3]


async def test_closed_enrollments_and_submissions_with_the_assessors_get_no_reminder(svc, infra):
    _, [withdrawn, submitted, returned] = await enrolled_many(svc, infra, 3)
    async with svc.runtime.engine.connect() as conn:
        rows = await conn.execute(sa.select(enrollments.c.enrollment_id, enrollments.c.educator_id))
        owners = dict(rows.all())
    r = await svc.client.post(
        f"/enrollments/{withdrawn}/withdraw", headers=educator(svc, owners[withdrawn])
    )
    assert r.status_code == 200
    await svc.client.post(
        f"/enrollments/{submitted}/evidence/r/reflection",
        json={"text": "I waited"},
        headers=educator(svc, owners[submitted]),
    )
    for en in (submitted, returned):
        await svc.client.post(
            f"/enrollments/{en}/submissions",
            headers={**educator(svc, owners[en]), "Idempotency-Key": "k"},
        )
    svc.clock.now = DEADLINE - 3 * DAY
    assert (await sweep(svc))["reminded"] == 1
    assert await reminders(svc, withdrawn) == []
    assert await reminders(svc, submitted) == []
    [reminder] = await reminders(svc, returned)
    assert reminder["status"] == "returned_incomplete"


async def test_concurrent_sweeps_send_each_reminder_exactly_once(svc, infra):
    _, ids = await enrolled_many(svc, infra, 24)
    at = DEADLINE - 3 * DAY
    sent = await asyncio.gather(
        *(deadlines.remind_due(uow(svc), at, [14, 3], batch=5) for _ in range(4))
    )
    assert sum(sent) == 24
    keys = await all_reminder_events(svc)
    assert sorted(keys) == sorted(ids)
    again = [deadlines.remind_due(uow(svc), at, [14, 3]) for _ in range(2)]
    assert sum(await asyncio.gather(*again)) == 0


async def test_a_sweep_that_crashes_before_commit_leaves_nothing_and_the_next_one_sends(
    svc, infra, monkeypatch
):
    _, [en] = await enrolled_many(svc, infra, 1)
    real = outbox_writer.add_events

    async def crash(*args, **kwargs):
        if args[1]:
            raise ConnectionError("database went away mid-batch")
        return await real(*args, **kwargs)

    # The unit of work writes the collected events at commit, through the outbox.
    monkeypatch.setattr(outbox_writer, "add_events", crash)
    svc.clock.now = DEADLINE - 3 * DAY
    with pytest.raises(ConnectionError):
        await deadlines.remind_due(uow(svc), svc.clock.now, [14, 3])
    async with svc.runtime.engine.connect() as conn:
        rows = await conn.execute(sa.select(deadline_reminders))
        assert rows.all() == []
    assert await reminders(svc, en) == []
    monkeypatch.setattr(outbox_writer, "add_events", real)
    assert (await sweep(svc))["reminded"] == 1
    assert (await sweep(svc))["reminded"] == 0
    assert len(await reminders(svc, en)) == 1


async def test_the_database_holds_one_reminder_per_enrollment_and_threshold(svc, infra):
    _, [en] = await enrolled_many(svc, infra, 1)
    row = {"enrollment_id": en, "days_before": 3, "deadline_at": DEADLINE, "reminded_at": NOW}
    async with svc.runtime.engine.begin() as conn:
        await conn.execute(deadline_reminders.insert().values(row))
    with pytest.raises(IntegrityError):
        async with svc.runtime.engine.begin() as conn:
            await conn.execute(deadline_reminders.insert().values(row))


# -- the scheduler ---------------------------------------------------------------------------


@pytest.mark.enrollment_settings(deadline_sweep_enabled=True, deadline_sweep_interval_seconds=0.1)
async def test_the_scheduler_sweeps_periodically_inside_the_service(svc, infra):
    _, [en] = await enrolled_many(svc, infra, 1)
    svc.clock.now = DEADLINE - 3 * DAY

    async def reminded() -> bool:
        return len(await reminders(svc, en)) == 1

    assert await wait_until(reminded, 10)
    svc.clock.now = DEADLINE

    async def expired() -> bool:
        return (await outbox_events(svc, en))[-1][0] == "enrollment.expired"

    assert await wait_until(expired, 10)

    async def counted() -> bool:  # the run's counters follow its commit
        text = (await svc.client.get("/metrics")).text
        return 'enrollment_deadline_events_total{kind="expired"} 1.0' in text

    assert await wait_until(counted, 10)
    metrics = (await svc.client.get("/metrics")).text
    assert 'enrollment_deadline_events_total{kind="reminded"} 1.0' in metrics
    assert 'enrollment_deadline_sweeps_total{outcome="done"}' in metrics
    ready = (await svc.client.get("/readyz")).json()
    assert "deadline-sweep" not in ready["checks"]  # listed only once it has stopped
    assert len(await reminders(svc, en)) == 1


async def test_a_replica_skips_its_turn_while_another_holds_the_sweep_lock(svc, infra):
    _, [en] = await enrolled_many(svc, infra, 1)
    svc.clock.now = DEADLINE
    scheduler = deadline_scheduler(svc.definition)  # on the service's clock, svc.clock
    async with svc.runtime.engine.connect() as other, other.begin():
        await other.execute(sa.select(sa.func.pg_advisory_xact_lock(SWEEP_LOCK)))
        assert await scheduler.run_once(svc.runtime.engine, svc.runtime.sessions) is None
        assert [kind for kind, _ in await outbox_events(svc, en)] == ["enrollment.enrolled"]
    result = await scheduler.run_once(svc.runtime.engine, svc.runtime.sessions)
    assert (result.expired, result.reminded) == (1, 0)
    assert sample(svc, "enrollment_deadline_sweeps_total", outcome="skipped") == 1


async def test_a_failed_sweep_is_counted_and_the_scheduler_keeps_going(svc, infra, monkeypatch):
    calls = 0
    real = scheduler_module.sweep

    async def flaky(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("database restarting")
        return await real(*args, **kwargs)

    monkeypatch.setattr(scheduler_module, "sweep", flaky)
    settings = svc.definition.settings.model_copy(update={"deadline_sweep_interval_seconds": 0.05})
    scheduler = scheduler_module.DeadlineScheduler(
        settings, deadline_scheduler(svc.definition).metrics, svc.clock
    )
    stop = asyncio.Event()
    task = asyncio.create_task(scheduler.worker()(svc.runtime, stop))

    async def recovered() -> bool:
        return (sample(svc, "enrollment_deadline_sweeps_total", outcome="done") or 0) >= 1

    assert await wait_until(recovered, 10)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert sample(svc, "enrollment_deadline_sweeps_total", outcome="failed") == 1


async def test_the_sweep_runs_once_from_the_command_line(svc, infra):
    # The command line runs on the real clock: enroll far enough back for the deadline to pass.
    svc.clock.now = datetime.now(UTC) - 100 * DAY
    _, [en] = await enrolled_many(svc, infra, 1)
    env = {
        **os.environ,
        "ENROLLMENT_DATABASE_URL": svc.definition.settings.database_url,
        "ENROLLMENT_LOG_JSON": "false",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "enrollment",
        "sweep-deadlines",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    assert json.loads(out.decode().strip().splitlines()[-1])["expired"] >= 1
    assert (await outbox_events(svc, en))[-1][0] == "enrollment.expired"
