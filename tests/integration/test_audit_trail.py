"""The audit trail is tamper-evident: editing, deleting or reordering any record is detected,
and the verification names the first broken link."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
import sqlalchemy as sa

from mc_devstack.testing import fresh_database_async
from mc_events.db import create_engine
from mc_platform import audit


@pytest.fixture
async def trail(infra):
    url = await fresh_database_async(infra, "audit")
    engine = create_engine(url, pool_size=12)
    async with engine.begin() as conn:
        await conn.run_sync(audit.AUDIT_METADATA.create_all)
    for i in range(1, 6):
        async with engine.begin() as conn:
            await audit.append(
                conn,
                actor="state-admin-1",
                action="catalog.approved",
                object_type="micro_credential",
                object_id=f"mc-{i}",
                details={"version": i, "reason": "meets quality standards"},
                chain="educator-TX-1",
            )
    async with engine.begin() as conn:
        await audit.append(
            conn,
            actor="svc",
            action="payment.approved",
            object_type="stipend",
            object_id="s-1",
            details={"amount_cents": 100000},
            chain="district-7",
        )
    yield url, engine
    await engine.dispose()


async def problems(engine) -> list[str]:
    async with engine.connect() as conn:
        return [str(p) for p in await audit.verify(conn)]


async def tamper(engine, *statements: str) -> None:
    """What someone with write access to the database could do, bypassing the service."""
    async with engine.begin() as conn:
        for statement in statements:
            await conn.exec_driver_sql(statement)


async def test_an_untouched_trail_verifies(trail):
    _, engine = trail
    assert await problems(engine) == []


async def test_editing_a_record_is_detected_at_that_record(trail):
    _, engine = trail
    await tamper(
        engine,
        "UPDATE audit_log SET details = replace(details, '\"version\":3', "
        "'\"version\":9') WHERE chain = 'educator-TX-1' AND seq = 3",
    )
    assert await problems(engine) == [
        "chain 'educator-TX-1', seq 3 (record id 3): record altered: its content does not "
        "match its hash"
    ]


async def test_changing_who_acted_is_detected(trail):
    _, engine = trail
    await tamper(
        engine,
        "UPDATE audit_log SET actor = 'someone-else' WHERE seq = 2 AND chain = 'educator-TX-1'",
    )
    (problem,) = await problems(engine)
    assert "seq 2" in problem
    assert "altered" in problem


async def test_deleting_a_record_is_detected_where_it_was(trail):
    _, engine = trail
    await tamper(engine, "DELETE FROM audit_log WHERE chain = 'educator-TX-1' AND seq = 2")
    (problem,) = await problems(engine)
    assert problem.startswith("chain 'educator-TX-1', seq 2")
    assert "missing" in problem


async def test_reordering_records_is_detected(trail):
    _, engine = trail
    # Swap the positions of records 2 and 4 (renumber them through a temporary value).
    await tamper(
        engine,
        "UPDATE audit_log SET seq = -1 WHERE chain = 'educator-TX-1' AND seq = 2",
        "UPDATE audit_log SET seq = 2 WHERE chain = 'educator-TX-1' AND seq = 4",
        "UPDATE audit_log SET seq = 4 WHERE chain = 'educator-TX-1' AND seq = -1",
    )
    (problem,) = await problems(engine)
    assert problem.startswith("chain 'educator-TX-1', seq 2")


async def test_removing_the_newest_records_is_detected_by_the_chain_head(trail):
    _, engine = trail
    await tamper(engine, "DELETE FROM audit_log WHERE chain = 'educator-TX-1' AND seq = 5")
    (problem,) = await problems(engine)
    assert "head" in problem


async def test_concurrent_appends_to_one_chain_stay_linear(trail):
    _, engine = trail

    async def one(i: int) -> None:
        async with engine.begin() as conn:
            await audit.append(
                conn,
                actor="svc",
                action="award.recorded",
                object_type="credential",
                object_id=f"c-{i}",
                chain="district-7",
            )

    await asyncio.gather(*(one(i) for i in range(10)))
    assert await problems(engine) == []
    async with engine.connect() as conn:
        seqs = (
            (
                await conn.execute(
                    sa.text("SELECT seq FROM audit_log WHERE chain = 'district-7' ORDER BY seq")
                )
            )
            .scalars()
            .all()
        )
    assert seqs == list(range(1, 12))


async def test_the_verification_command_names_the_first_broken_link(trail):
    url, engine = trail
    command = [sys.executable, "-m", "mc_platform.audit", "verify", "--database-url", url]
    intact = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert intact.returncode == 0, intact.stderr
    assert "intact: 6 records" in intact.stdout

    await tamper(
        engine, "UPDATE audit_log SET object_id = 'mc-99' WHERE seq = 4 AND chain = 'educator-TX-1'"
    )
    broken = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert broken.returncode == 1
    assert "BROKEN: chain 'educator-TX-1', seq 4" in broken.stdout
