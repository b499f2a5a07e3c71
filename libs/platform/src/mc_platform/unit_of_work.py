"""The unit of work: one transaction, the repositories on it, and what it has to say.

Every command of every service runs in one unit of work, and the service layer (never a
route) commits it::

    async with uow:
        enrollment = await uow.enrollments.get(enrollment_id, for_update=True)
        enrollment.withdraw(now)
        await uow.enrollments.save(enrollment)
        uow.emit(Withdrawn(...), event_id=...)
        uow.audit(actor=..., action="enrollment.withdrawn", object_type="enrollment", ...)
        await uow.commit()

:meth:`UnitOfWork.emit` and :meth:`UnitOfWork.audit` collect; :meth:`UnitOfWork.commit` writes
the events to the outbox and the records to the audit chains in the same transaction as the
state change, then commits: the decision, its events and its audit trail are stored together
or not at all. Anything not committed rolls back when the block ends.

Consumer handlers run inside the consumer runtime's transaction (the runtime commits, with the
inbox row that makes the event processed once): :meth:`UnitOfWork.joining` gives them the same
unit of work on that transaction, and :meth:`UnitOfWork.flush` writes what they collected.

A service subclasses it and builds its repositories in :meth:`UnitOfWork.attach`.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, Self, TypeVar

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from mc_events import outbox
from mc_events.consumer import Handler
from mc_events.contracts.base import Event
from mc_events.envelope import Received
from mc_platform import audit


@dataclass(frozen=True)
class _Emitted:
    event: Event
    event_id: str
    time: datetime | None


@dataclass(frozen=True)
class _Audited:
    chain: str
    fields: dict[str, Any] = field(default_factory=dict)


class UnitOfWork:
    """One transaction: ``async with uow: ...; await uow.commit()``; anything else rolls back."""

    session: AsyncSession

    def __init__(self, sessions: async_sessionmaker[AsyncSession] | None) -> None:
        self._sessions = sessions
        self._joined = False
        self._events: list[_Emitted] = []
        self._audits: list[_Audited] = []

    @classmethod
    def joining(cls, session: AsyncSession) -> Self:
        """A unit of work inside a transaction someone else owns (the consumer runtime's):
        :meth:`flush` writes what was collected, the owner commits; :meth:`commit` refuses."""
        uow = cls(None)
        uow._joined = True
        uow.session = session
        uow.attach(session)
        return uow

    def attach(self, session: AsyncSession) -> None:
        """Build the repositories on ``session`` (subclasses; called for every transaction)."""

    async def __aenter__(self) -> Self:
        if self._sessions is None:
            raise RuntimeError("a joined unit of work is not entered: its owner holds it")
        self.session = self._sessions()
        await self.session.begin()
        self._events, self._audits = [], []
        self.attach(self.session)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._events, self._audits = [], []
        try:
            if self.session.in_transaction():
                await self.session.rollback()
        finally:
            await self.session.close()

    def emit(
        self, event: Event, *, event_id: str | None = None, time: datetime | None = None
    ) -> str:
        """Publish ``event`` if this unit of work commits; returns its id. Give ``event_id``
        when it must be deterministic (derived from what happened), so a retried command
        produces the same event rather than a second one (the outbox keeps ids unique)."""
        emitted = _Emitted(event, event_id or str(uuid.uuid4()), time)
        self._events.append(emitted)
        return emitted.event_id

    def audit(
        self,
        *,
        actor: str,
        action: str,
        object_type: str,
        object_id: str,
        details: dict[str, Any] | None = None,
        chain: str = "global",
        at: datetime | None = None,
    ) -> None:
        """Append a decision to the audit chain ``chain`` if this unit of work commits."""
        self._audits.append(
            _Audited(
                chain,
                {
                    "actor": actor,
                    "action": action,
                    "object_type": object_type,
                    "object_id": object_id,
                    "details": details,
                    "at": at,
                },
            )
        )

    async def flush(self) -> None:
        """Write the collected events and audit records into the transaction (not commit).

        Audit chains are locked in sorted order (a record's order within its chain is kept),
        and the outbox locks its keys in sorted order: two units of work touching the same
        chains and keys queue instead of deadlocking."""
        events, self._events = self._events, []
        audits, self._audits = self._audits, []
        if events:
            await outbox.add_events(
                self.session,
                [emitted.event for emitted in events],
                event_ids=[emitted.event_id for emitted in events],
                times=[emitted.time for emitted in events],
            )
        if audits:
            appender = audit.Appender(self.session)
            for record in sorted(audits, key=lambda audited: audited.chain):
                await appender.append(chain=record.chain, **record.fields)
            await appender.flush()

    async def commit(self) -> None:
        """Write what was collected and commit the transaction."""
        if self._joined:
            raise RuntimeError("the owner of the transaction commits a joined unit of work")
        await self.flush()
        await self.session.commit()

    async def rollback(self) -> None:
        self._events, self._audits = [], []
        await self.session.rollback()


U = TypeVar("U", bound=UnitOfWork)


def consumer_handler(
    unit_of_work: type[U], handle: Callable[[U, Received[Any]], Awaitable[None]]
) -> Handler:
    """A consumer runtime handler from a service-layer handler that takes a unit of work: the
    unit of work joins the runtime's transaction, and what the handler emitted and audited is
    written before the runtime commits it with the inbox row."""

    async def run(session: AsyncSession, received: Received[Any]) -> None:
        uow = unit_of_work.joining(session)
        await handle(uow, received)
        await uow.flush()

    run.__name__ = run.__qualname__ = getattr(handle, "__name__", "handler")
    return run
