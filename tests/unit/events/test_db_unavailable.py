"""Which database errors mean "the database is not there" (retry the batch later, the event is
not at fault) and which mean "this statement was refused" (the event's own problem). A consumer
dead-letters only the second kind, so an immediate database shutdown must classify as the
first however the driver wraps it."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_dbapi
from sqlalchemy.exc import DBAPIError

from mc_events.db import database_unavailable

dbapi = AsyncAdapt_asyncpg_dbapi(asyncpg)


def as_sqlalchemy_raises_it(error: Exception) -> DBAPIError:
    """What SQLAlchemy's asyncpg dialect raises for ``error`` during a statement."""
    adapted = dbapi.Error
    for base in type(error).__mro__:
        if base in dbapi._asyncpg_error_translate:
            adapted = dbapi._asyncpg_error_translate[base]
            break
    try:
        try:
            raise adapted(str(error), error) from error
        except dbapi.Error as translated:
            raise DBAPIError.instance("SELECT 1", {}, translated, dbapi.Error) from translated
    except DBAPIError as wrapped:
        return wrapped


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.AdminShutdownError(
            "terminating connection due to administrator command"
        ),
        asyncpg.exceptions.CrashShutdownError(
            "terminating connection due to crash of another server process"
        ),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
        asyncpg.exceptions.ConnectionDoesNotExistError(
            "connection was closed in the middle of operation"
        ),
        asyncpg.exceptions.ConnectionFailureError("connection failure"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_a_database_going_away_or_not_answering_is_unavailable(error: Exception) -> None:
    assert database_unavailable(as_sqlalchemy_raises_it(error))


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.UniqueViolationError("duplicate key value violates unique constraint"),
        asyncpg.exceptions.UndefinedColumnError('column "nope" does not exist'),
        asyncpg.exceptions.QueryCanceledError("canceling statement due to statement timeout"),
        asyncpg.exceptions.DivisionByZeroError("division by zero"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_a_statement_the_database_refused_is_not_unavailable(error: Exception) -> None:
    assert not database_unavailable(as_sqlalchemy_raises_it(error))


def test_the_network_failing_is_unavailable_and_a_plain_bug_is_not() -> None:
    assert database_unavailable(ConnectionRefusedError(111, "Connection refused"))
    assert database_unavailable(OSError(113, "No route to host"))
    assert not database_unavailable(ValueError("a handler's own bug"))
    handler_error = RuntimeError("the handler gave up")
    handler_error.__context__ = ConnectionRefusedError()  # raised while handling, not caused by
    assert not database_unavailable(handler_error)
