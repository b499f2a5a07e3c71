"""Roster import over HTTP on a real database: idempotent, per-row errors, events for real
changes only (read from the service's outbox), district scoping."""

from __future__ import annotations

import csv
import io
import json
import uuid

import sqlalchemy as sa

from mc_events.storage import outbox
from mc_platform.auth import Role

HEADER = [
    "educator_id",
    "first_name",
    "last_name",
    "email",
    "district_id",
    "school_id",
    "role",
    "supervisor_id",
    "license_number",
    "license_type",
    "license_expires_on",
]


def csv_file(rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, HEADER)
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return out.getvalue().encode()


def person(educator_id: str, district: str, **overrides: str) -> dict[str, str]:
    row = {
        "educator_id": educator_id,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": f"{educator_id}@district.example",
        "district_id": district,
        "school_id": "sch-1",
        "role": "teacher",
        "supervisor_id": "",
        "license_number": "L-1",
        "license_type": "professional",
        "license_expires_on": "2029-06-30",
    }
    row.update(overrides)
    return row


async def events_for(svc, educator_ids: list[str]) -> list[tuple[str, str, dict]]:
    async with svc.runtime.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(outbox.c.event_type, outbox.c.partition_key, outbox.c.payload)
            .where(outbox.c.partition_key.in_(educator_ids))
            .order_by(outbox.c.id)
        )
        return [(t.rsplit(".v", 1)[0], k, json.loads(p)) for t, k, p in rows.all()]


async def upload(svc, data: bytes, headers, name: str = "staff.csv", ctype: str = "text/csv"):
    return await svc.client.post(
        "/roster/imports", files={"file": (name, data, ctype)}, headers=headers
    )


def ids(n: int) -> list[str]:
    prefix = uuid.uuid4().hex[:8]
    return [f"ed-{prefix}-{i}" for i in range(n)]


async def test_import_registers_new_educators_with_one_event_each(svc):
    a, b = ids(2)
    admin = svc.auth("hr", Role.STATE_ADMIN)
    r = await upload(
        svc, csv_file([person(a, "lea-1"), person(b, "lea-1", supervisor_id=a)]), admin
    )
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["rows"], report["registered"], report["events"]) == (2, 2, 2)
    assert report["errors"] == []
    events = await events_for(svc, [a, b])
    assert [(t, k) for t, k, _ in events] == [
        ("enrollment.educator_registered", a),
        ("enrollment.educator_registered", b),
    ]
    assert events[1][2]["supervisor_id"] == a
    assert events[0][2]["license"] == {
        "number": "L-1",
        "license_type": "professional",
        "expires_on": "2029-06-30",
    }
    got = await svc.client.get(f"/roster/educators/{b}", headers=admin)
    assert got.json()["supervisor_id"] == a
    metrics = (await svc.client.get("/metrics")).text
    assert 'enrollment_roster_changes_total{change="registered"} 2.0' in metrics


async def test_reimporting_the_same_file_changes_nothing_and_emits_nothing(svc):
    a, b = ids(2)
    admin = svc.auth("hr", Role.STATE_ADMIN)
    data = csv_file([person(a, "lea-1"), person(b, "lea-2")])
    assert (await upload(svc, data, admin)).status_code == 200
    again = (await upload(svc, data, admin)).json()
    assert (again["registered"], again["updated"], again["moved"]) == (0, 0, 0)
    assert (again["unchanged"], again["events"]) == (2, 0)
    assert len(await events_for(svc, [a, b])) == 2


async def test_bad_rows_are_reported_by_row_and_field_while_good_rows_go_in(svc):
    good, no_email, bad_role = ids(3)
    admin = svc.auth("hr", Role.STATE_ADMIN)
    staff = [
        # Ed-Fi names are accepted as aliases of ours.
        {
            "staffUniqueId": good,
            "firstName": "Grace",
            "lastSurname": "Hopper",
            "electronicMailAddress": "g@x.example",
            "localEducationAgencyId": "lea-1",
            "staffClassification": "Instructional Coach",
        },
        {
            "staffUniqueId": no_email,
            "firstName": "No",
            "lastSurname": "Mail",
            "localEducationAgencyId": "lea-1",
            "staffClassification": "teacher",
        },
        {
            "staffUniqueId": bad_role,
            "firstName": "Bad",
            "lastSurname": "Role",
            "electronicMailAddress": "b@x.example",
            "localEducationAgencyId": "lea-1",
            "staffClassification": "wizard",
            "expirationDate": "someday",
            "credentialIdentifier": "L-9",
        },
        {
            "staffUniqueId": good,
            "firstName": "Twice",
            "lastSurname": "Hopper",
            "electronicMailAddress": "g@x.example",
            "localEducationAgencyId": "lea-1",
            "staffClassification": "teacher",
        },
    ]
    r = await upload(
        svc, json.dumps({"staff": staff}).encode(), admin, "staff.json", "application/json"
    )
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["rows"], report["accepted"], report["registered"]) == (4, 1, 1)
    assert [(e["row"], e["field"]) for e in report["errors"]] == [
        (2, "email"),
        (3, "license_expires_on"),
        (3, "license_type"),
        (3, "role"),
        (4, "educator_id"),
    ]
    assert [k for _, k, _ in await events_for(svc, [good, no_email, bad_role])] == [good]
    got = (await svc.client.get(f"/roster/educators/{good}", headers=admin)).json()
    assert (got["first_name"], got["role"]) == ("Grace", "instructional_coach")


