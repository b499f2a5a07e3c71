"""What the event streams show, read as any consumer would: from the beginning, every partition,
CloudEvents decoded against the contracts, duplicates (the same ``ce_id`` delivered again after
a relay crash) counted but indexed once.

The embedded broker's end offsets are unreliable, so nothing here asks "are we caught
up?": callers wait for the specific events they expect, with a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from mc_events import kafka
from mc_events.contracts.base import Event
from mc_events.contracts.compensation import (
    PayrollBatchExported,
    StipendApproved,
    StipendDeferred,
    StipendReversed,
)
from mc_events.contracts.registry import (
    CredentialAwarded,
    CredentialRevoked,
    RenewalCreditsPosted,
)
from mc_events.contracts.review import Decided
from mc_events.envelope import EnvelopeError, decode, parse_record
from mc_events.topics import CREDENTIALS, PAYMENTS, PAYROLL, REVIEWS, TOPICS, dlq_topic

WATCHED: tuple[str, ...] = (REVIEWS.name, CREDENTIALS.name, PAYMENTS.name, PAYROLL.name)
DLQS: tuple[str, ...] = tuple(dlq_topic(t.name) for t in TOPICS)


@dataclass
class Seen:
    """One distinct event (by CloudEvents id) and when this reader first saw it."""

    event_id: str
    topic: str
    event: Event
    seen_at: float  # time.monotonic()
    written_at: float | None = None
    """The record's timestamp (when the producer sent it), seconds since the epoch."""


@dataclass
class DeadLetter:
    topic: str
    key: str | None
    headers: dict[str, str]


@dataclass
class StreamIndex:
    """Everything the watched streams showed so far, indexed for the flows' questions."""

    events: dict[str, Seen] = field(default_factory=dict)
    deliveries: Counter[str] = field(default_factory=Counter)
    """Records per event id (more than 1: redelivered after a crash; the id dedupes it)."""
    undecodable: int = 0
    dead_letters: list[DeadLetter] = field(default_factory=list)
    decisions: dict[str, list[Decided]] = field(default_factory=lambda: defaultdict(list))
    """Per enrollment id."""
    awards: dict[str, list[CredentialAwarded]] = field(default_factory=lambda: defaultdict(list))
    """Per enrollment id."""
    revocations: dict[str, list[CredentialRevoked]] = field(
        default_factory=lambda: defaultdict(list)
    )
    """Per credential id."""
    credit_postings: dict[str, list[RenewalCreditsPosted]] = field(
        default_factory=lambda: defaultdict(list)
    )
    """Per credential id."""
    stipends: dict[str, list[StipendApproved]] = field(default_factory=lambda: defaultdict(list))
    """Per credential id."""
    reversals: dict[str, list[StipendReversed]] = field(default_factory=lambda: defaultdict(list))
    """Per credential id."""
    deferrals: dict[str, list[StipendDeferred]] = field(default_factory=lambda: defaultdict(list))
    batches: dict[str, PayrollBatchExported] = field(default_factory=dict)
    """Per batch id."""
    _arrivals: dict[int, Seen] = field(default_factory=dict)

    def add(self, event_id: str, topic: str, event: Event, written_at: float | None = None) -> None:
        self.deliveries[event_id] += 1
        if event_id in self.events:
            return
        self.events[event_id] = Seen(event_id, topic, event, time.monotonic(), written_at)
        self._arrivals[id(event)] = self.events[event_id]
        match event:
            case Decided():
                self.decisions[event.enrollment_id].append(event)
            case CredentialAwarded():
                self.awards[event.enrollment_id].append(event)
            case CredentialRevoked():
                self.revocations[event.credential_id].append(event)
            case RenewalCreditsPosted():
                self.credit_postings[event.credential_id].append(event)
            case StipendApproved() if event.credential_id:
                self.stipends[event.credential_id].append(event)
            case StipendReversed() if event.credential_id:
                self.reversals[event.credential_id].append(event)
            case StipendDeferred() if event.credential_id:
                self.deferrals[event.credential_id].append(event)
            case PayrollBatchExported():
                self.batches[event.batch_id] = event
            case _:
                pass

    def seen_at(self, event: Event) -> float | None:
        """When this reader first saw ``event`` (an object from this index), monotonic."""
        seen = self._arrivals.get(id(event))
        return seen.seen_at if seen else None

    def written_at(self, event: Event) -> float | None:
        """When ``event`` (an object from this index) was put on its stream: its first
        record's timestamp, seconds since the epoch; independent of how soon this reader
        fetched it."""
        seen = self._arrivals.get(id(event))
        return seen.written_at if seen else None

    def of_type(self, kind: type[Event]) -> list[Event]:
        return [s.event for s in self.events.values() if isinstance(s.event, kind)]

    @property
    def redelivered(self) -> int:
        """Records beyond the first of each event id."""
        return sum(n - 1 for n in self.deliveries.values())


