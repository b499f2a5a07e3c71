"""Suspension and reinstatement through the running service: a suspended credential's unexported
stipends are held out of payroll batches (nothing is clawed back), a reinstatement releases
them, a revocation while suspended reverses once and ends the hold; redelivered, duplicated and
stale status events change nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

from compensation_helpers import (
    add_teachers,
    awarded,
    clock,
    credential,
    ledger,
    reinstated,
    revoked,
    rows,
    setup_florida,
    suspended,
    teacher,
    transaction,
    wait_for,
    wait_for_educator,
    wait_for_entries,
)

from compensation.domain.credentials import CredentialRef
from compensation.service_layer import holds
from compensation.service_layer.stipends import apply_award, reverse_award
from mc_devstack.testing import RunningService, unique_name
from mc_events.contracts.compensation import StipendReversalReason
from mc_platform.auth import Role

SUSPENDED_AT = datetime(2025, 10, 20, tzinfo=UTC)
REINSTATED_AT = datetime(2025, 11, 20, tzinfo=UTC)
REVOKED_AT = datetime(2025, 11, 10, tzinfo=UTC)


async def compose(svc: RunningService, district_id: str, period: str) -> dict:
    """Compose the batch of a pay period ending tomorrow (entries are recorded now)."""
    today = date.today()
    r = await svc.client.post(
        f"/districts/{district_id}/payroll-batches",
        json={
            "pay_period_id": period,
            "pay_period_start": (today - timedelta(days=13)).isoformat(),
            "pay_period_end": (today + timedelta(days=1)).isoformat(),
        },
        headers=svc.auth("adp", Role.PAYROLL_SYSTEM, district_id=district_id),
    )
    assert r.status_code == 201, r.text
    batch: dict = r.json()
    return batch


async def batch_entry_ids(svc: RunningService, batch_id: str) -> list[str]:
    found = await rows(
        svc, "SELECT entry_id FROM payroll_items WHERE batch_id = :b ORDER BY line_no", b=batch_id
    )
    return [row.entry_id for row in found]


async def held(svc: RunningService, district_id: str) -> list[dict]:
    r = await svc.client.get(
        f"/districts/{district_id}/payments/2026",
        params={"status": "held"},
        headers=svc.auth("admin", Role.DISTRICT_ADMIN, district_id=district_id),
    )
    assert r.status_code == 200, r.text
    found: list[dict] = r.json()
    return found


async def status_is(svc: RunningService, credential_id: str, status: str) -> None:
    await wait_for(
        svc,
        "SELECT count(*) FROM credential_status WHERE credential_id = :c AND status = :s",
        1,
        c=credential_id,
        s=status,
    )


async def test_suspension_holds_unexported_stipends_and_reinstatement_releases_them(svc, producer):
    fl = await setup_florida(svc, budget_cents=10_000_000)
    educator = unique_name("edu")
    await producer.send(teacher(educator, fl.district_id))
    await wait_for_educator(svc, educator)
    award, other = awarded(educator, fl.district_id), awarded(educator, fl.district_id)
    await producer.send(award)
    await producer.send(other)
    held_entry, other_entry = await wait_for_entries(svc, educator, 2)

    suspension = suspended(award, SUSPENDED_AT)
    suspension_id = await producer.send(suspension)
    await producer.send(suspension, event_id=suspension_id)  # redelivered
    await producer.send(suspension)  # duplicated upstream
    await status_is(svc, award.credential_id, "suspended")

    assert [p["id"] for p in await held(svc, fl.district_id)] == [held_entry.entry_id]
    me = svc.auth(educator, Role.EDUCATOR, educator_id=educator)
    stipends = (await svc.client.get(f"/educators/{educator}/stipends", headers=me)).json()
    assert stipends["held_cents"] == 100_000
    assert [e["held"] for e in stipends["entries"]] == [True, False]
    assert stipends["balance_cents"] == 200_000  # held, not clawed back
    r = await svc.client.get(
        f"/districts/{fl.district_id}/reports/2026",
        headers=svc.auth("admin", Role.DISTRICT_ADMIN, district_id=fl.district_id),
    )
    (source,) = r.json()["funding_sources"]
    assert (source["held_cents"], source["held_count"]) == (100_000, 1)
    assert r.json()["held_cents"] == 100_000

    first = await compose(svc, fl.district_id, unique_name("PP"))
    assert await batch_entry_ids(svc, first["batch_id"]) == [other_entry.entry_id]

    reinstatement = reinstated(award, REINSTATED_AT)
    reinstatement_id = await producer.send(reinstatement)
    await producer.send(reinstatement, event_id=reinstatement_id)
    await producer.send(suspension)  # a stale suspension after the reinstatement: ignored
    marker = awarded(educator, fl.district_id)
    await producer.send(marker)  # same key: processed after the three above
    await wait_for_entries(svc, educator, 3)
    await asyncio.sleep(0.3)

    (status,) = await rows(
        svc, "SELECT status FROM credential_status WHERE credential_id = :c", c=award.credential_id
    )
    assert status.status == "reinstated"
    history = await rows(
        svc,
        "SELECT status FROM credential_status_history WHERE credential_id = :c ORDER BY seq",
        c=award.credential_id,
    )
    assert [h.status for h in history] == ["suspended", "reinstated"]
    assert await held(svc, fl.district_id) == []
    second = await compose(svc, fl.district_id, unique_name("PP"))
    assert held_entry.entry_id in await batch_entry_ids(svc, second["batch_id"])
    # Nothing was clawed back or paid twice: three approvals, no reversal.
    assert [e.kind for e in await ledger(svc, educator)] == ["approval"] * 3


async def test_suspension_claws_nothing_back_and_revocation_while_suspended_reverses_once(
    svc, producer
):
    fl = await setup_florida(svc, budget_cents=10_000_000)
    educator = unique_name("edu")
    await producer.send(teacher(educator, fl.district_id))
    await wait_for_educator(svc, educator)
    paid_award = awarded(educator, fl.district_id)
    await producer.send(paid_award)
    (paid,) = await wait_for_entries(svc, educator, 1)
    batch = await compose(svc, fl.district_id, unique_name("PP"))
    r = await svc.client.post(
        f"/payroll-batches/{batch['batch_id']}/acknowledgement",
        json={"idempotency_key": batch["idempotency_key"], "status": "accepted"},
        headers=svc.auth("adp", Role.PAYROLL_SYSTEM, district_id=fl.district_id),
    )
    assert r.status_code == 200, r.text
    unexported_award = awarded(educator, fl.district_id)
    await producer.send(unexported_award)
    _, unexported = await wait_for_entries(svc, educator, 2)

    for award in (paid_award, unexported_award):
        await producer.send(suspended(award, SUSPENDED_AT))
        await status_is(svc, award.credential_id, "suspended")
    # A suspension claws nothing back; only the unexported approval is held.
    assert [e.kind for e in await ledger(svc, educator)] == ["approval", "approval"]
    assert [p["id"] for p in await held(svc, fl.district_id)] == [unexported.entry_id]

    for award in (paid_award, unexported_award):
        revocation = revoked(award)
        event_id = await producer.send(revocation)
        await producer.send(revocation, event_id=event_id)
        await producer.send(revocation)
    # A reinstatement after the revocation cannot bring the credential back.
    await producer.send(reinstated(paid_award, REINSTATED_AT))
    await wait_for_entries(svc, educator, 4)
    marker = awarded(educator, fl.district_id)
    await producer.send(marker)
    await wait_for_entries(svc, educator, 5)
    await asyncio.sleep(0.3)

    entries = await ledger(svc, educator)
    reversals = {e.reverses_entry_id: e for e in entries if e.kind == "reversal"}
    assert set(reversals) == {paid.entry_id, unexported.entry_id}  # once each
    statuses = await rows(
        svc,
        "SELECT status FROM credential_status WHERE credential_id = ANY(:c)",
        c=[paid_award.credential_id, unexported_award.credential_id],
    )
    assert [s.status for s in statuses] == ["revoked", "revoked"]
    assert await held(svc, fl.district_id) == []

    # The next batch claws back the paid stipend and carries the never-paid approval with its
    # reversal (net zero for it): over both batches the revoked credentials cost nothing.
    second = await compose(svc, fl.district_id, unique_name("PP"))
    carried = set(await batch_entry_ids(svc, second["batch_id"]))
    assert carried >= {
        reversals[paid.entry_id].entry_id,
        unexported.entry_id,
        reversals[unexported.entry_id].entry_id,
    }
    assert paid.entry_id not in carried
    assert batch["total_cents"] + second["total_cents"] == 100_000  # only the marker's stipend


async def test_status_events_racing_a_revocation_reverse_once_and_leave_nothing_held(svc):
    fl = await setup_florida(svc, budget_cents=10_000_000)
    educators = await add_teachers(svc, fl.district_id, 4)
    awards = [credential(e, fl.district_id) for e in educators]
    async with transaction(svc) as uow:
        for award in awards:
            await apply_award(uow, award, clock)
    refs = [CredentialRef(a.source_id, a.educator_id, a.district_id) for a in awards]
    start = asyncio.Event()

    async def run(job, ref: CredentialRef) -> None:
        await start.wait()
        async with transaction(svc) as uow:
            await job(uow, ref)

    async def suspend(uow, ref):
        await holds.suspend(uow, ref, at=SUSPENDED_AT, reason="", clock=clock)

    async def reinstate(uow, ref):
        await holds.reinstate(uow, ref, at=REINSTATED_AT, reason="", clock=clock)

    async def revoke(uow, ref):
        await holds.mark_revoked(uow, ref, at=REVOKED_AT, reason="plagiarism", clock=clock)
        await reverse_award(uow, ref.award_key, StipendReversalReason.CREDENTIAL_REVOKED, clock)

    jobs = [suspend, reinstate, revoke, revoke, suspend]
    tasks = [asyncio.create_task(run(job, ref)) for ref in refs for job in jobs]
    await asyncio.sleep(0.05)
    start.set()
    await asyncio.gather(*tasks)

    for ref in refs:
        entries = await ledger(svc, ref.educator_id)
        assert [e.kind for e in entries] == ["approval", "reversal"]
        assert sum(e.amount_cents for e in entries) == 0
        (status,) = await rows(
            svc,
            "SELECT status FROM credential_status WHERE credential_id = :c",
            c=ref.credential_id,
        )
        assert status.status == "revoked"
    assert await held(svc, fl.district_id) == []
