"""Kafka-to-Kafka fan-out: republish each record of source topics to topics chosen per record.

A :class:`FanOut` is a consumer group member that, for every batch:

1. asks ``route`` what each record becomes (zero or more :class:`Outgoing` records; a record
   ``route`` cannot read goes to ``<topic>.dlq`` with the error in ``dlq.*`` headers),
2. creates the destination topics it has not seen yet (idempotently, with their configs),
3. sends everything in source order with ``acks=all`` and waits for every acknowledgement,
4. only then commits the source offsets.

Delivery is at least once: a crash or rebalance between 3 and 4 sends the batch again, with the
same CloudEvent ids (the records are copies, or derived with deterministic ids), so readers of
the destination topics drop duplicates by CloudEvent id. Order: records of one source key are
sent in offset order by one producer to one destination partition (same key), so a key's order
survives. No database is involved and nothing here rests on Kafka transactions.

:func:`republish` runs the same ``route`` over the source topics from their beginning, outside
any consumer group, and sends only the records bound for chosen topics (one district's, say):
what an operator runs to rebuild a destination topic (``mc-events district republish``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from prometheus_client import CollectorRegistry, Counter

from mc_events import kafka
from mc_events.dlq import _stop as stop_consumer
from mc_events.group_member import Batches, GroupMember
from mc_events.topics import Topic, ensure_topics

log = logging.getLogger(__name__)

Headers = list[tuple[str, bytes]]


@dataclass(frozen=True)
class Outgoing:
    """One record to send: the destination topic (with its layout and configs), key, value,
    headers."""

    topic: Topic
    key: bytes | None
    value: bytes | None
    headers: Headers


@dataclass(frozen=True)
class SourceRecord:
    """A record read from a source topic (what ``route`` gets)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers

    @classmethod
    def of(cls, record: ConsumerRecord[bytes, bytes]) -> SourceRecord:
        return cls(
            record.topic,
            record.partition,
            record.offset,
            record.key,
            record.value,
            list(record.headers or ()),
        )


Route = Callable[[SourceRecord], Sequence[Outgoing]]
"""What a source record becomes; raises for a record it cannot read (dead-lettered)."""


@dataclass(frozen=True)
class FanOutSettings:
    poll_timeout_ms: int = 200
    max_records: int = 500
    backoff_initial: float = 0.2
    backoff_max: float = 10.0


class _Metrics:
    def __init__(self, name: str, registry: CollectorRegistry | None) -> None:
        self.sent = Counter(
            f"{name}_records_sent",
            "Records the fan-out sent, by destination kind",
            ["kind"],
            registry=registry,
        )
        self.dead_lettered = Counter(
            f"{name}_records_dead_lettered",
            "Source records the fan-out could not route",
            registry=registry,
        )
        self.topics_created = Counter(
            f"{name}_topics_created", "Destination topics created", registry=registry
        )


class FanOut(GroupMember):
    """One fan-out consumer group member (several may run: partitions are shared out)."""

    kind = "fan-out"

    def __init__(
        self,
        *,
        name: str,
        source_topics: Iterable[str],
        route: Route,
        kafka_settings: kafka.KafkaSettings,
        group_id: str,
        settings: FanOutSettings | None = None,
        registry: CollectorRegistry | None = None,
        kind: Callable[[str], str] = lambda topic: "out",
    ) -> None:
        self.settings = settings or FanOutSettings()
        super().__init__(
            name=name,
            group_id=group_id,
            topics=sorted(set(source_topics)),
            kafka_settings=kafka_settings,
            backoff_initial=self.settings.backoff_initial,
            backoff_max=self.settings.backoff_max,
        )
        self._route = route
        self._metrics = _Metrics(name.replace("-", "_"), registry)
        self._kind = kind
        self._known_topics: set[str] = set()

    @property
    def source_topics(self) -> list[str]:
        return self.topics

    async def poll_once(self) -> int:
        """Fetch one batch, send what it becomes, commit. Returns the records sent."""
        await self.start()
        assert self._consumer is not None
        batches = await self._consumer.getmany(
            timeout_ms=self.settings.poll_timeout_ms, max_records=self.settings.max_records
        )
        if not batches:
            return 0
        sent = await self.forward(batches)
        await self._commit(batches)
        return sent

    async def forward(
        self, batches: Mapping[TopicPartition, Sequence[ConsumerRecord[bytes, bytes]]]
    ) -> int:
        """Route and send ``batches``; returns once the broker acknowledged every record."""
        assert self._producer is not None
        outgoing: list[Outgoing] = []
        for records in batches.values():
            for record in records:
                source = SourceRecord.of(record)
                try:
                    outgoing.extend(self._route(source))
                except Exception as exc:
                    await self._dead_letter(record, exc)
        await self._ensure({out.topic.name: out.topic for out in outgoing}.values())
        sends = [
            await self._producer.send(
                out.topic.name, value=out.value, key=out.key, headers=out.headers
            )
            for out in outgoing
        ]
        # A failed send raises here, before any offset is committed: the batch comes again.
        await asyncio.gather(*sends)
        for out in outgoing:
            self._metrics.sent.labels(kind=self._kind(out.topic.name)).inc()
        return len(outgoing)

    async def _ensure(self, topics: Iterable[Topic]) -> None:
        missing = [t for t in topics if t.name not in self._known_topics]
        if not missing:
            return
        admin = kafka.admin(self._kafka)
        await admin.start()
        try:
            created = await ensure_topics(admin, missing, self._kafka.replication_factor)
        finally:
            await admin.close()
        self._metrics.topics_created.inc(len(created))
        self._known_topics.update(t.name for t in missing)

    async def _dead_letter(self, record: ConsumerRecord[bytes, bytes], error: Exception) -> None:
        await self.send_dead_letter(record, error, attempts=1)
        self._metrics.dead_lettered.inc()
        log.error(
            "fan-out %s: dead-lettered %s[%d]@%d: %s",
            self.name,
            record.topic,
            record.partition,
            record.offset,
            error,
        )

    async def _commit(self, batches: Batches) -> None:
        # If the partitions moved, their new owner re-sends from the last commit (duplicates
        # with the same CloudEvent ids, which readers drop).
        await self.commit_offsets(batches)