class StreamWatcher:
    """Tails the watched topics and the dead-letter topics in the background.

    ``async with StreamWatcher(settings) as streams: ... await streams.wait_for(check, 30)``
    """

    def __init__(
        self,
        settings: kafka.KafkaSettings,
        topics: Iterable[str] = WATCHED,
        *,
        dead_letters: bool = True,
    ) -> None:
        self.settings = settings
        self.topics = list(topics)
        self.dlq_topics = list(DLQS) if dead_letters else []
        self.index = StreamIndex()
        self._task: asyncio.Task[None] | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._changed = asyncio.Event()
        self._on_event: list[Callable[[Seen], None]] = []
        self.error: BaseException | None = None

    def on_event(self, callback: Callable[[Seen], None]) -> None:
        """Call ``callback`` for each new distinct event (latency measurement)."""
        self._on_event.append(callback)

    async def __aenter__(self) -> StreamWatcher:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        consumer = kafka.consumer(self.settings, group_id=None, client_id="pipeline-watcher")
        await consumer.start()
        self._consumer = consumer
        partitions: list[TopicPartition] = []
        deadline = time.monotonic() + 30
        wanted = self.topics + self.dlq_topics
        # Topics are created by the services at start-up; wait for their metadata.
        while True:
            await consumer._client.force_metadata_update()  # no public metadata refresh
            partitions = [
                TopicPartition(t, p)
                for t in wanted
                for p in sorted(consumer.partitions_for_topic(t) or ())
            ]
            missing = [t for t in wanted if not consumer.partitions_for_topic(t)]
            if not missing or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        self._task = asyncio.create_task(self._run(consumer), name="pipeline-watcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    async def _run(self, consumer: AIOKafkaConsumer) -> None:
        dlqs = set(self.dlq_topics)
        while True:
            try:
                batch = await consumer.getmany(timeout_ms=100, max_records=2000)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the broker restarting under a chaos run: try again
                self.error = exc
                await asyncio.sleep(0.5)
                continue
            for tp, records in batch.items():
                for record in records:
                    if tp.topic in dlqs:
                        self.index.dead_letters.append(
                            DeadLetter(
                                tp.topic,
                                record.key.decode() if record.key else None,
                                {k: (v or b"").decode(errors="replace") for k, v in record.headers},
                            )
                        )
                        continue
                    try:
                        envelope = parse_record(record.headers, record.key, record.value)
                        event = decode(envelope)
                    except EnvelopeError:
                        self.index.undecodable += 1
                        continue
                    known = envelope.id in self.index.events
                    self.index.add(envelope.id, tp.topic, event, record.timestamp / 1000)
                    if not known:
                        for callback in self._on_event:
                            callback(self.index.events[envelope.id])
            if batch:
                self._changed.set()

    async def wait_for(
        self, check: Callable[[StreamIndex], Any], within: float, what: str = "events"
    ) -> Any:
        """Until ``check(index)`` is truthy (returns it); TimeoutError naming ``what``."""
        deadline = time.monotonic() + within
        while True:
            result = check(self.index)
            if result:
                return result
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{what}: not on the streams after {within:.0f} s")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=min(left, 0.5))
