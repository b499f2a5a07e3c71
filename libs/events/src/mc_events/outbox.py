"""Transactional outbox: events commit with the state change they describe; a relay publishes them.

``add_event(session, event)`` writes the event into ``event_outbox`` inside the caller's
transaction: if the transaction rolls back, the event never existed. Only the relay talks to
Kafka. It wakes on LISTEN/NOTIFY (a trigger notifies at commit), polls as a fallback, and
publishes each key's events in commit order (``key_seq``) even with several relay replicas:
rows are claimed with ``FOR UPDATE SKIP LOCKED`` and a replica only publishes a key's run of
events if it holds that key's oldest unpublished one. A row is marked published only after the
broker acknowledged it (acks=all); a crash in between publishes it again, and consumers drop the
duplicate by event id.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from opentelemetry.trace import SpanKind
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from mc_events import faults, kafka
from mc_events.contracts.base import Event
from mc_events.db import execute_core, plain_url
from mc_events.envelope import TRACEPARENT, TRACESTATE, to_record
from mc_events.storage import OUTBOX_CHANNEL, outbox
from mc_events.telemetry import (
    BackboneMetrics,
    context_from_headers,
    current_trace_headers,
    inject_into,
    tracer,
)

log = logging.getLogger(__name__)


COPY_THRESHOLD = 200
"""Batches at least this large are written with COPY."""

_OUTBOX_COLUMNS = (
    "event_id",
    "event_type",
    "topic",
    "partition_key",
    "key_seq",
    "headers",
    "payload",
)

_NUMBER_KEYS = sa.text(
    """
    INSERT INTO event_outbox_key_seq (topic, partition_key, last_seq)
    SELECT t, k, c
    FROM unnest(CAST(:topics AS text[]), CAST(:keys AS text[]), CAST(:counts AS bigint[]))
         AS batch(t, k, c)
    ORDER BY t, k
    ON CONFLICT (topic, partition_key)
    DO UPDATE SET last_seq = event_outbox_key_seq.last_seq + EXCLUDED.last_seq
    RETURNING topic, partition_key, last_seq
    """
)


def default_source(event: Event) -> str:
    """CloudEvents ``source``: the emitting service, taken from the event type's prefix."""
    return f"/mc/{event.event_type.split('.', 1)[0]}"


async def add_event(
    session: AsyncSession | AsyncConnection,
    event: Event,
    *,
    event_id: str | None = None,
    time: datetime | None = None,
    source: str | None = None,
) -> str:
    """Record ``event`` for publication when the caller's transaction commits; returns its id.

    Pass ``event_id`` when the id must be deterministic (e.g. derived from a ledger entry), so a
    retried command produces the same event instead of a second one.
    """
    (added,) = await add_events(session, [event], event_ids=[event_id], time=time, source=source)
    return added


async def add_events(
    session: AsyncSession | AsyncConnection,
    events: Sequence[Event],
    *,
    event_ids: Sequence[str | None] | None = None,
    time: datetime | None = None,
    source: str | None = None,
    times: Sequence[datetime | None] | None = None,
) -> list[str]:
    """:func:`add_event` for many events in two statements (bulk imports, batch handlers).

    Events of one key keep the order they have in ``events``. ``times`` gives each event its
    own CloudEvents ``time`` (``time`` gives them all one).
    """
    if not events:
        return []
    ids = list(event_ids) if event_ids is not None else [None] * len(events)
    stamps = list(times) if times is not None else [time] * len(events)
    if len(ids) != len(events) or len(stamps) != len(events):
        raise ValueError("event_ids and times must match events one to one")
    trace_headers = current_trace_headers()
    records = [
        to_record(
            event,
            source=source or default_source(event),
            event_id=event_id,
            time=stamp,
            trace_headers=trace_headers,
        )
        for event, event_id, stamp in zip(events, ids, stamps, strict=True)
    ]
    keys = [
        (record.topic, event.partition_key()) for record, event in zip(records, events, strict=True)
    ]
    counts = Counter(keys)
    ordered = sorted(counts.items())
    # Taking a key's next numbers row-locks its counter until commit: two transactions that
    # write events for one key are serialised, so key_seq order is commit order, without gaps.
    # Keys are locked in sorted order so that concurrent batches cannot deadlock on them. One
    # statement whatever the batch size: the keys travel as three arrays.
    numbered = await execute_core(
        session,
        _NUMBER_KEYS,
        {
            "topics": [topic for (topic, _), _ in ordered],
            "keys": [key for (_, key), _ in ordered],
            "counts": [count for _, count in ordered],
        },
    )
    next_seq: dict[tuple[str, str], int] = {}
    for row in numbered.all():
        key = (row.topic, row.partition_key)
        next_seq[key] = row.last_seq - counts[key] + 1
    rows: list[tuple[Any, ...]] = []
    for record, event, key in zip(records, events, keys, strict=True):
        headers = [[name, value.decode()] for name, value in record.headers]
        rows.append(
            (
                record.event_id,
                event.ce_type(),
                record.topic,
                key[1],
                next_seq[key],
                headers,
                record.value,
            )
        )
        next_seq[key] += 1
    if len(rows) >= COPY_THRESHOLD:
        # COPY is several times faster than a multi-row INSERT for imports and backfills; it
        # runs on the same connection, inside the caller's transaction.
        conn = session if isinstance(session, AsyncConnection) else await session.connection()
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None, "the asyncpg connection behind the session"
        await raw.copy_records_to_table(
            outbox.name,
            records=[(*row[:5], json.dumps(row[5]), row[6]) for row in rows],
            columns=_OUTBOX_COLUMNS,
        )
    else:
        await execute_core(
            session, outbox.insert(), [dict(zip(_OUTBOX_COLUMNS, row, strict=True)) for row in rows]
        )
    return [record.event_id for record in records]


