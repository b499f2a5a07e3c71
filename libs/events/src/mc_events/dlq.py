"""Dead letters for operators: list what a consumer gave up on, replay it after the fix.

A dead letter is the original record (same key, value and CloudEvents headers) on
``<topic>.dlq`` with ``dlq.*`` headers saying why. Replaying publishes the original record to
its original topic again; consumers that had processed it skip it (their inbox has its id),
the one that failed processes it now.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from mc_events import kafka
from mc_events.group_member import DLQ_HEADER_PREFIX
from mc_events.topics import DLQ_SUFFIX, dlq_topic


@dataclass(frozen=True)
class DeadLetter:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    def header(self, name: str) -> str:
        for key, value in self.headers:
            if key == name:
                return value.decode(errors="replace")
        return ""

    @property
    def event_id(self) -> str:
        return self.header("ce_id")

    @property
    def event_type(self) -> str:
        return self.header("ce_type")

    @property
    def error_type(self) -> str:
        return self.header(f"{DLQ_HEADER_PREFIX}error.type")

    @property
    def error_message(self) -> str:
        return self.header(f"{DLQ_HEADER_PREFIX}error.message")

    @property
    def original_topic(self) -> str:
        return self.header(f"{DLQ_HEADER_PREFIX}original.topic")

    @property
    def original_position(self) -> str:
        partition = self.header(f"{DLQ_HEADER_PREFIX}original.partition")
        offset = self.header(f"{DLQ_HEADER_PREFIX}original.offset")
        return f"{self.original_topic}[{partition}]@{offset}"

    @property
    def consumer(self) -> str:
        return self.header(f"{DLQ_HEADER_PREFIX}consumer")

    @property
    def failed_at(self) -> str:
        return self.header(f"{DLQ_HEADER_PREFIX}failed_at")

    def original_headers(self) -> list[tuple[str, bytes]]:
        return [(k, v) for k, v in self.headers if not k.startswith(DLQ_HEADER_PREFIX)]


async def list_dead_letters(
    settings: kafka.KafkaSettings,
    topic: str,
    *,
    limit: int | None = None,
    idle_seconds: float = 1.5,
    max_seconds: float = 60.0,
) -> list[DeadLetter]:
    """The dead letters of ``topic`` (or of ``topic`` itself if it ends in ``.dlq``), oldest
    first per partition. Reads until nothing new arrives for ``idle_seconds``: end offsets are
    not trusted (the embedded broker reports them wrongly)."""
    name = topic if topic.endswith(DLQ_SUFFIX) else dlq_topic(topic)
    consumer = kafka.consumer(settings, group_id=None)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(name)
        if not partitions:
            return []
        tps = [TopicPartition(name, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        letters: list[DeadLetter] = []
        deadline = time.monotonic() + max_seconds
        last_arrival = time.monotonic()
        while time.monotonic() < deadline and time.monotonic() - last_arrival < idle_seconds:
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                letters.extend(_letter(r) for r in records)
                last_arrival = time.monotonic()
            if limit is not None and len(letters) >= limit:
                break
        letters.sort(key=lambda d: (d.partition, d.offset))
        return letters[:limit] if limit is not None else letters
    finally:
        await _stop(consumer)


async def _stop(consumer: AIOKafkaConsumer) -> None:
    """Stop a group-less consumer. aiokafka 0.14 raises CancelledError from an internal task
    when such a consumer never had an assignment (unknown topic); only our own cancellation
    may propagate."""
    try:
        await consumer.stop()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise


async def replay_dead_letters(
    settings: kafka.KafkaSettings,
    letters: Iterable[DeadLetter],
) -> int:
    """Publish each dead letter's original record to its original topic; returns the count."""
    producer = kafka.producer(settings, client_id=f"{settings.client_id}-dlq-replay")
    await producer.start()
    count = 0
    try:
        for letter in letters:
            if not letter.original_topic:
                raise ValueError(f"dead letter at offset {letter.offset} has no original topic")
            await producer.send_and_wait(
                letter.original_topic,
                value=letter.value,
                key=letter.key,
                headers=letter.original_headers(),
            )
            count += 1
    finally:
        await producer.stop()
    return count


def _letter(record: ConsumerRecord[bytes, bytes]) -> DeadLetter:
    return DeadLetter(
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        value=record.value,
        headers=tuple(record.headers or ()),
    )
