"""What every consumer group member of the backbone shares: a Kafka consumer with a producer
beside it (for dead letters, or for the records it forwards), the poll loop that survives broker
outages with backoff, offset commits after the work is done, and dead-letter records.

:class:`~mc_events.consumer.EventConsumer` (events into a service's database) and
:class:`~mc_events.fanout.FanOut` (records into other topics) are the two kinds; each says what
one pass does in :meth:`GroupMember.poll_once`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import traceback
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, KafkaError

from mc_events import kafka
from mc_events.topics import dlq_topic

log = logging.getLogger(__name__)

DLQ_HEADER_PREFIX = "dlq."

Headers = list[tuple[str, bytes]]
Batches = Mapping[TopicPartition, Sequence[ConsumerRecord[bytes, bytes]]]


def dead_letter_headers(
    record: ConsumerRecord[bytes, bytes], error: BaseException, *, consumer: str, attempts: int
) -> Headers:
    """The record's own headers (earlier ``dlq.*`` ones dropped) plus why and where it failed."""
    headers = [(k, v) for k, v in record.headers or () if not k.startswith(DLQ_HEADER_PREFIX)]
    stack = "".join(traceback.format_exception(error))[-4000:]
    headers.extend(
        [
            (f"{DLQ_HEADER_PREFIX}error.type", type(error).__name__.encode()),
            (f"{DLQ_HEADER_PREFIX}error.message", str(error)[:2000].encode()),
            (f"{DLQ_HEADER_PREFIX}error.stacktrace", stack.encode()),
            (f"{DLQ_HEADER_PREFIX}original.topic", record.topic.encode()),
            (f"{DLQ_HEADER_PREFIX}original.partition", str(record.partition).encode()),
            (f"{DLQ_HEADER_PREFIX}original.offset", str(record.offset).encode()),
            (f"{DLQ_HEADER_PREFIX}consumer", consumer.encode()),
            (f"{DLQ_HEADER_PREFIX}attempts", str(attempts).encode()),
            (f"{DLQ_HEADER_PREFIX}failed_at", datetime.now(UTC).isoformat().encode()),
        ]
    )
    return headers


class GroupMember:
    """One member of a consumer group, with a producer; subclasses implement :meth:`poll_once`."""

    kind = "consumer"
    """How logs name this kind of member."""

    def __init__(
        self,
        *,
        name: str,
        group_id: str,
        topics: Sequence[str],
        kafka_settings: kafka.KafkaSettings,
        backoff_initial: float,
        backoff_max: float,
        producer_suffix: str = "",
    ) -> None:
        self.name = name
        self.group_id = group_id
        self.topics = list(topics)
        self._kafka = kafka_settings
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._producer_suffix = producer_suffix
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None

    def rebalance_listener(self) -> ConsumerRebalanceListener | None:
        """A listener for partition revocations and assignments, if the member needs one."""
        return None

    async def poll_once(self) -> object:
        """Fetch one batch, do the work, commit its offsets."""
        raise NotImplementedError

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        if self._consumer is not None:
            return
        client_id = f"{self._kafka.client_id}-{self.name}"
        consumer = kafka.consumer(self._kafka, group_id=self.group_id, client_id=client_id)
        consumer.subscribe(self.topics, listener=self.rebalance_listener())
        await consumer.start()
        producer = kafka.producer(self._kafka, client_id=client_id + self._producer_suffix)
        try:
            await producer.start()
        except BaseException:
            await consumer.stop()
            raise
        self._consumer, self._producer = consumer, producer

    async def stop(self) -> None:
        if self._consumer is not None:
            with contextlib.suppress(Exception):
                await self._consumer.stop()
            self._consumer = None
        if self._producer is not None:
            with contextlib.suppress(Exception):
                await self._producer.stop()
            self._producer = None

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set (the batch in hand is finished), then leave the group.
        A failed pass (broker or database away) reconnects after a growing backoff."""
        backoff = self._backoff_initial
        try:
            while not stop.is_set():
                try:
                    await self.start()
                    await self.poll_once()
                    backoff = self._backoff_initial
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception(
                        "%s %s failed a pass; retrying in %.1fs", self.kind, self.name, backoff
                    )
                    await self.stop()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=backoff)
                    backoff = min(backoff * 2, self._backoff_max)
        finally:
            await self.stop()

    # -- shared steps ------------------------------------------------------------------------

    async def commit_offsets(self, batches: Batches) -> bool:
        """Commit past ``batches``; False if a rebalance took the partitions away (their new
        owner reads them again from the last commit)."""
        assert self._consumer is not None
        offsets = {tp: records[-1].offset + 1 for tp, records in batches.items() if records}
        try:
            await self._consumer.commit(offsets)
        except (CommitFailedError, KafkaError) as exc:
            log.warning(
                "%s %s: offset commit failed (%s); the records will come again",
                self.kind,
                self.name,
                exc,
            )
            return False
        return True

    async def send_dead_letter(
        self, record: ConsumerRecord[bytes, bytes], error: BaseException, *, attempts: int
    ) -> str:
        """Send ``record`` to ``<topic>.dlq`` with :func:`dead_letter_headers`; returns the
        dead-letter topic."""
        assert self._producer is not None
        topic = dlq_topic(record.topic)
        headers = dead_letter_headers(record, error, consumer=self.name, attempts=attempts)
        await self._producer.send_and_wait(
            topic, value=record.value, key=record.key, headers=headers
        )
        return topic
