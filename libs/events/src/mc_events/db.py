"""Database plumbing shared by the services: engines, sessions, Core statements.

Repositories query; the unit of work (:mod:`mc_platform.unit_of_work`) commits.
Nothing here connects at import.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Table, event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import CursorResult, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.ext.asyncio import AsyncSession as SAAsyncSession
from sqlalchemy.sql.expression import Executable
from sqlmodel.ext.asyncio.session import AsyncSession


def async_url(url: str) -> str:
    """``postgresql://`` URLs (what operators write) in the asyncpg dialect SQLAlchemy needs."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


def plain_url(url: str) -> str:
    """The libpq form (``postgresql://``) of a URL, for asyncpg and command-line tools."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def create_engine(url: str, *, pool_size: int = 10, max_overflow: int = 10) -> AsyncEngine:
    return create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=True,
        # Keep connections around across bursts, recycle now and then behind load balancers.
        pool_recycle=1800,
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


UNAVAILABLE_SQLSTATES = ("08", "53", "57P")
"""SQLSTATE prefixes that say the database, not the statement, failed: connection exceptions
(08), insufficient resources (53: too many connections, disk full, out of memory) and operator
intervention other than a cancelled query (57P01 admin shutdown, 57P02 crash shutdown, 57P03
cannot connect now: starting up or recovering)."""


def database_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) means the database could not be reached or is
    going away: retry the work later, it is not the work's fault. A statement the database
    refused for what it is (a constraint, a syntax error, a cancelled query) is not."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError | ConnectionError | OperationalError | InterfaceError):
            return True
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        sqlstate = getattr(current, "sqlstate", None) or getattr(
            getattr(current, "orig", None), "sqlstate", None
        )
        if isinstance(sqlstate, str) and sqlstate.startswith(UNAVAILABLE_SQLSTATES):
            return True
        current = current.__cause__ or getattr(current, "orig", None)
    return False


async def execute_core(
    session: SAAsyncSession | AsyncConnection,
    statement: Executable,
    params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
) -> CursorResult[Any]:
    """Run a Core statement in the session's transaction (plumbing tables are Core, not ORM)."""
    conn = await session.connection() if isinstance(session, SAAsyncSession) else session
    return await conn.execute(statement, params)


async def insert_once(
    session: SAAsyncSession | AsyncConnection, table: Table, values: Mapping[str, Any]
) -> bool:
    """``INSERT ... ON CONFLICT DO NOTHING``: True if the row is new, False if a row with the
    same key (primary key or any unique constraint) was already there. The building block of
    every "exactly once" write: the database, not a prior read, decides who was first."""
    key = list(table.primary_key.columns) or list(table.columns)[:1]
    result = await execute_core(
        session, pg_insert(table).values(**values).on_conflict_do_nothing().returning(*key)
    )
    return result.first() is not None


@contextmanager
def statements_run(engine: AsyncEngine) -> Iterator[list[str]]:
    """The SQL statements ``engine`` sends while inside, in order (an ``executemany`` counts
    once): what benchmarks and tests count round trips with."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
