"""The assessor roster API: state admins manage it, assessors read only their own record, bad
input gets a clear 4xx and changes nothing."""

from __future__ import annotations

from review_support import admin, review_service

from mc_platform.auth import Role

RECORD = {
    "educator_id": "edu-77",
    "district_id": "lea-3",
    "school_id": "sch-9",
    "supervises": ["edu-2", "edu-1"],
    "qualifications": [
        {"kind": "micro_credential", "id": "mc-wait-time"},
        {"kind": "competency", "id": "Uses wait time after questioning"},
    ],
    "calibration_status": "calibrated",
    "weekly_capacity": 12,
}


async def test_state_admin_creates_replaces_and_lists_assessors(infra):
    async with review_service(infra) as svc:
        created = await svc.client.put("/assessors/as-1", json=RECORD, headers=admin(svc))
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["assessor_id"] == "as-1"
        assert body["supervises"] == ["edu-1", "edu-2"]
        assert body["weekly_capacity"] == 12
        assert body["active"] is True

        replaced = await svc.client.put(
            "/assessors/as-1",
            json={**RECORD, "calibration_status": "needs_recalibration", "weekly_capacity": 3},
            headers=admin(svc),
        )
        assert replaced.status_code == 200
        assert replaced.json()["calibration_status"] == "needs_recalibration"
        assert replaced.json()["created_at"] == body["created_at"]

        listed = await svc.client.get("/assessors", headers=admin(svc))
        assert [a["assessor_id"] for a in listed.json()] == ["as-1"]
        assert listed.json()[0]["weekly_capacity"] == 3


async def test_an_assessor_sees_only_their_own_record(infra):
    async with review_service(infra) as svc:
        for name in ("as-1", "as-2"):
            await svc.client.put(f"/assessors/{name}", json=RECORD, headers=admin(svc))
        me = svc.auth("u1", Role.ASSESSOR, assessor_id="as-1")
        assert (await svc.client.get("/assessors/as-1", headers=me)).status_code == 200
        assert (await svc.client.get("/assessors/as-2", headers=me)).status_code == 404
        assert (await svc.client.get("/assessors", headers=me)).status_code == 403
        assert (await svc.client.put("/assessors/as-1", json=RECORD, headers=me)).status_code == 403


BAD_CHANGES = [
    {"weekly_capacity": -1},
    {"weekly_capacity": "many"},
    {"district_id": ""},
    {"calibration_status": "great"},
    {"qualifications": [{"kind": "vibes", "id": "x"}]},
    {"unexpected": True},
]


async def test_bad_assessor_records_are_refused_and_change_nothing(infra):
    async with review_service(infra) as svc:
        for change in BAD_CHANGES:
            r = await svc.client.put(
                "/assessors/as-1", json={**RECORD, **change}, headers=admin(svc)
            )
            assert r.status_code == 422, (change, r.text)
        assert (await svc.client.get("/assessors/as-1", headers=admin(svc))).status_code == 404


async def test_the_roster_needs_a_state_admin_token(infra):
    async with review_service(infra) as svc:
        assert (await svc.client.put("/assessors/as-1", json=RECORD)).status_code == 401
        for role in (Role.EDUCATOR, Role.DISTRICT_ADMIN, Role.APPROVER):
            headers = svc.auth("x", role, educator_id="x", district_id="lea-3")
            r = await svc.client.put("/assessors/as-1", json=RECORD, headers=headers)
            assert r.status_code == 403
        assert (await svc.client.get("/reviews/whatever", headers=admin(svc))).status_code == 404
        educator = svc.auth("e", Role.EDUCATOR, educator_id="e")
        assert (await svc.client.get("/reviews/whatever", headers=educator)).status_code == 403


async def test_the_roster_is_paged_by_assessor_id_without_overlap_or_gaps(infra):
    async with review_service(infra) as svc:
        names = [f"as-{n:02d}" for n in (7, 3, 11, 1, 5)]  # created out of order
        for name in names:
            r = await svc.client.put(f"/assessors/{name}", json=RECORD, headers=admin(svc))
            assert r.status_code == 201, r.text

        async def ids(**params) -> list[str]:
            r = await svc.client.get("/assessors", params=params, headers=admin(svc))
            assert r.status_code == 200, r.text
            return [a["assessor_id"] for a in r.json()]

        assert await ids() == sorted(names)
        pages = [await ids(page=n, page_size=2) for n in (1, 2, 3, 4)]
        assert pages == [["as-01", "as-03"], ["as-05", "as-07"], ["as-11"], []]
        assert await ids(page=2, page_size=2) == pages[1]  # stable across requests
        assert await ids(page_size=100) == sorted(names)
        for params in ({"page_size": 101}, {"page_size": 0}, {"page": 10_001}, {"page": 0}):
            r = await svc.client.get("/assessors", params=params, headers=admin(svc))
            assert r.status_code == 422, (params, r.text)
