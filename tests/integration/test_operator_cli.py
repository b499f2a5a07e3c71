"""``mc-events pipeline status`` against a real broker and a real database: what it reports is
what is in the outbox, the consumer group's committed offsets and the dead-letter topic."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import backbone_app
import pytest
from aiokafka import TopicPartition

from mc_devstack.testing import unique_name
from mc_events import kafka
from mc_events.operations import ServiceTarget, pipeline_status
from mc_events.topics import dlq_topic

CLI = Path(sys.executable).with_name("mc-events")


async def produce_one_by_one(
    settings: kafka.KafkaSettings, topic: str, partitions: list[int]
) -> None:
    """One record per request: the embedded broker reports end offsets right only when every
    batch holds one record, and lag is computed from end offsets."""
    producer = kafka.producer(settings)
    await producer.start()
    try:
        for i, partition in enumerate(partitions):
            await producer.send_and_wait(topic, f"r{i}".encode(), key=b"k", partition=partition)
    finally:
        await producer.stop()


async def commit(
    settings: kafka.KafkaSettings, group: str, offsets: dict[TopicPartition, int]
) -> None:
    consumer = kafka.consumer(settings, group_id=group)
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit(offsets)
    finally:
        await consumer.stop()


@pytest.fixture
async def pipeline(db, kafka_settings, topic):
    """3 unpublished outbox events; 3 records on partition 0 and 2 on partition 1 of the topic,
    of which the group committed 1; 2 dead letters."""
    contract = backbone_app.counter_contract(topic)
    for key in ("a", "b", "c"):
        await backbone_app.increment(db.sessions, contract, key)
    await produce_one_by_one(kafka_settings, topic, [0, 0, 0, 1, 1])
    group = unique_name("status-group")
    await commit(kafka_settings, group, {TopicPartition(topic, 0): 1})
    await produce_one_by_one(kafka_settings, dlq_topic(topic), [0, 0])
    return group


async def test_pipeline_status_reports_outbox_backlog_consumer_lag_and_dead_letters(
    db, kafka_settings, topic, pipeline
) -> None:
    status = await pipeline_status(
        kafka_settings,
        [ServiceTarget("counters", db.url, pipeline)],
        {"counters": [topic]},
        topics=[topic],
    )
    (service,) = status.services
    assert service.errors == []
    assert service.outbox_backlog == 3
    assert service.outbox_oldest_age_seconds is not None
    assert 0 <= service.outbox_oldest_age_seconds < 120
    (lag,) = service.lag
    assert (lag.topic, lag.partitions, lag.end, lag.committed, lag.lag) == (topic, 3, 5, 1, 4)
    assert status.dead_letters == {dlq_topic(topic): 2}


async def test_pipeline_status_names_what_it_could_not_read_and_reports_the_rest(
    kafka_settings, topic
) -> None:
    status = await pipeline_status(
        kafka_settings,
        [
            ServiceTarget("no-db", "postgresql://nobody@127.0.0.1:9/none", unique_name("g")),
            ServiceTarget("no-url", None, unique_name("g")),
        ],
        {"no-db": [topic, "no.such.topic"], "no-url": [topic]},
        topics=[topic],
    )
    unreachable, unset = status.services
    assert unreachable.outbox_backlog is None
    assert unreachable.errors[0].startswith("outbox: ")
    assert "topic no.such.topic does not exist" in unreachable.errors
    assert [(lag.topic, lag.lag) for lag in unreachable.lag] == [(topic, 0)]
    assert unset.errors == ["no database URL: outbox not checked"]
    assert status.dead_letters == {dlq_topic(topic): 0}


async def test_cli_prints_the_status_as_json(db, kafka_settings, topic, pipeline) -> None:
    process = await asyncio.create_subprocess_exec(
        str(CLI),
        "pipeline",
        "status",
        "--json",
        "--bootstrap",
        kafka_settings.bootstrap_servers,
        "--service",
        "counters",
        "--subscription",
        f"counters={topic}",
        "--group",
        f"counters={pipeline}",
        "--database-url",
        f"counters={db.url}",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={"PATH": "/usr/bin:/bin", "KAFKA_ENABLE_IDEMPOTENCE": "false"},
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr.decode()
    report = json.loads(stdout)
    (service,) = report["services"]
    assert service["service"] == "counters"
    assert service["outbox_backlog"] == 3
    assert service["total_lag"] == 4
    assert service["lag"] == [{"topic": topic, "lag": 4, "committed": 1, "end": 5, "partitions": 3}]
    assert report["dead_letters"][dlq_topic(topic)] == 2
    # The total counts every listed dead-letter topic (other tests share this broker).
    assert report["dead_letters_total"] == sum(report["dead_letters"].values())
    # The registry's own dead-letter topics are listed too (0 when absent on this broker).
    assert "registry.credentials.dlq" in report["dead_letters"]
