"""Status-list allocation under concurrency: the first awards of a fresh registry race to
create the first revocation list; every one of them must get an index, and only one list may
be created."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from mc_devstack.testing import fresh_database_async
from mc_events.db import create_engine, execute_core, session_factory
from mc_platform import migrations
from registry.adapters.awards_repository import AwardsRepository
from registry.adapters.tables import status_lists
from registry.bootstrap import MIGRATIONS
from registry.domain import status_list
from registry.domain.openbadges import StatusEntry

pytestmark = pytest.mark.timeout(120)

CONCURRENT = 8


async def _allocate_concurrently(sessions, barrier: asyncio.Barrier, now) -> StatusEntry:
    async with sessions() as session, session.begin():
        await execute_core(session, sa.select(1))  # connected and in a transaction
        await barrier.wait()  # every transaction reads "no list yet" at the same moment
        return await AwardsRepository(session).allocate_status_index(
            status_list.StatusPurpose.REVOCATION, now
        )


async def test_concurrent_first_awards_share_one_new_list_with_distinct_indexes(infra):
    url = await fresh_database_async(infra, "registry_status_race")
    await asyncio.to_thread(migrations.upgrade, MIGRATIONS, url)
    engine = create_engine(url, pool_size=CONCURRENT + 2)
    try:
        sessions = session_factory(engine)
        now = datetime(2026, 3, 1, tzinfo=UTC)
        barrier = asyncio.Barrier(CONCURRENT)
        entries = await asyncio.gather(
            *(_allocate_concurrently(sessions, barrier, now) for _ in range(CONCURRENT))
        )
        async with sessions() as session:
            lists = (
                await execute_core(
                    session,
                    sa.select(status_lists.c.list_id, status_lists.c.next_index).where(
                        status_lists.c.purpose == "revocation"
                    ),
                )
            ).all()
    finally:
        await engine.dispose()

    assert [(row.list_id, row.next_index) for row in lists] == [("revocation-1", CONCURRENT)]
    assert {e.list_id for e in entries} == {"revocation-1"}
    assert sorted(e.index for e in entries) == list(range(CONCURRENT))


async def test_a_full_list_is_followed_by_exactly_one_next_list_under_concurrency(infra):
    url = await fresh_database_async(infra, "registry_status_full")
    await asyncio.to_thread(migrations.upgrade, MIGRATIONS, url)
    engine = create_engine(url, pool_size=CONCURRENT + 2)
    try:
        sessions = session_factory(engine)
        now = datetime(2026, 3, 1, tzinfo=UTC)
        async with sessions() as session, session.begin():
            await AwardsRepository(session).allocate_status_index(
                status_list.StatusPurpose.REVOCATION, now
            )
            # Fill the first list, as if every index had been handed out.
            await execute_core(
                session,
                sa.update(status_lists)
                .where(status_lists.c.list_id == "revocation-1")
                .values(next_index=status_lists.c.size),
            )
        barrier = asyncio.Barrier(CONCURRENT)
        entries = await asyncio.gather(
            *(_allocate_concurrently(sessions, barrier, now) for _ in range(CONCURRENT))
        )
        async with sessions() as session:
            lists = (
                await execute_core(
                    session,
                    sa.select(status_lists.c.list_id, status_lists.c.next_index).order_by(
                        status_lists.c.sequence
                    ),
                )
            ).all()
    finally:
        await engine.dispose()

    assert [(row.list_id, row.next_index) for row in lists] == [
        ("revocation-1", status_list.MIN_BITS),
        ("revocation-2", CONCURRENT),
    ]
    assert sorted((e.list_id, e.index) for e in entries) == [
        ("revocation-2", i) for i in range(CONCURRENT)
    ]
