"""Consumer runtime: idempotent handlers, offsets after commit, bounded retries, dead letters.

For every batch the broker hands over:

1. Each record is read as a CloudEvent and validated against its contract. A record that is
   not a CloudEvent, has an unknown type or fails validation can never succeed: it goes
   straight to ``<topic>.dlq``. Known events this consumer has no handler for are skipped.
2. One database transaction handles the batch: for each event, the inbox row
   ``(consumer, event id)`` is inserted first (``ON CONFLICT DO NOTHING``); if it was already
   there the event is a redelivery and is skipped, else the handler runs in the same
   transaction (its effects and any events it adds to the outbox commit together with the
   inbox row).
3. If a handler raises, the batch transaction is rolled back and the batch is replayed one
   event per savepoint, each retried with exponential backoff up to ``max_attempts``; an event
   that still fails (or raises :class:`NonRetryableError`) goes to the dead-letter topic with
   the error in its headers and the others commit. Database outages are not the event's fault:
   they roll back the whole batch, which is retried until the database is back.
4. Only after the database commit are the Kafka offsets committed. A crash in between
   redelivers the batch, and the inbox turns it into a no-op.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from opentelemetry.trace import SpanKind
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from mc_events import faults, kafka
from mc_events.contracts.base import Event, contract_for
from mc_events.db import database_unavailable, execute_core
from mc_events.envelope import Envelope, EnvelopeError, Received, decode, parse_record
from mc_events.group_member import Batches, GroupMember
from mc_events.storage import inbox
from mc_events.telemetry import BackboneMetrics, context_from_headers, tracer
from mc_events.topics import dlq_topic

log = logging.getLogger(__name__)

Handler = Callable[[AsyncSession, Received[Any]], Awaitable[None]]


class NonRetryableError(Exception):
    """Raised by a handler for an event that can never succeed (e.g. a decision for an
    unknown or closed enrollment): the event goes to the dead-letter topic at once."""


@dataclass(frozen=True)
class ConsumerSettings:
    max_attempts: int = 3
    """Handler attempts per event before it is dead-lettered."""
    backoff_initial: float = 0.1
    backoff_max: float = 5.0
    infra_backoff_max: float = 30.0
    """Ceiling of the wait between retries of a whole batch while the database is down."""
    poll_timeout_ms: int = 200
    max_records: int = 500


@dataclass
class _Item:
    record: ConsumerRecord[bytes, bytes]
    envelope: Envelope | None = None
    event: Event | None = None
    handler: Handler | None = None
    error: BaseException | None = None
    attempts: int = 0
    status: str = "pending"  # processed | duplicate | failed


@dataclass
class BatchOutcome:
    processed: int = 0
    duplicates: int = 0
    skipped: int = 0
    dead_lettered: list[str] = field(default_factory=list)


class _InfrastructureError(Exception):
    """The database (not the event) failed: retry the whole batch later."""


class _HandlerFailed(Exception):
    """A handler raised in the optimistic batch transaction: isolate the events."""


class EventConsumer(GroupMember):
    """One consumer group member: reads topics, runs handlers, commits, dead-letters."""

    kind = "consumer"

    def __init__(
        self,
        *,
        name: str,
        handlers: Mapping[type[Event], Handler],
        sessions: async_sessionmaker[AsyncSession],
        kafka_settings: kafka.KafkaSettings,
        metrics: BackboneMetrics,
        topics: Iterable[str] | None = None,
        group_id: str | None = None,
        settings: ConsumerSettings | None = None,
    ) -> None:
        self.settings = settings or ConsumerSettings()
        super().__init__(
            name=name,
            group_id=group_id or name,
            topics=sorted(set(topics or (c.topic for c in handlers))),
            kafka_settings=kafka_settings,
            backoff_initial=self.settings.backoff_initial,
            backoff_max=self.settings.infra_backoff_max,
            producer_suffix="-dlq",
        )
        self._handlers = {contract.ce_type(): handler for contract, handler in handlers.items()}
        self._sessions = sessions
        self._metrics = metrics
        # Held while a batch is processed and committed; a rebalance waits for it.
        self._lock = asyncio.Lock()

    def rebalance_listener(self) -> ConsumerRebalanceListener:
        return _CommitBeforeRevoke(self._lock)

    async def poll_once(self) -> BatchOutcome:
        """Fetch one batch, process it and commit. Returns what happened (for tests)."""
        assert self._consumer is not None
        batches = await self._consumer.getmany(
            timeout_ms=self.settings.poll_timeout_ms, max_records=self.settings.max_records
        )
        if not batches:
            return BatchOutcome()
        async with self._lock:
            started = time.perf_counter()
            outcome = await self._process(batches)
            self._metrics.batch_seconds.labels(consumer=self.name).observe(
                time.perf_counter() - started
            )
            await self._commit_offsets(batches)
            self._update_lag(batches)
        return outcome

    # -- processing --------------------------------------------------------------------------

    async def _process(
        self, batches: Mapping[TopicPartition, Sequence[ConsumerRecord[bytes, bytes]]]
    ) -> BatchOutcome:
        outcome = BatchOutcome()
        work: list[_Item] = []
        poison: list[_Item] = []
        for records in batches.values():
            for record in records:
                item = self._prepare(record)
                if item.error is not None:
                    poison.append(item)
                elif item.handler is None:
                    outcome.skipped += 1
                else:
                    work.append(item)
        failed: list[_Item] = []
        if work:
            failed = await self._handle_with_retries(work, outcome)
        for item in [*poison, *failed]:
            await self._dead_letter(item)
            outcome.dead_lettered.append(item.envelope.id if item.envelope else "")
        return outcome

    def _prepare(self, record: ConsumerRecord[bytes, bytes]) -> _Item:
        item = _Item(record)
        try:
            item.envelope = parse_record(record.headers, record.key, record.value)
            item.handler = self._handlers.get(item.envelope.type)
            if item.handler is None and contract_for(item.envelope.type) is None:
                # A type no contract in this build knows (a newer version?): never drop it.
                decode(item.envelope)
            if item.handler is not None:
                item.event = decode(item.envelope)
        except EnvelopeError as exc:
            item.error = exc
            item.handler = None
        return item

    async def _handle_with_retries(self, work: list[_Item], outcome: BatchOutcome) -> list[_Item]:
        """Optimistic batch transaction first; one savepoint per event if any handler fails."""
        backoff = self.settings.backoff_initial
        while True:
            try:
                if await self._run_batch(work, outcome, isolate=False):
                    return []
                break
            except _InfrastructureError:
                log.warning("consumer %s: database unavailable, retrying batch", self.name)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.settings.infra_backoff_max)
        # Some handler raised: replay the batch event by event, retrying each.
        while True:
            try:
                await self._run_batch(work, outcome, isolate=True)
                break
            except _InfrastructureError:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.settings.infra_backoff_max)
        return [item for item in work if item.status == "failed"]

    async def _run_batch(self, work: list[_Item], outcome: BatchOutcome, *, isolate: bool) -> bool:
        """One transaction over ``work``. Without isolation, returns False at the first handler
        error (rolled back). With it, failing events are retried and finally marked failed."""
        try:
            async with self._sessions() as session, session.begin():
                # Fast path: claim every event in the inbox with one statement; redeliveries
                # (and an event twice in one batch) come back unclaimed and are skipped.
                claimed = set() if isolate else await self._claim_all(session, work)
                for item in work:
                    item.error = None
                    if isolate:
                        item.status = await self._handle_isolated(session, item)
                        continue
                    assert item.envelope is not None
                    if item.envelope.id not in claimed:
                        item.status = "duplicate"
                        continue
                    claimed.discard(item.envelope.id)
                    try:
                        await self._run_handler(session, item)
                        item.status = "processed"
                    except Exception as exc:
                        if database_unavailable(exc):
                            raise
                        self._metrics.failed.labels(
                            consumer=self.name, topic=item.record.topic
                        ).inc()
                        log.warning(
                            "consumer %s: handler failed for %s, isolating batch: %s",
                            self.name,
                            _describe(item),
                            exc,
                        )
                        raise _HandlerFailed() from exc
                faults.crash_point("consumer.before_db_commit")
        except _HandlerFailed:
            return False
        except Exception as exc:
            if database_unavailable(exc):
                raise _InfrastructureError() from exc
            raise
        faults.crash_point("consumer.after_db_commit")
        for item in work:
            topic = item.record.topic
            if item.status == "processed":
                outcome.processed += 1
                self._metrics.consumed.labels(consumer=self.name, topic=topic).inc()
            elif item.status == "duplicate":
                outcome.duplicates += 1
                self._metrics.duplicates.labels(consumer=self.name, topic=topic).inc()
        return True

    async def _handle_isolated(self, session: AsyncSession, item: _Item) -> str:
        backoff = self.settings.backoff_initial
        while True:
            item.attempts += 1
            try:
                async with session.begin_nested():
                    if not await self._claim_one(session, item):
                        return "duplicate"
                    await self._run_handler(session, item)
                    return "processed"
            except Exception as exc:
                if database_unavailable(exc):
                    raise
                self._metrics.failed.labels(consumer=self.name, topic=item.record.topic).inc()
                item.error = exc
                if (
                    isinstance(exc, NonRetryableError)
                    or item.attempts >= self.settings.max_attempts
                ):
                    log.error(
                        "consumer %s: giving up on %s after %d attempts: %s",
                        self.name,
                        _describe(item),
                        item.attempts,
                        exc,
                    )
                    return "failed"
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.settings.backoff_max)

    async def _claim_all(self, session: AsyncSession, work: list[_Item]) -> set[str]:
        """Insert the inbox rows of ``work``; returns the event ids that were new."""
        rows = [
            {"consumer": self.name, "event_id": item.envelope.id, "event_type": item.envelope.type}
            for item in work
            if item.envelope is not None
        ]
        result = await execute_core(
            session,
            pg_insert(inbox).values(rows).on_conflict_do_nothing().returning(inbox.c.event_id),
        )
        return {row.event_id for row in result.all()}

    async def _claim_one(self, session: AsyncSession, item: _Item) -> bool:
        assert item.envelope is not None
        inserted = await execute_core(
            session,
            pg_insert(inbox)
            .values(consumer=self.name, event_id=item.envelope.id, event_type=item.envelope.type)
            .on_conflict_do_nothing()
            .returning(inbox.c.event_id),
        )
        return inserted.first() is not None

    async def _run_handler(self, session: AsyncSession, item: _Item) -> None:
        assert item.envelope is not None
        assert item.event is not None
        assert item.handler is not None
        envelope = item.envelope
        headers = {k: v.decode(errors="replace") for k, v in item.record.headers or () if v}
        with tracer().start_as_current_span(
            f"{item.record.topic} process",
            context=context_from_headers(headers),
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "kafka",
                "messaging.destination.name": item.record.topic,
                "messaging.message.id": envelope.id,
                "messaging.consumer.group.name": self.group_id,
                "messaging.kafka.offset": item.record.offset,
                "messaging.destination.partition.id": str(item.record.partition),
            },
        ):
            started = time.perf_counter()
            await item.handler(session, Received(event=item.event, envelope=envelope))
            self._metrics.handler_seconds.labels(
                consumer=self.name, event_type=envelope.type
            ).observe(time.perf_counter() - started)

    # -- dead letters and offsets ------------------------------------------------------------

    async def _dead_letter(self, item: _Item) -> None:
        record = item.record
        error = item.error or RuntimeError("unknown error")
        await self.send_dead_letter(record, error, attempts=item.attempts)
        self._metrics.dead_lettered.labels(consumer=self.name, topic=record.topic).inc()
        log.error(
            "consumer %s: dead-lettered %s to %s: %s",
            self.name,
            _describe(item),
            dlq_topic(record.topic),
            error,
        )

    async def _commit_offsets(self, batches: Batches) -> None:
        # A failed commit (the partitions moved) redelivers to their new owner, and the inbox
        # turns what we already processed into no-ops.
        faults.crash_point("consumer.before_offset_commit")
        await self.commit_offsets(batches)

    def _update_lag(
        self, batches: Mapping[TopicPartition, Sequence[ConsumerRecord[bytes, bytes]]]
    ) -> None:
        assert self._consumer is not None
        for tp, records in batches.items():
            if not records:
                continue
            highwater = self._consumer.highwater(tp)
            if highwater is None:
                continue
            lag = max(highwater - (records[-1].offset + 1), 0)
            self._metrics.consumer_lag.labels(
                consumer=self.name, topic=tp.topic, partition=str(tp.partition)
            ).set(lag)


class _CommitBeforeRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    """Makes a rebalance wait until the batch in hand is processed and its offsets committed."""

    def __init__(self, lock: asyncio.Lock) -> None:
        self._lock = lock

    async def on_partitions_revoked(self, revoked: Any) -> None:
        async with self._lock:
            return None

    async def on_partitions_assigned(self, assigned: Any) -> None:
        return None


def _describe(item: _Item) -> str:
    record = item.record
    event = item.envelope
    what = f"{event.type} {event.id}" if event else "record"
    return f"{what} at {record.topic}[{record.partition}]@{record.offset}"


async def wait_until(predicate: Callable[[], Awaitable[bool]], seconds: float) -> bool:
    """Poll ``predicate`` every 50 ms until true or ``seconds`` pass (tests, tools)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(0.05)
    return await predicate()
