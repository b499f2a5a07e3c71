"""KAFKA_ACCESS_LOG against the real broker: a topic created, a record produced, consumed in a
consumer group and committed leave exactly the Kafka ACL accesses they need in the log."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from mc_devstack.testing import unique_name
from mc_events import kafka
from mc_events.kafka_access import Access, read_log
from mc_events.topics import Topic, ensure_topics


async def test_clients_record_create_produce_and_group_consumption(
    kafka_settings: kafka.KafkaSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "kafka-access.jsonl"
    monkeypatch.setenv("KAFKA_ACCESS_LOG", str(log))
    settings = kafka.KafkaSettings(**kafka_settings.model_dump(exclude={"access_log"}))
    assert settings.access_log == log
    topic, group = unique_name("access.recorded"), unique_name("access-group")

    admin = kafka.admin(settings)
    await admin.start()
    try:
        created = await ensure_topics(admin, [Topic(topic, 1, key="k", description="test")])
    finally:
        await admin.close()
    assert created == [topic]

    producer = kafka.producer(settings)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"value", key=b"key")
    finally:
        await producer.stop()

    consumer = kafka.consumer(settings, group_id=group)
    consumer.subscribe([topic])
    await consumer.start()
    try:
        received = []
        async with asyncio.timeout(30):
            while not received:
                batches = await consumer.getmany(timeout_ms=200)
                received = [r for records in batches.values() for r in records]
        await consumer.commit()
    finally:
        await consumer.stop()
    assert [r.value for r in received] == [b"value"]

    assert read_log(log) == {
        Access("topic", topic, "Describe"),  # ensure_topics looks for it; metadata
        Access("topic", topic, "Create"),
        Access("topic", topic, "Write"),
        Access("topic", topic, "Read"),
        Access("group", group, "Describe"),  # FindCoordinator
        Access("group", group, "Read"),  # join, commit
    }
    lines = log.read_text().splitlines()
    assert len(lines) == 6  # one line per distinct access