async def test_a_district_change_emits_moved_district_and_other_changes_an_update(svc):
    mover, renamed, both = ids(3)
    admin = svc.auth("hr", Role.STATE_ADMIN)
    rows = [person(mover, "lea-1"), person(renamed, "lea-1"), person(both, "lea-1")]
    await upload(svc, csv_file(rows), admin)
    changed = [
        person(mover, "lea-2", school_id="sch-9"),
        person(renamed, "lea-1", last_name="Byron"),
        person(both, "lea-3", role="counselor"),
    ]
    report = (await upload(svc, csv_file(changed), admin)).json()
    assert (report["moved"], report["updated"], report["events"]) == (2, 1, 4)
    events = [(t, k, p) for t, k, p in await events_for(svc, [mover, renamed, both])][3:]
    assert [(t, k) for t, k, _ in events] == [
        ("enrollment.educator_moved_district", mover),
        ("enrollment.educator_updated", renamed),
        ("enrollment.educator_moved_district", both),
        ("enrollment.educator_updated", both),
    ]
    move = events[0][2]
    assert (move["from_district_id"], move["to_district_id"]) == ("lea-1", "lea-2")
    assert (move["from_school_id"], move["to_school_id"]) == ("sch-1", "sch-9")
    assert events[3][2]["role"] == "counselor"
    assert events[3][2]["district_id"] == "lea-3"


async def test_a_district_admin_cannot_import_rows_of_another_district(svc):
    mine, theirs, poached = ids(3)
    state = svc.auth("sea", Role.STATE_ADMIN)
    await upload(svc, csv_file([person(poached, "lea-other")]), state)
    district = svc.auth("hr-1", Role.DISTRICT_ADMIN, district_id="lea-mine")
    rows = [person(mine, "lea-mine"), person(theirs, "lea-other"), person(poached, "lea-mine")]
    report = (await upload(svc, csv_file(rows), district)).json()
    assert (report["accepted"], report["registered"], report["moved"]) == (1, 1, 0)
    assert [(e["row"], e["field"]) for e in report["errors"]] == [
        (2, "district_id"),
        (3, "educator_id"),
    ]
    assert [k for _, k, _ in await events_for(svc, [mine, theirs, poached])] == [poached, mine]
    other = await svc.client.get(f"/roster/educators/{poached}", headers=district)
    assert other.status_code == 404


async def test_an_unreadable_file_is_refused_whole_and_changes_nothing(svc):
    admin = svc.auth("hr", Role.STATE_ADMIN)
    r = await upload(svc, b"not,a,roster\n1,2,3\n", admin)
    assert r.status_code == 422
    r = await upload(svc, b"{broken", admin, "staff.json", "application/json")
    assert r.status_code == 422
    r = await upload(svc, b"staff", admin, "staff.xlsx", "application/vnd.ms-excel")
    assert r.status_code == 422


async def test_a_file_with_no_rows_imports_nothing(svc):
    admin = svc.auth("hr", Role.STATE_ADMIN)
    r = await upload(svc, csv_file([]), admin)
    assert (r.status_code, r.json()["rows"], r.json()["events"]) == (200, 0, 0)
    r = await upload(svc, b"[]", admin, "staff.json", "application/json")
    assert (r.status_code, r.json()["rows"]) == (200, 0)


async def test_only_admins_may_import(svc):
    data = csv_file([person(ids(1)[0], "lea-1")])
    assert (await upload(svc, data, {})).status_code == 401
    educator = svc.auth("e", Role.EDUCATOR, educator_id="x")
    assert (await upload(svc, data, educator)).status_code == 403
    no_district = svc.auth("hr", Role.DISTRICT_ADMIN)
    assert (await upload(svc, data, no_district)).status_code == 403
