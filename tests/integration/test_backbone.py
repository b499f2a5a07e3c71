"""The backbone's guarantees, on a real broker and a real PostgreSQL.

An event committed with a state change reaches the consumer's effects exactly once, whatever
crashes in between; an event whose transaction rolls back never leaves; poison records go to the
dead-letter topic and the consumer goes on; each key's events keep their order end to end.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
from collections import defaultdict

import backbone_app
import sqlalchemy as sa
from backbone_app import counter_contract, effects, failing_keys
from backbone_helpers import Proc, read_topic

from mc_events import kafka
from mc_events.consumer import wait_until
from mc_events.db import execute_core
from mc_events.envelope import parse_record, to_record
from mc_events.outbox import add_event, add_events
from mc_events.storage import outbox
from mc_events.telemetry import tracer


async def effect_rows(db) -> list[tuple[str, str, int]]:
    async with db.engine.connect() as conn:
        result = await conn.execute(
            sa.select(effects.c.event_id, effects.c.key, effects.c.n).order_by(effects.c.id)
        )
        return [tuple(row) for row in result.all()]


async def unpublished(db) -> int:
    async with db.engine.connect() as conn:
        return (
            await conn.execute(
                sa.select(sa.func.count())
                .select_from(outbox)
                .where(outbox.c.published_at.is_(None))
            )
        ).scalar_one()


async def publish_all(db, kafka_settings) -> int:
    """One relay, run until the outbox is drained; returns how many events it published."""
    relay = backbone_app.make_relay(db.engine, kafka_settings)
    published = 0
    try:
        while claimed := await relay.publish_pending():
            published += claimed
    finally:
        await relay.stop()
    return published


async def consume_until(consumer, predicate, timeout: float = 30.0) -> None:
    """Drive ``consumer`` batch by batch until ``predicate()`` holds (bounded)."""
    await consumer.start()
    try:

        async def step() -> bool:
            await consumer.poll_once()
            return await predicate()

        assert await wait_until(step, timeout), "consumer did not reach the expected state in time"
    finally:
        await consumer.stop()


async def test_an_event_whose_transaction_rolls_back_is_never_published(db, kafka_settings, topic):
    contract = counter_contract(topic)
    async with db.sessions() as session, session.begin():
        await add_event(session, contract(key="rolled-back", n=1))
        await session.rollback()
    await backbone_app.increment(db.sessions, contract, "committed")

    assert await publish_all(db, kafka_settings) == 1

    records = await read_topic(kafka_settings, topic, at_least=1)
    assert [r.key for r in records] == [b"committed"]
    assert await unpublished(db) == 0


async def test_relay_killed_after_publishing_before_marking_sent_still_yields_effects_exactly_once(
    db, kafka_settings, topic, tmp_path
):
    contract = counter_contract(topic)
    for i in range(20):
        await backbone_app.increment(db.sessions, contract, f"k{i % 4}")

    crashing = Proc("relay", db, kafka_settings, topic, tmp_path, faults="relay.after_publish")
    assert await crashing.wait(30) == -9, crashing.output()
    # The broker has the records, but the outbox still says "not sent".
    assert len(await read_topic(kafka_settings, topic, at_least=20)) == 20
    assert await unpublished(db) == 20

    await publish_all(db, kafka_settings)
    assert await unpublished(db) == 0
    published = await read_topic(kafka_settings, topic, at_least=40)
    assert len(published) == 40, "each event is on the topic twice: before and after the crash"

    consumer = backbone_app.make_consumer(db.sessions, kafka_settings, contract, f"{topic}-g")

    async def twenty_effects() -> bool:
        return len(await effect_rows(db)) >= 20

    await consume_until(consumer, twenty_effects)
    await asyncio.sleep(0.3)
    await consumer.start()
    await consumer.poll_once()  # anything left is a duplicate
    await consumer.stop()
    rows = await effect_rows(db)
    assert len(rows) == 20
    assert len({event_id for event_id, _, _ in rows}) == 20


async def test_consumer_killed_after_db_commit_before_offset_commit_applies_each_event_once(
    db, kafka_settings, topic, tmp_path
):
    contract = counter_contract(topic)
    for i in range(30):
        await backbone_app.increment(db.sessions, contract, f"k{i % 3}")
    await publish_all(db, kafka_settings)

    group = f"{topic}-g"
    crashing = Proc(
        "consume",
        db,
        kafka_settings,
        topic,
        tmp_path,
        faults="consumer.after_db_commit",
        group=group,
        batch=10,
    )
    assert await crashing.wait(60) == -9, crashing.output()
    applied_before_restart = len(await effect_rows(db))
    assert applied_before_restart > 0, "the crash came after a database commit"

    # The same group resumes from the last committed offset: the batch comes again.
    survivor = Proc("consume", db, kafka_settings, topic, tmp_path, group=group, batch=10)
    try:

        async def all_applied() -> bool:
            return len(await effect_rows(db)) >= 30

        assert await wait_until(all_applied, 60), survivor.output()
        await asyncio.sleep(1.0)  # let any duplicate application show up
    finally:
        survivor.stop()
    rows = await effect_rows(db)
    assert len(rows) == 30
    assert len({event_id for event_id, _, _ in rows}) == 30


async def test_poison_records_go_to_the_dead_letter_topic_and_the_next_record_is_processed(
    db, kafka_settings, topic
):
    contract = counter_contract(topic)
    async with db.sessions() as session, session.begin():
        await execute_core(session, failing_keys.insert().values(key="always-fails"))

    producer = kafka.producer(kafka_settings)
    await producer.start()
    try:
        # Every poison record and the good one share a partition, so "next" is well defined.
        key = b"same-partition"
        await producer.send_and_wait(topic, b"not a cloudevent", key=key)
        invalid = to_record(contract(key="x", n=1), source="/test")
        await producer.send_and_wait(
            topic, b'{"key": "x", "n": "not a number"}', key=key, headers=invalid.headers
        )
        failing = to_record(contract(key="always-fails", n=1), source="/test")
        await producer.send_and_wait(topic, failing.value, key=key, headers=failing.headers)
        good = to_record(contract(key="good", n=1), source="/test")
        await producer.send_and_wait(topic, good.value, key=key, headers=good.headers)
    finally:
        await producer.stop()

    consumer = backbone_app.make_consumer(db.sessions, kafka_settings, contract, f"{topic}-g")

    async def good_applied() -> bool:
        return [k for _, k, _ in await effect_rows(db)] == ["good"]

    await consume_until(consumer, good_applied)

    dead = await read_topic(kafka_settings, f"{topic}.dlq", at_least=3)
    errors = [dict(r.headers) for r in dead]
    assert [h["dlq.error.type"].decode() for h in errors] == [
        "NotACloudEvent",
        "InvalidPayload",
        "RuntimeError",
    ]
    assert all(h["dlq.original.topic"].decode() == topic for h in errors)
    assert b"refusing key always-fails" in errors[2]["dlq.error.message"]
    assert errors[2]["dlq.attempts"] == b"2"
    assert dead[2].value == failing.value, "the dead letter keeps the original record"


async def test_a_non_retryable_handler_error_is_dead_lettered_without_retries(
    db, kafka_settings, topic
):
    contract = counter_contract(topic)
    async with db.sessions() as session, session.begin():
        await execute_core(session, failing_keys.insert().values(key="unknown-enrollment"))
        await add_event(session, contract(key="unknown-enrollment", n=1))
    await backbone_app.increment(db.sessions, contract, "fine")
    await publish_all(db, kafka_settings)

    consumer = backbone_app.make_consumer(db.sessions, kafka_settings, contract, f"{topic}-g")

    async def fine_applied() -> bool:
        return [k for _, k, _ in await effect_rows(db)] == ["fine"]

    await consume_until(consumer, fine_applied)
    dead = await read_topic(kafka_settings, f"{topic}.dlq", at_least=1)
    assert len(dead) == 1
    assert dict(dead[0].headers)["dlq.error.type"] == b"NonRetryableError"
    assert dict(dead[0].headers)["dlq.attempts"] == b"1"


async def test_each_keys_events_keep_commit_order_through_concurrent_writers_two_relays_a_consumer(
    db, kafka_settings, topic
):
    contract = counter_contract(topic)
    keys = [f"educator-{i}" for i in range(8)]
    per_writer = 40
    rng = random.Random(7)

    async def writer() -> None:
        for _ in range(per_writer):
            await backbone_app.increment(db.sessions, contract, rng.choice(keys))

    stop = asyncio.Event()
    relays = [backbone_app.make_relay(db.engine, kafka_settings, batch_size=7) for _ in range(2)]
    relay_tasks = [asyncio.create_task(r.run(stop)) for r in relays]
    try:
        await asyncio.gather(*(writer() for _ in range(5)))
        total = 5 * per_writer

        async def all_published() -> bool:
            return await unpublished(db) == 0

        assert await wait_until(all_published, 30)
    finally:
        stop.set()
        await asyncio.gather(*relay_tasks)

    records = await read_topic(kafka_settings, topic, at_least=total)
    assert len(records) == total, "no crash, so two relays publish every event exactly once"
    on_broker: dict[bytes, list[int]] = defaultdict(list)
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        envelope = parse_record(record.headers, record.key, record.value)
        on_broker[record.key].append(contract.model_validate_json(envelope.data).n)
    for key, values in on_broker.items():
        assert values == sorted(values) == list(range(1, len(values) + 1)), key

    consumer = backbone_app.make_consumer(db.sessions, kafka_settings, contract, f"{topic}-g")

    async def all_applied() -> bool:
        return len(await effect_rows(db)) >= total

    await consume_until(consumer, all_applied)
    applied: dict[str, list[int]] = defaultdict(list)
    for _, key, n in await effect_rows(db):
        applied[key].append(n)
    for key, values in applied.items():
        assert values == list(range(1, len(values) + 1)), key


async def test_relay_wakes_on_notify_without_waiting_for_the_poll(db, kafka_settings, topic):
    contract = counter_contract(topic)
    relay = backbone_app.make_relay(db.engine, kafka_settings)
    relay.settings = type(relay.settings)(poll_interval=30.0)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        await asyncio.sleep(1.0)  # relay is idle, listening
        await backbone_app.increment(db.sessions, contract, "notify-me")

        async def published() -> bool:
            return await unpublished(db) == 0

        assert await wait_until(published, 5.0), "published only by NOTIFY: the poll is 30 s away"
    finally:
        stop.set()
        await task


async def test_outbox_backlog_and_age_are_exported(db, kafka_settings, topic):
    contract = counter_contract(topic)
    for _ in range(3):
        await backbone_app.increment(db.sessions, contract, "backlog")
    relay = backbone_app.make_relay(db.engine, kafka_settings)
    try:
        count, age = await relay.refresh_stats()
        assert count == 3
        assert age >= 0
        registry = relay._metrics.registry
        assert registry.get_sample_value("backbone_test_outbox_backlog") == 3
        await relay.publish_pending()
        assert await relay.refresh_stats() == (0, 0.0)
        assert registry.get_sample_value("backbone_test_outbox_backlog") == 0
        assert (
            registry.get_sample_value("backbone_test_events_published_total", {"topic": topic}) == 3
        )
    finally:
        await relay.stop()


async def test_records_carry_cloudevents_binary_headers_and_a_plain_sdk_reads_them(
    db, kafka_settings, topic
):
    from cloudevents.core.bindings import kafka as ce_kafka
    from cloudevents.core.formats.json import JSONFormat

    contract = counter_contract(topic)
    await backbone_app.increment(db.sessions, contract, "educator-42")
    await publish_all(db, kafka_settings)
    (record,) = await read_topic(kafka_settings, topic, at_least=1)
    headers = dict(record.headers)
    for name in (
        "ce_id",
        "ce_source",
        "ce_type",
        "ce_specversion",
        "ce_time",
        "ce_subject",
        "content-type",
        "traceparent",
    ):
        assert name in headers, name
    assert record.key == b"educator-42"
    event = ce_kafka.from_binary(
        ce_kafka.KafkaMessage(headers=headers, key=record.key, value=record.value), JSONFormat()
    )
    assert event.get_type() == contract.ce_type()
    assert event.get_source() == "/mc/backbone_test"
    assert event.get_extension("partitionkey") == "educator-42"
    assert event.get_data() == {"key": "educator-42", "n": 1}


async def test_one_trace_spans_the_request_the_outbox_the_broker_and_the_handler(
    db, kafka_settings, topic, spans
):
    contract = counter_contract(topic)
    with tracer().start_as_current_span("POST /counters") as request_span:
        await backbone_app.increment(db.sessions, contract, "traced")
    trace_id = request_span.get_span_context().trace_id

    await publish_all(db, kafka_settings)
    consumer = backbone_app.make_consumer(db.sessions, kafka_settings, contract, f"{topic}-g")

    async def applied() -> bool:
        return len(await effect_rows(db)) == 1

    await consume_until(consumer, applied)

    finished = {s.name: s for s in spans.get_finished_spans() if s.context.trace_id == trace_id}
    publish, process = finished[f"{topic} publish"], finished[f"{topic} process"]
    assert publish.parent.span_id == request_span.get_span_context().span_id
    assert process.parent.span_id == publish.context.span_id
    assert process.attributes["messaging.destination.name"] == topic


async def test_operator_lists_dead_letters_and_replays_one_after_the_fix(db, kafka_settings, topic):
    contract = counter_contract(topic)
    async with db.sessions() as session, session.begin():
        await execute_core(session, failing_keys.insert().values(key="flaky"))
    await backbone_app.increment(db.sessions, contract, "flaky")
    await backbone_app.increment(db.sessions, contract, "steady")
    await publish_all(db, kafka_settings)
    consumer = backbone_app.make_consumer(db.sessions, kafka_settings, contract, f"{topic}-g")

    async def steady_applied() -> bool:
        return [k for _, k, _ in await effect_rows(db)] == ["steady"]

    await consume_until(consumer, steady_applied)

    cli = [sys.executable, "-m", "mc_events.cli"]
    boot = ["--bootstrap", kafka_settings.bootstrap_servers]
    env = {**os.environ, "KAFKA_ENABLE_IDEMPOTENCE": str(kafka_settings.enable_idempotence)}
    listed = subprocess.run(
        [*cli, "dlq", "list", topic, "--json", *boot],
        capture_output=True,
        text=True,
        timeout=90,
        env=env,
    )
    assert listed.returncode == 0, listed.stderr
    (letter,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert letter["error_type"] == "RuntimeError"
    assert letter["consumer"] == f"{topic}-g"
    assert letter["original"].startswith(f"{topic}[")

    # The cause is fixed; the operator replays that one event.
    async with db.sessions() as session, session.begin():
        await execute_core(session, failing_keys.delete())
    replayed = subprocess.run(
        [*cli, "dlq", "replay", topic, "--event-id", letter["event_id"], *boot],
        capture_output=True,
        text=True,
        timeout=90,
        env=env,
    )
    assert replayed.returncode == 0, replayed.stderr
    assert "replayed 1" in replayed.stdout

    async def both_applied() -> bool:
        return sorted(k for _, k, _ in await effect_rows(db)) == ["flaky", "steady"]

    await consume_until(consumer, both_applied)
    rows = await effect_rows(db)
    assert [event_id for event_id, key, _ in rows if key == "flaky"] == [letter["event_id"]]


async def test_a_member_leaving_mid_stream_hands_its_partitions_over_and_nothing_is_applied_twice(
    db, kafka_settings, topic
):
    contract = counter_contract(topic)
    for i in range(120):
        await backbone_app.increment(db.sessions, contract, f"k{i % 12}")
    await publish_all(db, kafka_settings)

    group = f"{topic}-g"
    first = backbone_app.make_consumer(db.sessions, kafka_settings, contract, group, name=group)
    second = backbone_app.make_consumer(db.sessions, kafka_settings, contract, group, name=group)
    for member in (first, second):
        member.settings = type(member.settings)(max_records=5)
    stop_first, stop_second = asyncio.Event(), asyncio.Event()
    tasks = [
        asyncio.create_task(first.run(stop_first)),
        asyncio.create_task(second.run(stop_second)),
    ]
    try:

        async def some_applied() -> bool:
            return len(await effect_rows(db)) >= 20

        assert await wait_until(some_applied, 60)
        stop_first.set()  # graceful: finishes its batch, commits, leaves the group
        await tasks[0]

        async def all_applied() -> bool:
            return len(await effect_rows(db)) >= 120

        assert await wait_until(all_applied, 60), "the remaining member took over"
        await asyncio.sleep(1.0)
    finally:
        stop_first.set()
        stop_second.set()
        await asyncio.gather(*tasks)
    rows = await effect_rows(db)
    assert len(rows) == 120
    assert len({event_id for event_id, _, _ in rows}) == 120


async def test_a_batch_of_events_numbers_each_key_in_order_and_continues_its_sequence(
    db, kafka_settings, topic
):
    contract = counter_contract(topic)
    await backbone_app.increment(db.sessions, contract, "a")  # a: seq 1
    async with db.sessions() as session, session.begin():
        await add_events(
            session,
            [contract(key="a", n=2), contract(key="b", n=1), contract(key="a", n=3)],
        )
    await backbone_app.increment(db.sessions, contract, "b")  # b: seq 2, after the batch

    async with db.engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(outbox.c.partition_key, outbox.c.key_seq, outbox.c.payload).order_by(
                    outbox.c.partition_key, outbox.c.key_seq
                )
            )
        ).all()
    sequence = [(key, seq, json.loads(payload)["n"]) for key, seq, payload in rows]
    assert sequence == [("a", 1, 1), ("a", 2, 2), ("a", 3, 3), ("b", 1, 1), ("b", 2, 1)]

    await publish_all(db, kafka_settings)
    records = await read_topic(kafka_settings, topic, at_least=5)
    on_broker: dict[bytes, list[int]] = defaultdict(list)
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        on_broker[record.key].append(json.loads(record.value)["n"])
    assert on_broker[b"a"] == [1, 2, 3]


async def test_relay_keeps_events_while_the_broker_is_unreachable_and_publishes_them_after(
    db, kafka_settings, topic
):
    contract = counter_contract(topic)
    for _ in range(3):
        await backbone_app.increment(db.sessions, contract, "patient")
    unreachable = kafka_settings.model_copy(
        update={"bootstrap_servers": "127.0.0.1:9", "request_timeout_ms": 1000}
    )
    relay = backbone_app.make_relay(db.engine, unreachable)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    await asyncio.sleep(2.0)
    stop.set()
    await task
    assert relay._metrics.registry.get_sample_value("backbone_test_relay_errors_total") >= 2
    assert await unpublished(db) == 3, "nothing marked sent while nothing was sent"

    assert await publish_all(db, kafka_settings) == 3
    assert len(await read_topic(kafka_settings, topic, at_least=3)) == 3


async def test_a_database_outage_in_a_handler_is_retried_not_dead_lettered(
    db, kafka_settings, topic
):
    contract = counter_contract(topic)
    async with db.sessions() as session, session.begin():
        await execute_core(session, failing_keys.insert().values(key="db-down-1"))
    await backbone_app.increment(db.sessions, contract, "db-down-1")
    await publish_all(db, kafka_settings)

    consumer = backbone_app.make_consumer(db.sessions, kafka_settings, contract, f"{topic}-g")
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        await asyncio.sleep(2.0)  # the "outage": every attempt fails
        assert await effect_rows(db) == []
        async with db.sessions() as session, session.begin():
            await execute_core(session, failing_keys.delete())  # the database is back

        async def applied() -> bool:
            return len(await effect_rows(db)) == 1

        assert await wait_until(applied, 30)
    finally:
        stop.set()
        await task
    dead = await read_topic(kafka_settings, f"{topic}.dlq", at_least=0, timeout=2.0)
    assert dead == [], "an infrastructure failure is not the event's fault"


async def test_a_large_batch_is_copied_in_keeps_each_keys_order_and_still_wakes_the_relay(
    db, kafka_settings, topic
):
    from mc_events.outbox import COPY_THRESHOLD

    contract = counter_contract(topic)
    await backbone_app.increment(db.sessions, contract, "k0")  # k0 already at seq 1
    relay = backbone_app.make_relay(db.engine, kafka_settings, batch_size=1000)
    relay.settings = type(relay.settings)(poll_interval=30.0, batch_size=1000)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        await asyncio.sleep(1.0)  # idle: only a NOTIFY can wake it within the test
        size = 2 * COPY_THRESHOLD
        events = [contract(key=f"k{i % 10}", n=i) for i in range(size)]
        async with db.sessions() as session, session.begin():
            await add_events(session, events)

        async def published() -> bool:
            return await unpublished(db) == 0

        assert await wait_until(published, 10.0), "COPY fired the notify trigger"
    finally:
        stop.set()
        await task

    async with db.engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(outbox.c.partition_key, outbox.c.key_seq, outbox.c.payload)
                .where(outbox.c.partition_key == "k0")
                .order_by(outbox.c.key_seq)
            )
        ).all()
    assert [seq for _, seq, _ in rows] == list(range(1, size // 10 + 2))
    assert [json.loads(p)["n"] for _, _, p in rows[1:]] == list(range(0, size, 10))
    records = await read_topic(kafka_settings, topic, at_least=size + 1)
    assert len(records) == size + 1
