"""Payroll through the API: one batch per district and pay period, CSV and JSON exports that
are byte-identical on every download with a SHA-256 checksum, an acknowledgement that marks
entries paid (rejected ones go into the next batch), and the district's reports."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from compensation_helpers import (
    add_teachers,
    clock,
    credential,
    outbox_events,
    setup_florida,
    transaction,
)

from compensation.domain import ids
from compensation.domain.credentials import CredentialRef
from compensation.service_layer import holds
from compensation.service_layer.stipends import apply_award, reverse_award
from mc_events.contracts.compensation import (
    PayrollBatchAcknowledged,
    PayrollBatchExported,
    StipendReversalReason,
)
from mc_platform.auth import Role

PERIOD = {"pay_period_start": "2025-10-01", "pay_period_end": "2025-10-15"}


async def paid_and_clawed_back(svc, fl):
    """Three $1,000 stipends, one of them revoked: four ledger entries, $2,000 net."""
    educators = await add_teachers(svc, fl.district_id, 3)
    awards = [credential(e, fl.district_id) for e in educators]
    async with transaction(svc) as uow:
        for award in awards:
            await apply_award(uow, award, clock)
        await reverse_award(
            uow, awards[0].award_key, StipendReversalReason.CREDENTIAL_REVOKED, clock
        )
    return educators


async def test_payroll_batch_exports_are_stable_and_acknowledgements_mark_entries_paid(svc):
    fl = await setup_florida(svc, budget_cents=250_000)  # two paid, one deferred
    educators = await paid_and_clawed_back(svc, fl)
    payroll = svc.auth("adp", Role.PAYROLL_SYSTEM, district_id=fl.district_id)
    body = {"pay_period_id": "2026-PP07", **PERIOD}

    r = await svc.client.post(
        f"/districts/{fl.district_id}/payroll-batches", json=body, headers=payroll
    )
    assert r.status_code == 201, r.text
    batch = r.json()
    assert (batch["entry_count"], batch["total_cents"]) == (3, 100_000)
    again = await svc.client.post(
        f"/districts/{fl.district_id}/payroll-batches", json=body, headers=payroll
    )
    assert again.status_code == 200
    assert again.json() == batch

    url = f"/payroll-batches/{batch['batch_id']}"
    csv1 = await svc.client.get(f"{url}/export.csv", headers=payroll)
    csv2 = await svc.client.get(f"{url}/export.csv", headers=payroll)
    assert csv1.status_code == 200
    assert csv1.content == csv2.content
    assert hashlib.sha256(csv1.content).hexdigest() == batch["checksum_sha256"]
    assert csv1.headers["x-checksum-sha256"] == batch["checksum_sha256"]
    json1 = await svc.client.get(f"{url}/export.json", headers=payroll)
    json2 = await svc.client.get(f"{url}/export.json", headers=payroll)
    assert json1.content == json2.content
    document = json.loads(json1.content)
    assert document["csv_sha256"] == batch["checksum_sha256"]
    assert document["total_cents"] == 100_000
    assert sorted(e["amount_cents"] for e in document["entries"]) == [-100_000, 100_000, 100_000]
    (exported,) = await outbox_events(svc, PayrollBatchExported.ce_type(), fl.district_id)
    assert exported.event_id == ids.event_id(PayrollBatchExported.event_type, batch["batch_id"])

    # Another district's payroll system and a district admin cannot settle it.
    stranger = svc.auth("x", Role.PAYROLL_SYSTEM, district_id="elsewhere")
    assert (await svc.client.get(f"{url}/export.csv", headers=stranger)).status_code == 403
    rejected = document["entries"][1]["idempotency_key"]
    ack = {
        "idempotency_key": batch["idempotency_key"],
        "status": "partially_accepted",
        "rejected_entry_ids": [rejected],
        "payroll_reference": "ADP-991",
    }
    admin = svc.auth("admin", Role.DISTRICT_ADMIN, district_id=fl.district_id)
    r = await svc.client.post(f"{url}/acknowledgement", json=ack, headers=admin)
    assert r.status_code == 403
    r = await svc.client.post(
        f"{url}/acknowledgement", json={**ack, "rejected_entry_ids": ["nope"]}, headers=payroll
    )
    assert r.status_code == 422
    r = await svc.client.post(f"{url}/acknowledgement", json=ack, headers=payroll)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "partially_accepted"
    assert (await svc.client.post(f"{url}/acknowledgement", json=ack, headers=payroll)).json() == (
        r.json()
    )
    r = await svc.client.post(
        f"{url}/acknowledgement",
        json={**ack, "status": "accepted", "rejected_entry_ids": []},
        headers=payroll,
    )
    assert r.status_code == 409
    assert len(await outbox_events(svc, PayrollBatchAcknowledged.ce_type(), fl.district_id)) == 1
    # Acknowledging does not change the export.
    assert (await svc.client.get(f"{url}/export.csv", headers=payroll)).content == csv1.content

    # The rejected entry goes into the next pay period's batch, and only it.
    r = await svc.client.post(
        f"/districts/{fl.district_id}/payroll-batches",
        json={
            "pay_period_id": "2026-PP08",
            "pay_period_start": "2025-10-16",
            "pay_period_end": "2025-10-31",
        },
        headers=payroll,
    )
    assert r.status_code == 201
    following = json.loads(
        (
            await svc.client.get(
                f"/payroll-batches/{r.json()['batch_id']}/export.json", headers=payroll
            )
        ).content
    )
    assert [e["idempotency_key"] for e in following["entries"]] == [rejected]

    report = await svc.client.get(f"/districts/{fl.district_id}/reports/2026", headers=admin)
    assert report.status_code == 200, report.text
    (source,) = report.json()["funding_sources"]
    assert source["allocated_cents"] == 250_000
    assert source["committed_cents"] == 100_000
    assert (source["approved_cents"], source["reversed_cents"]) == (200_000, -100_000)
    assert source["net_cents"] == 100_000
    assert source["deferred_cents"] == 100_000
    assert source["deferred_count"] == 1
    rejected_cents = next(e for e in document["entries"] if e["idempotency_key"] == rejected)
    assert source["pending_cents"] == rejected_cents["amount_cents"]
    assert source["paid_cents"] + source["pending_cents"] == source["net_cents"]

    pending = await svc.client.get(f"/districts/{fl.district_id}/payments/2026", headers=payroll)
    assert [p["id"] for p in pending.json()] == [rejected]
    deferred = await svc.client.get(
        f"/districts/{fl.district_id}/payments/2026",
        params={"status": "deferred"},
        headers=admin,
    )
    assert [p["educator_id"] for p in deferred.json()] == [educators[2]]
    other = svc.auth("o", Role.DISTRICT_ADMIN, district_id="elsewhere")
    assert (
        await svc.client.get(f"/districts/{fl.district_id}/reports/2026", headers=other)
    ).status_code == 403


async def test_payments_are_paged_in_recorded_order_without_overlap_or_gaps(svc):
    fl = await setup_florida(svc, budget_cents=400_000)  # four paid, three deferred
    educators = await add_teachers(svc, fl.district_id, 7)
    awards = [credential(e, fl.district_id) for e in educators]
    async with transaction(svc) as uow:
        for award in awards:
            await apply_award(uow, award, clock)
    async with transaction(svc) as uow:
        for award in awards[:3]:  # the first three are funded: their entries are held
            ref = CredentialRef(award.source_id, award.educator_id, award.district_id)
            await holds.suspend(
                uow, ref, at=datetime(2025, 10, 20, tzinfo=UTC), reason="", clock=clock
            )
    admin = svc.auth("admin", Role.DISTRICT_ADMIN, district_id=fl.district_id)
    url = f"/districts/{fl.district_id}/payments/2026"

    async def page_ids(**params) -> list[str]:
        r = await svc.client.get(url, params=params, headers=admin)
        assert r.status_code == 200, r.text
        return [p["id"] for p in r.json()]

    for status, expected in (("pending", 4), ("deferred", 3), ("held", 3)):
        everything = await page_ids(status=status, page_size=100)
        assert len(everything) == len(set(everything)) == expected, status
        assert await page_ids(status=status) == everything  # the default page holds 20
        paged = [await page_ids(status=status, page=n, page_size=2) for n in (1, 2, 3)]
        assert [len(p) for p in paged] == [2, expected - 2, 0], status
        assert paged[0] + paged[1] == everything, status
        assert await page_ids(status=status, page=2, page_size=2) == paged[1]  # stable
    for params in ({"page_size": 101}, {"page_size": 0}, {"page": 10_001}, {"page": 0}):
        r = await svc.client.get(url, params=params, headers=admin)
        assert r.status_code == 422, (params, r.text)
