"""Audit records appended through an :class:`mc_platform.audit.Appender` are written together
(one statement per chain at the flush, after locking each chain's head at its first record)
and form exactly the chain that appending them one at a time forms."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from mc_devstack.testing import fresh_database_async
from mc_events.db import create_engine, statements_run
from mc_platform import audit

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DECISIONS = [
    ("educator:TX-1", "credential.awarded", "credential", "c-1"),
    ("educator:TX-1", "stack.completed", "stack_completion", "sc-1"),
    ("district:7", "payment.approved", "stipend", "s-1"),
    ("educator:TX-1", "credential.awarded", "credential", "c-2"),
]


async def trail(infra) -> AsyncEngine:  # type: ignore[no-untyped-def]
    engine = create_engine(await fresh_database_async(infra, "audit_appender"), pool_size=2)
    async with engine.begin() as conn:
        await conn.run_sync(audit.AUDIT_METADATA.create_all)
        await audit.append(
            conn, actor="svc", action="opened", object_type="x", object_id="0", at=AT
        )
        await audit.append(
            conn,
            actor="svc",
            action="opened",
            object_type="x",
            object_id="0",
            chain="educator:TX-1",
            at=AT,
        )
    return engine


async def records(engine: AsyncEngine) -> list[tuple[str, int, str, str]]:
    async with engine.connect() as conn:
        assert await audit.verify(conn) == []
        rows = await conn.execute(
            sa.select(
                audit.audit_log.c.chain,
                audit.audit_log.c.seq,
                audit.audit_log.c.prev_hash,
                audit.audit_log.c.hash,
            ).order_by(audit.audit_log.c.chain, audit.audit_log.c.seq)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


async def test_an_appender_writes_the_chain_plain_appends_write(infra):
    one_by_one, together = await trail(infra), await trail(infra)
    try:
        async with one_by_one.begin() as conn:
            for chain, action, object_type, object_id in DECISIONS:
                await audit.append(
                    conn,
                    actor="svc",
                    action=action,
                    object_type=object_type,
                    object_id=object_id,
                    details={"n": object_id},
                    chain=chain,
                    at=AT,
                )
        with statements_run(together) as statements:
            async with together.begin() as conn:
                appender = audit.Appender(conn)
                for chain, action, object_type, object_id in DECISIONS:
                    await appender.append(
                        actor="svc",
                        action=action,
                        object_type=object_type,
                        object_id=object_id,
                        details={"n": object_id},
                        chain=chain,
                        at=AT,
                    )
                await appender.flush()

        assert await records(together) == await records(one_by_one)
        # Two chains: each head locked once, each chain's records written in one statement.
        assert len(statements) == 4
    finally:
        await one_by_one.dispose()
        await together.dispose()


async def test_nothing_is_written_before_the_flush(infra):
    engine = await trail(infra)
    try:
        async with engine.begin() as conn:
            appender = audit.Appender(conn)
            record = await appender.append(
                actor="svc", action="a", object_type="x", object_id="1", chain="educator:TX-1"
            )
            count = sa.select(sa.func.count()).select_from(audit.audit_log)
            assert (await conn.execute(count)).scalar_one() == 2
            await appender.flush()
            assert (await conn.execute(count)).scalar_one() == 3
        assert record.seq == 2
        assert (record.chain, record.seq, record.hash) in [
            (chain, seq, digest) for chain, seq, _, digest in await records(engine)
        ]
    finally:
        await engine.dispose()
