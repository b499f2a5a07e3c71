"""The HTTP change feed of a district's awards: ``GET /districts/{id}/awards/changes?since=``,
on a real registry database. Awards are written the way the registry writes them: an event
added to the outbox inside the award's transaction."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from mc_devstack.testing import RunningService, running_service, unique_name
from mc_events.contracts.common import Credits, CreditUnit, CriterionResult, Purpose
from mc_events.contracts.registry import CredentialAwarded
from mc_events.db import execute_core
from mc_events.outbox import add_event
from mc_events.storage import outbox
from mc_platform.auth import Role
from registry.bootstrap import build
from registry.config import Settings
from registry.entrypoints.api.district_feed import MAX_LIMIT

AT = datetime(2026, 3, 1, 12, tzinfo=UTC)


def awarded(educator_id: str, district_id: str) -> CredentialAwarded:
    n = unique_name("c")
    return CredentialAwarded(
        credential_id=n,
        educator_id=educator_id,
        district_id=district_id,
        micro_credential_id="mc-wait",
        micro_credential_version=1,
        enrollment_id=f"enr-{n}",
        decision_id=f"dec-{n}",
        issuer_id="iss-1",
        achievement_name="Wait Time",
        purpose=Purpose.LICENSE_RENEWAL,
        credits=Credits(value=Decimal("15"), unit=CreditUnit.PD_HOURS),
        awarded_at=AT,
        credential_url="https://creds.example/credentials/x",
        results=(CriterionResult(criterion_id="c1", achieved_level_id="l2", met=True),),
    )


@pytest.fixture(scope="module")
async def svc(infra: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    async with running_service(
        build,
        Settings,
        infra,
        relay=False,
        consumers=False,
        district_fanout=False,
    ) as running:
        yield running


async def award(svc: RunningService, educator_id: str, district_id: str) -> str:
    async with svc.runtime.sessions() as session, session.begin():
        return await add_event(session, awarded(educator_id, district_id))


def admin_of(svc: RunningService, district_id: str) -> dict[str, str]:
    return svc.auth(unique_name("da"), Role.DISTRICT_ADMIN, district_id=district_id)


async def page(
    svc: RunningService, district_id: str, since: str | None = None, limit: int = 100
) -> dict[str, Any]:
    params: dict[str, Any] = {"limit": limit}
    if since is not None:
        params["since"] = since
    response = await svc.client.get(
        f"/districts/{district_id}/awards/changes",
        params=params,
        headers=admin_of(svc, district_id),
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_pages_follow_the_cursor_in_commit_order_without_gaps_or_repeats(
    svc: RunningService,
) -> None:
    lea, other = unique_name("lea"), unique_name("lea")
    committed = []
    for n in range(7):
        committed.append(await award(svc, f"TX-{n % 3}", lea))
        await award(svc, "TX-9", other)

    first = await page(svc, lea, limit=3)
    second = await page(svc, lea, since=first["next"], limit=3)
    third = await page(svc, lea, since=second["next"], limit=3)
    assert [len(p["changes"]) for p in (first, second, third)] == [3, 3, 1]
    assert [p["has_more"] for p in (first, second, third)] == [True, True, False]
    read = [c["id"] for p in (first, second, third) for c in p["changes"]]
    assert read == committed  # only this district's, in commit order, once each

    change = first["changes"][0]
    assert change["type"] == "registry.credential_awarded.v1"
    assert change["specversion"] == "1.0"
    assert change["source"] == "/mc/registry"
    assert change["data"]["district_id"] == lea
    assert change["partitionkey"] == "TX-0"
    # Each change's own cursor resumes right after it; the page's next is its last one's.
    resumed = await page(svc, lea, since=first["changes"][1]["cursor"], limit=2)
    assert [c["id"] for c in resumed["changes"]] == committed[2:4]
    assert first["next"] == first["changes"][-1]["cursor"]

    # Caught up: an empty page keeps the cursor; a later award comes after it.
    idle = await page(svc, lea, since=third["next"])
    assert (idle["changes"], idle["next"], idle["has_more"]) == ([], third["next"], False)
    later = await award(svc, "TX-1", lea)
    assert [c["id"] for c in (await page(svc, lea, since=idle["next"]))["changes"]] == [later]


async def test_a_slow_award_transaction_is_not_skipped_by_a_reader_that_moved_on(
    svc: RunningService,
) -> None:
    lea = unique_name("lea")
    async with svc.runtime.sessions() as slow, slow.begin():
        # The slow award takes its outbox row (a lower id) first and commits last.
        slow_id = await add_event(slow, awarded("TX-slow", lea))
        fast_id = await award(svc, "TX-fast", lea)
        seen = await page(svc, lea)
        assert [c["id"] for c in seen["changes"]] == [fast_id]
    after = await page(svc, lea, since=seen["next"])
    assert [c["id"] for c in after["changes"]] == [slow_id]


async def test_a_rolled_back_award_never_appears(svc: RunningService) -> None:
    lea = unique_name("lea")
    async with svc.runtime.sessions() as session, session.begin():
        await add_event(session, awarded("TX-1", lea))
        await session.rollback()
    kept = await award(svc, "TX-1", lea)
    assert [c["id"] for c in (await page(svc, lea))["changes"]] == [kept]


async def test_no_change_is_lost_or_repeated_under_concurrent_awards(svc: RunningService) -> None:
    lea = unique_name("lea")
    educators = [unique_name("TX") for _ in range(4)]
    rng = random.Random(7)
    committed: list[str] = []
    writers_done = asyncio.Event()

    async def writer(educator_id: str, rollback: bool) -> None:
        await asyncio.sleep(rng.random() * 0.3)
        async with svc.runtime.sessions() as session:
            async with session.begin():
                event_id = await add_event(session, awarded(educator_id, lea))
                await asyncio.sleep(rng.random() * 0.3)  # hold the transaction open
                if rollback:
                    await session.rollback()
                    return
            committed.append(event_id)

    read: list[str] = []

    async def reader() -> None:
        cursor: str | None = None
        while True:
            done = writers_done.is_set()
            body = await page(svc, lea, since=cursor, limit=2)
            read.extend(c["id"] for c in body["changes"])
            cursor = body["next"]
            if done and not body["has_more"] and not body["changes"]:
                return
            await asyncio.sleep(0.01)

    reading = asyncio.create_task(reader())
    await asyncio.gather(
        *(writer(educators[n % 4], rollback=n % 7 == 3) for n in range(28)),
    )
    writers_done.set()
    await asyncio.wait_for(reading, 60)

    assert len(committed) == 24
    assert sorted(read) == sorted(committed)  # none lost, none repeated, no rolled-back one
    # Each educator's awards appear in the order the outbox numbered them (commit order).
    async with svc.runtime.sessions() as session:
        rows = (
            await execute_core(
                session,
                sa.select(outbox.c.event_id, outbox.c.partition_key)
                .where(outbox.c.event_id.in_(committed))
                .order_by(outbox.c.partition_key, outbox.c.key_seq),
            )
        ).all()
    for educator_id in educators:
        expected = [r.event_id for r in rows if r.partition_key == educator_id]
        assert [i for i in read if i in set(expected)] == expected


async def test_only_the_districts_admin_or_the_state_reads_a_districts_feed(
    svc: RunningService,
) -> None:
    lea = unique_name("lea")
    mine = await award(svc, "TX-1", lea)
    url = f"/districts/{lea}/awards/changes"
    other_admin = svc.auth("da", Role.DISTRICT_ADMIN, district_id=unique_name("lea"))
    assert (await svc.client.get(url, headers=other_admin)).status_code == 403
    no_district = svc.auth("da", Role.DISTRICT_ADMIN)
    assert (await svc.client.get(url, headers=no_district)).status_code == 403
    educator = svc.auth("ed", Role.EDUCATOR, educator_id="TX-1", district_id=lea)
    assert (await svc.client.get(url, headers=educator)).status_code == 403
    assert (await svc.client.get(url)).status_code == 401
    state = await svc.client.get(url, headers=svc.auth("sa", Role.STATE_ADMIN))
    assert [c["id"] for c in state.json()["changes"]] == [mine]


async def test_bad_cursors_and_oversized_pages_are_refused(svc: RunningService) -> None:
    lea = unique_name("lea")
    url = f"/districts/{lea}/awards/changes"
    headers = admin_of(svc, lea)
    bad = await svc.client.get(url, params={"since": "not-a-cursor"}, headers=headers)
    assert bad.status_code == 400
    too_many = await svc.client.get(url, params={"limit": MAX_LIMIT + 1}, headers=headers)
    assert too_many.status_code == 422
    assert (await svc.client.get(url, params={"limit": MAX_LIMIT}, headers=headers)).is_success
