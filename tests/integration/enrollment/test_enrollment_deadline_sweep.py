"""The deadline sweep on a real database: enrollments waiting on the educator past their
deadline expire once, with an Expired event; a submission with the assessors does not."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from enrollment_test_support import (
    NOW,
    catalog_has,
    educator,
    new_ids,
    outbox_events,
    post_enroll,
    published,
    register,
    send,
)
from enrollment_test_support import sweep as sweep_now

from mc_events.contracts.common import EvidenceKind, EvidenceRequirement
from mc_platform.auth import Role

REFLECTION_ONLY = (
    EvidenceRequirement(id="r", kind=EvidenceKind.REFLECTION, prompt="Reflect", required=True),
)


async def sweep(svc) -> int:
    """How many enrollments the deadline sweep expired."""
    return (await sweep_now(svc))["expired"]


async def test_enrollments_past_their_deadline_expire_once_with_an_event(svc, infra):
    mc, waiting = new_ids()
    reviewed = f"ed-{uuid.uuid4().hex[:10]}"
    await register(svc, waiting)
    await register(svc, reviewed)
    await send(infra, published(mc, evidence_requirements=REFLECTION_ONLY))
    assert await catalog_has(svc, mc)
    idle = (await post_enroll(svc, waiting, mc)).json()["enrollment_id"]
    busy = (await post_enroll(svc, reviewed, mc)).json()["enrollment_id"]
    await svc.client.post(
        f"/enrollments/{busy}/evidence/r/reflection",
        json={"text": "I waited"},
        headers=educator(svc, reviewed),
    )
    sent = await svc.client.post(
        f"/enrollments/{busy}/submissions",
        headers={**educator(svc, reviewed), "Idempotency-Key": "k"},
    )
    assert sent.status_code == 201
    svc.clock.now = NOW + timedelta(days=90) - timedelta(seconds=1)
    assert await sweep(svc) == 0
    svc.clock.now = NOW + timedelta(days=90)
    assert await sweep(svc) == 1
    assert await sweep(svc) == 0
    events = await outbox_events(svc, idle)
    # The sweep a second before the deadline sent the 3-day reminder (see the reminder tests).
    assert [kind for kind, _ in events] == [
        "enrollment.enrolled",
        "enrollment.deadline_approaching",
        "enrollment.expired",
    ]
    expired = events[-1][1]
    assert datetime.fromisoformat(expired["may_reenroll_from"]) == NOW + timedelta(days=120)
    mine = (await svc.client.get("/enrollments/me", headers=educator(svc, waiting))).json()
    assert (mine[0]["status"], mine[0]["end_reason"]) == ("expired", "deadline_passed")
    again = await post_enroll(svc, waiting, mc)
    assert (again.status_code, again.json()["reason"]) == (409, "in_cooldown")
    theirs = (await svc.client.get("/enrollments/me", headers=educator(svc, reviewed))).json()
    assert theirs[0]["status"] == "submitted"


async def test_an_expired_enrollment_refuses_evidence_and_submissions(svc, infra):
    mc, ed = new_ids()
    await register(svc, ed)
    await send(infra, published(mc, evidence_requirements=REFLECTION_ONLY))
    assert await catalog_has(svc, mc)
    en = (await post_enroll(svc, ed, mc)).json()["enrollment_id"]
    svc.clock.now = NOW + timedelta(days=90)
    assert await sweep(svc) == 1
    # Back before the deadline on the clock: the enrollment is expired all the same.
    svc.clock.now = NOW + timedelta(days=1)
    text = await svc.client.post(
        f"/enrollments/{en}/evidence/r/reflection",
        json={"text": "Too late now"},
        headers=educator(svc, ed),
    )
    assert (text.status_code, text.json()["reason"]) == (409, "not_allowed_now")
    sent = await svc.client.post(
        f"/enrollments/{en}/submissions", headers={**educator(svc, ed), "Idempotency-Key": "k"}
    )
    assert (sent.status_code, sent.json()["reason"]) == (409, "not_allowed_now")
    kinds = [kind for kind, _ in await outbox_events(svc, en)]
    assert kinds == ["enrollment.enrolled", "enrollment.expired"]
    assert not (svc.evidence_dir.exists() and any(svc.evidence_dir.rglob("*")))


async def test_only_the_state_admin_runs_the_sweep(svc):
    district = svc.auth("hr", Role.DISTRICT_ADMIN, district_id="lea-1")
    r = await svc.client.post("/operations/deadline-sweep", headers=district)
    assert r.status_code == 403
