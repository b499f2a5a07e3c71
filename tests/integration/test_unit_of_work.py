"""The unit of work every service uses: what a command emits and audits is written at commit,
in the same transaction as its state change; a command that does not commit leaves nothing;
a consumer handler's unit of work joins the runtime's transaction and never commits it."""

from __future__ import annotations

import backbone_app
import pytest
import sqlalchemy as sa

from mc_events.db import execute_core
from mc_events.storage import outbox
from mc_platform import audit
from mc_platform.unit_of_work import UnitOfWork, consumer_handler

CONTRACT = backbone_app.counter_contract("backbone.uow")


@pytest.fixture
async def uow_db(db):
    async with db.engine.begin() as conn:
        await conn.run_sync(audit.AUDIT_METADATA.create_all)
    return db


async def _outbox(db) -> list[tuple[str, str]]:
    async with db.engine.connect() as conn:
        rows = await conn.execute(sa.select(outbox.c.event_id, outbox.c.partition_key))
        return [tuple(row) for row in rows]


async def _audit(db) -> list[tuple[str, int, str]]:
    async with db.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(
                audit.audit_log.c.chain, audit.audit_log.c.seq, audit.audit_log.c.action
            ).order_by(audit.audit_log.c.chain, audit.audit_log.c.seq)
        )
        return [tuple(row) for row in rows]


def _audit_one(uow: UnitOfWork, action: str, chain: str) -> None:
    uow.audit(actor="a", action=action, object_type="counter", object_id="k", chain=chain)


async def test_commit_writes_the_events_and_audit_records_with_the_state_change(uow_db):
    async with UnitOfWork(uow_db.sessions) as uow:
        await execute_core(uow.session, sa.text("INSERT INTO counters (key, n) VALUES ('k', 1)"))
        first = uow.emit(CONTRACT(key="k", n=1), event_id="evt-k-1")
        second = uow.emit(CONTRACT(key="k", n=2))
        _audit_one(uow, "counter.created", "educator:b")
        _audit_one(uow, "counter.bumped", "educator:a")
        _audit_one(uow, "counter.bumped_again", "educator:b")
        assert await _outbox(uow_db) == []  # collected, not written before commit
        await uow.commit()
    assert first == "evt-k-1"
    assert await _outbox(uow_db) == [("evt-k-1", "k"), (second, "k")]
    assert await _audit(uow_db) == [
        ("educator:a", 1, "counter.bumped"),
        ("educator:b", 1, "counter.created"),
        ("educator:b", 2, "counter.bumped_again"),
    ]
    async with uow_db.engine.connect() as conn:
        assert await audit.verify(conn) == []


async def test_a_command_that_does_not_commit_leaves_nothing(uow_db):
    async def refused_command() -> None:
        async with UnitOfWork(uow_db.sessions) as uow:
            await execute_core(uow.session, sa.text("INSERT INTO counters VALUES ('r', 1)"))
            uow.emit(CONTRACT(key="r", n=1))
            _audit_one(uow, "counter.created", "global")
            raise RuntimeError("refused")

    with pytest.raises(RuntimeError, match="refused"):
        await refused_command()
    async with UnitOfWork(uow_db.sessions) as uow:
        uow.emit(CONTRACT(key="r", n=2))  # never committed: dropped at the end of the block
    async with uow_db.engine.connect() as conn:
        assert (await conn.execute(sa.text("SELECT count(*) FROM counters"))).scalar() == 0
    assert await _outbox(uow_db) == []
    assert await _audit(uow_db) == []


async def test_a_joined_unit_of_work_flushes_into_its_owners_transaction(uow_db):
    seen = []

    async def handle(uow: UnitOfWork, received: object) -> None:
        seen.append(received)
        uow.emit(CONTRACT(key="j", n=1), event_id="evt-j-1")
        _audit_one(uow, "counter.applied", "global")
        with pytest.raises(RuntimeError, match="owner"):
            await uow.commit()

    handler = consumer_handler(UnitOfWork, handle)
    assert handler.__name__ == "handle"
    async with uow_db.sessions() as session:
        await session.begin()
        await handler(session, "received")
        await session.rollback()  # the owner decides: nothing stays
    assert await _outbox(uow_db) == []
    async with uow_db.sessions() as session:
        await session.begin()
        await handler(session, "received")
        await session.commit()
    assert seen == ["received", "received"]
    assert await _outbox(uow_db) == [("evt-j-1", "j")]
    assert await _audit(uow_db) == [("global", 1, "counter.applied")]