@dataclass(frozen=True)
class RelaySettings:
    batch_size: int = 500
    poll_interval: float = 1.0
    """Fallback when no notification arrives (listener down, or a missed notify)."""
    backoff_initial: float = 0.2
    backoff_max: float = 30.0
    stats_interval: float = 5.0
    retention: timedelta = timedelta(days=7)
    """Published rows are kept this long (audit, debugging), then deleted."""
    cleanup_interval: float = 600.0


@dataclass(frozen=True)
class _Row:
    id: int
    event_id: str
    topic: str
    key: str
    key_seq: int
    headers: list[list[str]]
    payload: bytes


class OutboxRelay:
    """Publishes the outbox of one service database to Kafka (run one or more replicas)."""

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        kafka_settings: kafka.KafkaSettings,
        metrics: BackboneMetrics,
        settings: RelaySettings | None = None,
        name: str = "relay",
        listen_url: str | None = None,
    ) -> None:
        """``listen_url``: the database the LISTEN connection opens (a direct one when the
        engine goes through a transaction-mode pooler); None: the engine's."""
        self._engine = engine
        self._listen_url = listen_url
        self._kafka = kafka_settings
        self._metrics = metrics
        self.settings = settings or RelaySettings()
        self.name = name
        self._producer: AIOKafkaProducer | None = None
        self._wake = asyncio.Event()
        self._listener: asyncpg.Connection | None = None
        self._last_stats = 0.0
        self._last_cleanup = 0.0

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        if self._producer is None:
            producer = kafka.producer(self._kafka, client_id=f"{self._kafka.client_id}-{self.name}")
            await producer.start()
            self._producer = producer

    async def stop(self) -> None:
        await self._close_listener()
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until ``stop`` is set; survives broker and database outages with backoff."""
        backoff = self.settings.backoff_initial
        try:
            while not stop.is_set():
                try:
                    await self.start()
                    await self._ensure_listener()
                    while await self.publish_pending() >= self.settings.batch_size:
                        pass  # drain a backlog before sleeping
                    await self._housekeeping()
                    backoff = self.settings.backoff_initial
                except asyncio.CancelledError:
                    raise
                except Exception:
                    self._metrics.relay_errors.inc()
                    log.exception("outbox relay pass failed; retrying in %.1fs", backoff)
                    await self._close_listener()
                    await _sleep_or_stop(stop, backoff)
                    backoff = min(backoff * 2, self.settings.backoff_max)
                    continue
                await self._wait_for_work(stop)
        finally:
            await self.stop()

    # -- one pass ----------------------------------------------------------------------------

    async def publish_pending(self) -> int:
        """Publish one batch of unpublished events; returns how many rows it claimed."""
        await self.start()
        assert self._producer is not None
        started = time.perf_counter()
        async with self._engine.begin() as conn:
            claimed = await self._claim(conn)
            if not claimed:
                return 0
            publishable = await self._heads_of_line(conn, claimed)
            if publishable:
                await self._publish(publishable)
                faults.crash_point("relay.after_publish")
                await conn.execute(
                    outbox.update()
                    .where(outbox.c.id.in_([row.id for row in publishable]))
                    .values(published_at=sa.func.now())
                )
        faults.crash_point("relay.after_mark")
        for row in publishable:
            self._metrics.published.labels(topic=row.topic).inc()
        self._metrics.relay_publish_seconds.observe(time.perf_counter() - started)
        return len(claimed)

    async def _claim(self, conn: AsyncConnection) -> list[_Row]:
        result = await conn.execute(
            sa.select(
                outbox.c.id,
                outbox.c.event_id,
                outbox.c.topic,
                outbox.c.partition_key,
                outbox.c.key_seq,
                outbox.c.headers,
                outbox.c.payload,
            )
            .where(outbox.c.published_at.is_(None))
            .order_by(outbox.c.id)
            .limit(self.settings.batch_size)
            .with_for_update(skip_locked=True)
        )
        return [_Row(*row) for row in result.all()]

    async def _heads_of_line(self, conn: AsyncConnection, claimed: list[_Row]) -> list[_Row]:
        """The claimed rows this replica may publish now without breaking per-key order.

        For each key: from the oldest unpublished event of that key, the unbroken run of
        sequence numbers we hold. If another replica holds an older event of the key (or it is
        beyond our batch), we leave the key alone this time.
        """
        by_key: dict[tuple[str, str], list[_Row]] = defaultdict(list)
        for row in claimed:
            by_key[(row.topic, row.key)].append(row)
        oldest = await conn.execute(
            sa.select(outbox.c.topic, outbox.c.partition_key, sa.func.min(outbox.c.key_seq))
            .where(
                outbox.c.published_at.is_(None),
                sa.tuple_(outbox.c.topic, outbox.c.partition_key).in_(list(by_key)),
            )
            .group_by(outbox.c.topic, outbox.c.partition_key)
        )
        first_unpublished = {(topic, key): seq for topic, key, seq in oldest.all()}
        publishable: list[_Row] = []
        for key, rows in by_key.items():
            expected = first_unpublished.get(key)
            for row in sorted(rows, key=lambda r: r.key_seq):
                if row.key_seq != expected:
                    break
                publishable.append(row)
                expected += 1
        return publishable

    async def _publish(self, rows: Sequence[_Row]) -> None:
        assert self._producer is not None
        sends: list[asyncio.Future[Any]] = []
        # Rows are grouped by key and in key_seq order; aiokafka keeps one batch in flight per
        # partition, so the broker receives each key's events in this order.
        for row in rows:
            headers = {name: value for name, value in row.headers}
            parent = context_from_headers(headers)
            with tracer().start_as_current_span(
                f"{row.topic} publish",
                context=parent,
                kind=SpanKind.PRODUCER,
                attributes={
                    "messaging.system": "kafka",
                    "messaging.destination.name": row.topic,
                    "messaging.message.id": row.event_id,
                    "messaging.kafka.message.key": row.key,
                },
            ):
                headers.pop(TRACEPARENT, None)
                headers.pop(TRACESTATE, None)
                inject_into(headers)
            sends.append(
                await self._producer.send(
                    row.topic,
                    value=row.payload,
                    key=row.key.encode(),
                    headers=[(name, value.encode()) for name, value in headers.items()],
                )
            )
        await asyncio.gather(*sends)

    # -- waking up ---------------------------------------------------------------------------

    async def _ensure_listener(self) -> None:
        if self._listener is not None and not self._listener.is_closed():
            return
        try:
            url = plain_url(
                self._listen_url or self._engine.url.render_as_string(hide_password=False)
            )
            self._listener = await asyncpg.connect(url)
            await self._listener.add_listener(OUTBOX_CHANNEL, self._on_notify)
        except (OSError, asyncpg.PostgresError) as exc:
            # Polling still works; try LISTEN again next pass.
            log.warning("outbox LISTEN unavailable, polling only: %s", exc)
            self._listener = None

    def _on_notify(self, *_: Any) -> None:
        self._wake.set()

    async def _close_listener(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close(timeout=2)
            self._listener = None

    async def _wait_for_work(self, stop: asyncio.Event) -> None:
        self._wake.clear()
        waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(
                waiters, timeout=self.settings.poll_interval, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for waiter in waiters:
                waiter.cancel()

    # -- backlog figures and cleanup ---------------------------------------------------------

    async def _housekeeping(self) -> None:
        now = time.monotonic()
        if now - self._last_stats >= self.settings.stats_interval:
            self._last_stats = now
            await self.refresh_stats()
        if now - self._last_cleanup >= self.settings.cleanup_interval:
            self._last_cleanup = now
            async with self._engine.begin() as conn:
                await conn.execute(
                    outbox.delete().where(
                        outbox.c.published_at < sa.func.now() - self.settings.retention
                    )
                )

    async def refresh_stats(self) -> tuple[int, float]:
        """Update the backlog gauges; returns (unpublished count, oldest age in seconds)."""
        async with self._engine.connect() as conn:
            count, age = (
                await conn.execute(
                    sa.select(
                        sa.func.count(),
                        sa.func.coalesce(
                            sa.func.extract(
                                "epoch", sa.func.now() - sa.func.min(outbox.c.created_at)
                            ),
                            0,
                        ),
                    ).where(outbox.c.published_at.is_(None))
                )
            ).one()
        self._metrics.outbox_backlog.set(count)
        self._metrics.outbox_oldest_age.set(float(age))
        return int(count), float(age)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
