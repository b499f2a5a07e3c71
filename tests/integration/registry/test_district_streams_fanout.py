"""District award streams on a real broker: the registry's fan-out copies each award to its
district's topic unchanged, writes credential state to the compacted state topic, resends with
the same CloudEvent ids after a crash, and the reference consumer reads a district's stream."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from district_streams_it import awarded, header, kafka_settings, revoked

from mc_devstack.testing import running_service, unique_name
from mc_events import district, kafka
from mc_events.envelope import to_record
from mc_events.fanout import FanOut
from mc_events.outbox import add_event
from mc_events.topics import Topic, ensure_topics
from registry.bootstrap import build
from registry.config import Settings
from registry.entrypoints.district_fanout import route

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "district_consumer" / "district_consumer.py"


def example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("district_consumer_example", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def read_until(
    settings: kafka.KafkaSettings,
    topic: str,
    want: int,
    seconds: float = 45.0,
    *,
    distinct_ids: bool = False,
) -> list[Any]:
    """Records of ``topic`` from the beginning until ``want`` have arrived (or time is up);
    with ``distinct_ids``, until ``want`` distinct CloudEvent ids have: delivery is at least
    once, and a pass retried after a broker error may repeat records, with their ids."""
    consumer = kafka.consumer(settings, topic, group_id=unique_name("reader"))
    await consumer.start()
    records: list[Any] = []
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline and want > (
            len({header(r, "ce_id") for r in records}) if distinct_ids else len(records)
        ):
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                records.extend(batch)
    finally:
        await consumer.stop()
    return records


async def test_awards_reach_their_district_topic_unchanged_and_state_per_credential(
    infra: Any, tmp_path: Path
) -> None:
    district_id = unique_name("D.lea")  # a dot: escaped in the topic name
    other = unique_name("lea-other")
    educators = [unique_name("TX"), unique_name("TX")]
    async with running_service(build, Settings, infra, consumers=False) as svc:
        sent: list[str] = []
        awards = [awarded(e, district_id, n) for e in educators for n in (1, 2)]
        async with svc.runtime.sessions() as session, session.begin():
            for award in awards:
                sent.append(await add_event(session, award))
            await add_event(session, awarded(unique_name("TX"), other, 1))
        async with svc.runtime.sessions() as session, session.begin():
            sent.append(await add_event(session, revoked(awards[0])))

        settings = svc.definition.settings.kafka
        awards_topic = district.awards_topic(district_id).name
        state_topic = district.state_topic(district_id).name
        # The fan-out creates the district's topics on first use, with their layout. (Wait
        # for it: a reader's metadata request could auto-create them on a lax broker.)
        admin = kafka.admin(settings)
        await admin.start()
        try:
            deadline = time.monotonic() + 45
            while not {awards_topic, state_topic} <= set(await admin.list_topics()):
                assert time.monotonic() < deadline, "district topics not created"
                await asyncio.sleep(0.2)
            for described in await admin.describe_topics([awards_topic, state_topic]):
                assert len(described["partitions"]) == district.DEFAULT_PARTITIONS
            # The configs the topics were created with, as the broker reports them. (The
            # embedded broker stores cleanup.policy=compact but never compacts: readers take
            # the last record per key, which is also right between compactions on Kafka.)
            configs = {}
            for response in await admin.describe_configs(
                [
                    ConfigResource(ConfigResourceType.TOPIC, awards_topic),
                    ConfigResource(ConfigResourceType.TOPIC, state_topic),
                ]
            ):
                for resource in response.resources:
                    configs[resource[3]] = {entry[0]: entry[1] for entry in resource[4]}
            assert configs[state_topic]["cleanup.policy"] == "compact"
            assert configs[awards_topic]["retention.ms"] == "-1"
        finally:
            await admin.close()
        copies = await read_until(settings, awards_topic, len(sent), distinct_ids=True)
        # The same ids and nothing else (a repeat of a record after a retried pass keeps its
        # id: readers drop it).
        assert {header(r, "ce_id") for r in copies} == set(sent)
        originals = {
            header(r, "ce_id"): r
            for r in await read_until(settings, "registry.credentials", 10**9, seconds=3)
            if header(r, "ce_id") in sent
        }
        for copy in copies:
            original = originals[header(copy, "ce_id")]
            assert (copy.key, copy.value) == (original.key, original.value)
            assert list(copy.headers) == list(original.headers)
        # One educator's events stay in their order (same key: one partition).
        first = [header(r, "ce_id") for r in copies if r.key == educators[0].encode()]
        assert list(dict.fromkeys(first)) == [sent[0], sent[1], sent[4]]

        states = await read_until(settings, state_topic, 5, distinct_ids=True)
        latest: dict[bytes, dict[str, Any]] = {}
        for record in states:
            assert header(record, "ce_type") == "registry.credential_state.v1"
            latest[record.key] = json.loads(record.value)
        assert {k.decode(): v["status"] for k, v in latest.items()} == {
            awards[0].credential_id: "revoked",
            awards[1].credential_id: "active",
            awards[2].credential_id: "active",
            awards[3].credential_id: "active",
        }

        # The reference consumer, run as its own program with nothing of ours on its path.
        printed = await asyncio.to_thread(
            subprocess.run,
            [
                sys.executable,
                "-I",
                str(EXAMPLE),
                "--bootstrap",
                infra.kafka_bootstrap,
                "--district",
                district_id,
                "--idle-exit",
                "2",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        lines = printed.stdout.strip().splitlines()
        assert len(lines) == len(sent)
        assert all(any(event_id in line for line in lines) for event_id in sent)
        assert sum("credential_revoked" in line for line in lines) == 1


async def test_a_crash_before_the_offset_commit_resends_with_the_same_ids(infra: Any) -> None:
    settings = kafka_settings(infra)
    source = Topic(unique_name("registry.credentials"), 2, key="educator", description="test")
    district_id = unique_name("lea-crash")
    admin = kafka.admin(settings)
    await admin.start()
    try:
        await ensure_topics(admin, source.with_dlq())
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap)
    await producer.start()
    ids = []
    try:
        # Not a CloudEvent: dead-lettered with the error, and the stream goes on.
        await producer.send_and_wait(source.name, value=b"garbage", key=b"TX-x")
        for n in range(3):
            record = to_record(awarded(unique_name("TX"), district_id, n), source="/mc/registry")
            await producer.send_and_wait(
                source.name, value=record.value, key=record.key, headers=record.headers
            )
            ids.append(record.event_id)
    finally:
        await producer.stop()

    group = unique_name("fanout")
    crashed = FanOut(
        name="t-fanout-a",
        source_topics=[source.name],
        route=route,
        kafka_settings=settings,
        group_id=group,
    )
    await crashed.start()
    forwarded = 0
    deadline = time.monotonic() + 30
    try:
        while forwarded < 6 and time.monotonic() < deadline:  # 3 copies + 3 states
            assert crashed._consumer is not None
            batches = await crashed._consumer.getmany(timeout_ms=200)
            forwarded += await crashed.forward(batches)  # acknowledged, never committed
    finally:
        await crashed.stop()
    assert forwarded == 6

    again = FanOut(
        name="t-fanout-b",
        source_topics=[source.name],
        route=route,
        kafka_settings=settings,
        group_id=group,
    )
    resent = 0
    deadline = time.monotonic() + 40
    try:
        while resent < 6 and time.monotonic() < deadline:
            resent += await again.poll_once()
        assert resent == 6
        assert await again.poll_once() == 0  # committed now: nothing more
    finally:
        await again.stop()

    # Dead-lettered by each attempt (the first one never committed past it): one source record.
    dead = await read_until(settings, source.dlq.name, 2)
    assert [r.value for r in dead] == [b"garbage", b"garbage"]
    assert {header(r, "dlq.error.type") for r in dead} == {"NotACloudEvent"}
    assert (
        len({(header(r, "dlq.original.partition"), header(r, "dlq.original.offset")) for r in dead})
        == 1
    )

    topic = district.awards_topic(district_id).name
    copies = await read_until(settings, topic, 6)
    assert sorted(header(r, "ce_id") for r in copies) == sorted(ids * 2)  # duplicated, same ids
    handled: list[str] = []
    seen = await example().consume(
        infra.kafka_bootstrap,
        district_id,
        group_id=unique_name("district-reader"),
        on_event=lambda event: handled.append(event.get_id()),
        stop_after_idle=2.0,
    )
    assert sorted(handled) == sorted(ids)  # the reference consumer dedupes by CloudEvent id
    assert seen == set(ids)
