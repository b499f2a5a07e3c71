"""Enrollment over HTTP with the catalog read model fed by real registry events on the broker:
enroll, refusals, withdraw, my enrollments; the database enforces one open enrollment."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
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
from sqlalchemy.exc import IntegrityError

from enrollment.adapters.tables import enrollments
from mc_events.contracts.catalog import MicroCredentialRetired
from mc_platform.auth import Role


async def test_enrolling_in_a_published_mc_emits_enrolled_with_the_deadline(svc, infra):
    mc, ed = new_ids()
    await register(svc, ed)
    await send(infra, published(mc))
    assert await catalog_has(svc, mc)
    r = await post_enroll(svc, ed, mc)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "enrolled"
    assert body["result_status"] == "Enrolled"
    assert body["attempts_left"] == 3
    assert datetime.fromisoformat(body["deadline_at"]) == NOW + timedelta(days=90)
    [(kind, payload)] = await outbox_events(svc, body["enrollment_id"])
    assert kind == "enrollment.enrolled"
    assert (payload["educator_id"], payload["district_id"]) == (ed, "lea-1")
    assert datetime.fromisoformat(payload["deadline_at"]) == NOW + timedelta(days=90)


async def test_a_second_open_enrollment_in_the_same_mc_is_refused(svc, infra):
    mc, ed = new_ids()
    await register(svc, ed)
    await send(infra, published(mc))
    assert await catalog_has(svc, mc)
    assert (await post_enroll(svc, ed, mc)).status_code == 201
    again = await post_enroll(svc, ed, mc)
    assert again.status_code == 409
    assert again.json()["reason"] == "already_active"


async def test_the_newest_version_is_enrolled_and_a_retired_mc_is_not_enrollable(svc, infra):
    mc, ed = new_ids()
    await register(svc, ed)
    await send(infra, published(mc, 1), published(mc, 2, attempt_cap=1))
    assert await catalog_has(svc, mc, versions=2)
    r = await post_enroll(svc, ed, mc)
    assert (r.json()["micro_credential_version"], r.json()["attempts_left"]) == (2, 1)
    other_mc, other_ed = new_ids()
    await register(svc, other_ed)
    await send(
        infra,
        published(other_mc),
        MicroCredentialRetired(
            micro_credential_id=other_mc, micro_credential_version=1, retired_at=NOW
        ),
    )
    assert await catalog_has(svc, other_mc, retired=1)
    refused = await post_enroll(svc, other_ed, other_mc)
    assert (refused.status_code, refused.json()["reason"]) == (409, "not_enrollable")


async def test_a_purpose_the_state_does_not_allow_is_refused(svc, infra):
    mc, ed = new_ids()
    await register(svc, ed)
    await send(infra, published(mc))
    assert await catalog_has(svc, mc)
    r = await post_enroll(svc, ed, mc, purpose="added_endorsement")
    assert (r.status_code, r.json()["reason"]) == (409, "purpose_not_allowed")


async def test_educators_enroll_only_themselves_and_only_from_the_roster(svc, infra):
    mc, ed = new_ids()
    await send(infra, published(mc))
    assert await catalog_has(svc, mc)
    r = await svc.client.post(
        "/enrollments",
        json={"educator_id": "someone-else", "micro_credential_id": mc, "purpose": "curated_pd"},
        headers=educator(svc, ed),
    )
    assert r.status_code == 403
    admin = svc.auth("sea", Role.STATE_ADMIN)
    r = await svc.client.post(
        "/enrollments",
        json={"educator_id": ed, "micro_credential_id": mc, "purpose": "curated_pd"},
        headers=admin,
    )
    assert r.status_code == 403
    unknown = await post_enroll(svc, ed, mc)
    assert (unknown.status_code, unknown.json()["reason"]) == (409, "not_on_roster")
    bad = await svc.client.post(
        "/enrollments",
        json={"educator_id": ed, "micro_credential_id": mc, "purpose": "fun"},
        headers=educator(svc, ed),
    )
    assert bad.status_code == 422


async def test_withdrawing_emits_withdrawn_and_allows_enrolling_again(svc, infra):
    mc, ed = new_ids()
    await register(svc, ed)
    await send(infra, published(mc))
    assert await catalog_has(svc, mc)
    first = (await post_enroll(svc, ed, mc)).json()["enrollment_id"]
    stranger = svc.auth("x", Role.EDUCATOR, educator_id="someone-else")
    r = await svc.client.post(f"/enrollments/{first}/withdraw", json={}, headers=stranger)
    assert r.status_code == 404
    svc.clock.now = NOW + timedelta(days=3)
    r = await svc.client.post(
        f"/enrollments/{first}/withdraw", json={"reason": "moving"}, headers=educator(svc, ed)
    )
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["result_status"]) == ("withdrawn", "Withdrew")
    again = await svc.client.post(f"/enrollments/{first}/withdraw", headers=educator(svc, ed))
    assert (again.status_code, again.json()["reason"]) == (409, "not_allowed_now")
    events = await outbox_events(svc, first)
    assert [kind for kind, _ in events] == ["enrollment.enrolled", "enrollment.withdrawn"]
    assert events[1][1]["reason"] == "moving"
    assert (await post_enroll(svc, ed, mc)).status_code == 201


async def test_my_enrollments_show_status_deadline_and_attempts_left_of_mine_only(svc, infra):
    mc1, ed = new_ids()
    mc2, other = new_ids()
    await register(svc, ed)
    await register(svc, other)
    await send(infra, published(mc1), published(mc2, completion_window_days=30))
    assert await catalog_has(svc, mc1)
    assert await catalog_has(svc, mc2)
    await post_enroll(svc, ed, mc1)
    svc.clock.now = NOW + timedelta(days=1)
    await post_enroll(svc, ed, mc2)
    await post_enroll(svc, other, mc1)
    r = await svc.client.get("/enrollments/me", headers=educator(svc, ed))
    mine = r.json()
    assert [(e["micro_credential_id"], e["status"], e["attempts_left"]) for e in mine] == [
        (mc2, "enrolled", 3),
        (mc1, "enrolled", 3),
    ]
    assert datetime.fromisoformat(mine[0]["deadline_at"]) == NOW + timedelta(days=31)
    admin = svc.auth("sea", Role.STATE_ADMIN)
    assert (await svc.client.get("/enrollments/me", headers=admin)).status_code == 403


async def test_the_database_allows_one_open_enrollment_per_educator_and_mc(svc):
    mc, ed = new_ids()
    row = {
        "educator_id": ed,
        "district_id": "lea-1",
        "micro_credential_id": mc,
        "micro_credential_version": 1,
        "purpose": "curated_pd",
        "attempt_cap": 3,
        "completion_window_days": 90,
        "cooldown_days": 30,
        "attempts_used": 0,
        "enrolled_at": NOW,
        "deadline_at": NOW + timedelta(days=90),
    }
    async with svc.runtime.engine.begin() as conn:
        await conn.execute(
            enrollments.insert().values(enrollment_id=f"{ed}-1", status="withdrawn", **row)
        )
        await conn.execute(
            enrollments.insert().values(enrollment_id=f"{ed}-2", status="enrolled", **row)
        )
    with pytest.raises(IntegrityError):
        async with svc.runtime.engine.begin() as conn:
            await conn.execute(
                enrollments.insert().values(enrollment_id=f"{ed}-3", status="under_review", **row)
            )
