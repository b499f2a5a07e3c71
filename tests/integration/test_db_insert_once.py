"""``insert_once``: the database decides which of several writers of the same key was first."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from mc_events.db import insert_once, statements_run

metadata = sa.MetaData()
grants = sa.Table(
    "insert_once_grants",
    metadata,
    sa.Column("grant_id", sa.Text, primary_key=True),
    sa.Column("amount", sa.Integer, nullable=False),
)
notes = sa.Table(  # no primary key: a unique constraint is the key
    "insert_once_notes",
    metadata,
    sa.Column("credential_id", sa.Text, nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.UniqueConstraint("credential_id"),
)


async def _schema(db) -> None:
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)


async def test_the_first_insert_of_a_key_wins_and_a_repeat_changes_nothing(db) -> None:
    await _schema(db)
    async with db.sessions() as session, session.begin():
        assert await insert_once(session, grants, {"grant_id": "g-1", "amount": 100}) is True
        assert await insert_once(session, grants, {"grant_id": "g-1", "amount": 999}) is False
        assert await insert_once(session, notes, {"credential_id": "c-1", "note": "a"}) is True
        assert await insert_once(session, notes, {"credential_id": "c-1", "note": "b"}) is False
    async with db.sessions() as session:
        amounts = (await session.execute(sa.select(grants.c.amount))).scalars().all()
        kept = (await session.execute(sa.select(notes.c.note))).scalars().all()
    assert amounts == [100]
    assert kept == ["a"]


async def test_concurrent_writers_of_one_key_see_exactly_one_winner(db) -> None:
    await _schema(db)

    async def writer(n: int) -> bool:
        async with db.sessions() as session, session.begin():
            return await insert_once(session, grants, {"grant_id": "contended", "amount": n})

    outcomes = await asyncio.gather(*(writer(n) for n in range(4)))
    assert sorted(outcomes) == [False, False, False, True]
    async with db.sessions() as session:
        count = (await session.execute(sa.select(sa.func.count()).select_from(grants))).scalar()
    assert count == 1


async def test_statements_run_lists_each_round_trip_while_inside_and_nothing_after(db) -> None:
    await _schema(db)
    with statements_run(db.engine) as seen:
        async with db.sessions() as session, session.begin():
            await insert_once(session, grants, {"grant_id": "g-2", "amount": 1})
            await session.execute(sa.select(grants.c.amount))
    inserts = [s for s in seen if s.startswith("INSERT INTO insert_once_grants")]
    selects = [s for s in seen if s.startswith("SELECT insert_once_grants.amount")]
    assert (len(inserts), len(selects)) == (1, 1)
    count = len(seen)
    async with db.sessions() as session:
        await session.execute(sa.select(grants.c.amount))
    assert len(seen) == count