# ---------------------------------------------------------------------------------------------
# Republishing: the same route, over the source topics from their beginning, for chosen topics


@dataclass
class RepublishResult:
    """What :func:`republish` read and (unless a dry run) sent."""

    read: int = 0
    """Source records read."""
    sent: int = 0
    """Records sent (or, in a dry run, that would have been sent)."""
    by_topic: dict[str, int] = field(default_factory=dict)
    """Records sent per destination topic."""
    unroutable: int = 0
    """Source records ``route`` could not read (the fan-out dead-lettered them)."""


Progress = Callable[[int, int], None]
"""Called after each batch with (records read so far, records to read: an estimate)."""


async def republish(
    kafka_settings: kafka.KafkaSettings,
    *,
    source_topics: Iterable[str],
    route: Route,
    wanted: Callable[[str], bool],
    dry_run: bool = False,
    progress: Progress | None = None,
    batch_records: int = 500,
    idle_seconds: float = 1.0,
) -> RepublishResult:
    """Read ``source_topics`` from their beginning to their current end, pass every record
    through ``route`` (the fan-out's own), and send the outgoing records whose destination
    topic ``wanted`` accepts, in source order, exactly as the fan-out sends them: same key,
    value and headers, hence the same CloudEvent ids, so readers drop the copies they already
    have. Missing destination topics are created with their layout first.

    Reads outside any consumer group (no offsets are committed: the live fan-out is not
    disturbed). Records written while it runs are the live fan-out's. End offsets are read once
    at the start; the embedded broker under-reports them, so reading also goes on
    until nothing arrives for ``idle_seconds``. A record ``route`` cannot read is counted in
    ``unroutable`` and skipped (the fan-out put it in the dead-letter topic).
    """
    names = sorted(set(source_topics))
    result = RepublishResult()
    consumer = kafka.consumer(
        kafka_settings,
        group_id=None,
        client_id=f"{kafka_settings.client_id}-republish",
        max_poll_records=batch_records,
    )
    producer = (
        None
        if dry_run
        else kafka.producer(kafka_settings, client_id=f"{kafka_settings.client_id}-republish")
    )
    known: set[str] = set()
    await consumer.start()
    try:
        partitions = [
            TopicPartition(name, p)
            for name in names
            for p in sorted(consumer.partitions_for_topic(name) or ())
        ]
        missing = [name for name in names if not any(tp.topic == name for tp in partitions)]
        if missing:
            raise ValueError(f"source topic not found: {', '.join(missing)}")
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        starts: dict[TopicPartition, int] = await consumer.beginning_offsets(partitions)
        ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
        total = sum(max(ends[tp] - starts[tp], 0) for tp in partitions)
        if producer is not None:
            await producer.start()
        loop = asyncio.get_running_loop()
        last_arrival = loop.time()
        caught_up_at: float | None = None
        while True:
            batches = await consumer.getmany(timeout_ms=200, max_records=batch_records)
            outgoing: list[Outgoing] = []
            for records in batches.values():
                for record in records:
                    result.read += 1
                    source = SourceRecord.of(record)
                    try:
                        routed = route(source)
                    except Exception:
                        result.unroutable += 1
                        continue
                    outgoing.extend(out for out in routed if wanted(out.topic.name))
            if batches:
                last_arrival = loop.time()
            for out in outgoing:
                result.by_topic[out.topic.name] = result.by_topic.get(out.topic.name, 0) + 1
            result.sent += len(outgoing)
            if producer is not None and outgoing:
                fresh = {o.topic.name: o.topic for o in outgoing if o.topic.name not in known}
                if fresh:
                    admin = kafka.admin(kafka_settings)
                    await admin.start()
                    try:
                        await ensure_topics(
                            admin, fresh.values(), kafka_settings.replication_factor
                        )
                    finally:
                        await admin.close()
                    known.update(fresh)
                sends = [
                    await producer.send(o.topic.name, value=o.value, key=o.key, headers=o.headers)
                    for o in outgoing
                ]
                await asyncio.gather(*sends)  # every record acknowledged before reading on
            if progress is not None:
                progress(result.read, max(total, result.read))
            if caught_up_at is None and await _caught_up(consumer, ends):
                caught_up_at = loop.time()
            if caught_up_at is not None and (
                loop.time() - last_arrival >= idle_seconds
                # Live traffic never goes idle: what arrives now is the live fan-out's anyway.
                or loop.time() - caught_up_at >= 10 * idle_seconds
            ):
                break
    finally:
        if producer is not None:
            await producer.stop()
        await stop_consumer(consumer)
    return result


async def _caught_up(consumer: AIOKafkaConsumer, ends: Mapping[TopicPartition, int]) -> bool:
    for tp, end in ends.items():
        position: int = await consumer.position(tp)
        if position < end:
            return False
    return True
