"""``mc-events district republish`` on a real broker: one district's two topics are rebuilt from
the beginning of the source topic with the fan-out's own routing (same bytes, same CloudEvent
ids), nothing is written for any other district, a dry run writes nothing, and a second run
only adds copies with the same ids."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from district_streams_it import awarded, header, kafka_settings, revoked

from mc_devstack.testing import unique_name
from mc_events import district, kafka
from mc_events.envelope import to_record
from mc_events.fanout import FanOut
from mc_events.topics import Topic, ensure_topics
from registry.entrypoints import district_fanout

CLI = Path(sys.executable).with_name("mc-events")


async def read_all(settings: kafka.KafkaSettings, topic: str, idle: float = 2.0) -> list[Any]:
    """Every record of ``topic`` from its beginning, read until none arrives for ``idle``
    seconds (end offsets are not trusted on the embedded broker)."""
    consumer = kafka.consumer(settings, topic, group_id=unique_name("reader"))
    await consumer.start()
    records: list[Any] = []
    last = time.monotonic()
    try:
        while time.monotonic() - last < idle:
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                records.extend(batch)
                last = time.monotonic()
    finally:
        await consumer.stop()
    return sorted(records, key=lambda r: (r.partition, r.offset))


async def topic_names(settings: kafka.KafkaSettings) -> set[str]:
    admin = kafka.admin(settings)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


async def produce(settings: kafka.KafkaSettings, topic: str, events: list[Any]) -> list[str]:
    producer = kafka.producer(settings)
    await producer.start()
    ids = []
    try:
        for event in events:
            if isinstance(event, bytes):  # not a CloudEvent: the fan-out dead-letters it
                await producer.send_and_wait(topic, value=event, key=b"TX-x")
                continue
            record = to_record(event, source="/mc/registry")
            await producer.send_and_wait(
                topic, value=record.value, key=record.key, headers=record.headers
            )
            ids.append(record.event_id)
    finally:
        await producer.stop()
    return ids


async def run_cli(infra: Any, *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        str(CLI),
        "district",
        "republish",
        *args,
        "--bootstrap",
        infra.kafka_bootstrap,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "KAFKA_ENABLE_IDEMPOTENCE": "false",
            "COLUMNS": "300",
        },
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, stdout.decode() + stderr.decode()
    return stdout.decode()


async def test_republish_rebuilds_only_that_districts_topics_with_the_same_bytes_and_ids(
    infra: Any,
) -> None:
    settings = kafka_settings(infra)
    source = Topic(unique_name("registry.credentials"), 3, key="educator", description="test")
    rebuilt = unique_name("D.rebuild")  # a dot: escaped in the topic names
    other = unique_name("lea-other")
    admin = kafka.admin(settings)
    await admin.start()
    try:
        await ensure_topics(admin, source.with_dlq())
    finally:
        await admin.close()

    # The other district's awards reach its topics through the live fan-out...
    other_awards = [awarded(unique_name("TX"), other, n) for n in (1, 2)]
    await produce(settings, source.name, [b"garbage", *other_awards])
    live = FanOut(
        name="t-live-fanout",
        source_topics=[source.name],
        route=district_fanout.route,
        kafka_settings=settings,
        group_id=unique_name("fanout"),
    )
    forwarded = 0
    deadline = time.monotonic() + 45
    try:
        while forwarded < 4 and time.monotonic() < deadline:  # 2 copies + 2 states
            forwarded += await live.poll_once()
    finally:
        await live.stop()
    assert forwarded == 4
    other_topics = sorted(district.topic_names(other))
    before = {name: await read_all(settings, name) for name in other_topics}
    assert [len(records) for records in before.values()] == [2, 2]

    # ...the rebuilt district's never did (its topics do not exist yet).
    educators = [unique_name("TX"), unique_name("TX")]
    awards = [awarded(e, rebuilt, n) for e in educators for n in (1, 2)]
    sent = await produce(settings, source.name, [*awards, revoked(awards[0])])
    # One more of the other district's, which no fan-out copied: republish must not either.
    await produce(settings, source.name, [awarded(unique_name("TX"), other, 3)])
    awards_topic = district.awards_topic(rebuilt).name
    state_topic = district.state_topic(rebuilt).name
    assert not {awards_topic, state_topic} & await topic_names(settings)

    # A dry run counts and writes nothing.
    printed = await run_cli(infra, rebuilt, "--source", source.name, "--dry-run")
    assert f"district {rebuilt}: would send 10 records from 9 source records" in printed
    assert "1 unreadable" in printed
    assert not {awards_topic, state_topic} & await topic_names(settings)

    printed = await run_cli(infra, rebuilt, "--source", source.name)
    assert f"district {rebuilt}: sent 10 records from 9 source records" in printed

    copies = await read_all(settings, awards_topic)
    assert sorted(header(r, "ce_id") for r in copies) == sorted(sent)  # that district's only
    originals = {header(r, "ce_id"): r for r in await read_all(settings, source.name) if r.headers}
    for copy in copies:
        original = originals[header(copy, "ce_id")]
        assert (copy.key, copy.value, list(copy.headers)) == (
            original.key,
            original.value,
            list(original.headers),
        )
    first = [header(r, "ce_id") for r in copies if r.key == educators[0].encode()]
    assert first == [sent[0], sent[1], sent[4]]  # one educator's order kept

    states = await read_all(settings, state_topic)
    assert len(states) == 5
    latest = {r.key.decode(): json.loads(r.value)["status"] for r in states}
    assert latest == {
        awards[0].credential_id: "revoked",
        awards[1].credential_id: "active",
        awards[2].credential_id: "active",
        awards[3].credential_id: "active",
    }

    # The other district's topics are untouched: the same records at the same offsets.
    for name in other_topics:
        after = await read_all(settings, name)
        assert [(r.partition, r.offset, r.value) for r in after] == [
            (r.partition, r.offset, r.value) for r in before[name]
        ]

    # A second run only adds copies with the same ids (readers drop them by id).
    result = await district_fanout.republish(settings, rebuilt, source_topics=[source.name])
    assert (result.read, result.sent, result.unroutable) == (9, 10, 1)
    assert result.by_topic == {awards_topic: 5, state_topic: 5}
    again = await read_all(settings, awards_topic)
    assert Counter(header(r, "ce_id") for r in again) == Counter(sent * 2)
    state_ids = Counter(header(r, "ce_id") for r in await read_all(settings, state_topic))
    assert sorted(state_ids.values()) == [2] * 5
    assert set(state_ids) == {header(r, "ce_id") for r in states}
