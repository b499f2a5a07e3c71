"""Backbone throughput on this machine: outbox writes, relay, consumer (one process each).

    make bench        (or: .venv/bin/python bench/backbone.py --events 20000)

Starts its own embedded (or given) PostgreSQL and broker under .run/bench, measures, and prints
events per second for: batched outbox writes (add_events, 500 per transaction), single-event
commands (a state change plus add_event per transaction), the relay draining the outbox to the
broker (acks=all), and a consumer applying every event once (inbox + one insert per event, one
transaction per batch). Also this machine's raw PostgreSQL single-row commit rate, so the
figures can be read as ratios. Numbers vary with load: compare ratios from one run.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import time
from pathlib import Path

import asyncpg
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))

import backbone_app  # noqa: E402  (the backbone's test application: counters and effects)

from mc_devstack.devinfra import start_infra  # noqa: E402
from mc_events import kafka  # noqa: E402
from mc_events.consumer import ConsumerSettings, wait_until  # noqa: E402
from mc_events.db import create_engine, plain_url, session_factory  # noqa: E402
from mc_events.outbox import OutboxRelay, RelaySettings, add_events  # noqa: E402
from mc_events.telemetry import BackboneMetrics  # noqa: E402
from mc_events.topics import Topic, ensure_topics  # noqa: E402


def rate(label: str, count: int, seconds: float, unit: str = "events") -> float:
    per_second = count / seconds
    print(f"  {label:<58} {count:>7,} {unit} in {seconds:6.2f} s = {per_second:>9,.0f}/s")
    return per_second


async def run(infra, events: int) -> None:
    url = infra.create_database("bench_backbone")
    engine = create_engine(url, pool_size=5)
    await backbone_app.create_schema(engine)
    sessions = session_factory(engine)
    settings = kafka.KafkaSettings(
        bootstrap_servers=infra.kafka_bootstrap,
        enable_idempotence=infra.kafka_idempotence,
        fetch_max_wait_ms=10,
    )
    admin = kafka.admin(settings)
    await admin.start()
    await ensure_topics(admin, Topic("bench.counters", 12, key="k", description="").with_dlq())
    await admin.close()
    contract = backbone_app.counter_contract("bench.counters")

    # The ceiling: plain asyncpg, one single-row INSERT per autocommitted statement.
    raw_conn = await asyncpg.connect(plain_url(url))
    await raw_conn.execute("CREATE TABLE raw_commit (id bigserial primary key, v int)")
    start = time.perf_counter()
    for i in range(2000):
        await raw_conn.execute("INSERT INTO raw_commit (v) VALUES ($1)", i)
    await raw_conn.close()
    raw = rate(
        "raw: PostgreSQL single-row INSERT commits (asyncpg, 1 client)",
        2000,
        time.perf_counter() - start,
        "commits",
    )

    start = time.perf_counter()
    for first in range(0, events, 500):
        async with sessions() as session, session.begin():
            await add_events(
                session, [contract(key=f"k{i % 1000}", n=i) for i in range(first, first + 500)]
            )
    rate("outbox writes (add_events, 500 per transaction)", events, time.perf_counter() - start)

    commands = 2000
    start = time.perf_counter()
    for i in range(commands):
        await backbone_app.increment(sessions, contract, f"k{i % 1000}")
    single = rate(
        "commands (state change + add_event, 1 per transaction)",
        commands,
        time.perf_counter() - start,
        "commands",
    )
    print(f"  {'':<58} = {single / raw:.0%} of the raw commit rate")

    total = events + commands
    relay = OutboxRelay(
        engine=engine,
        kafka_settings=settings,
        metrics=BackboneMetrics("bench"),
        settings=RelaySettings(batch_size=1000),
    )
    start = time.perf_counter()
    while await relay.publish_pending():
        pass
    rate("relay: outbox to broker, acks=all, marked sent", total, time.perf_counter() - start)
    await relay.stop()

    consumer = backbone_app.make_consumer(sessions, settings, contract, "bench-consumer")
    consumer.settings = ConsumerSettings(max_records=1000)
    await consumer.start()

    async def all_applied() -> bool:
        await consumer.poll_once()
        async with engine.connect() as conn:
            applied = await conn.execute(sa.text("SELECT count(*) FROM effects"))
            return applied.scalar_one() >= total

    start = time.perf_counter()
    assert await wait_until(all_applied, 600), "consumer did not finish"
    rate("consumer: inbox + effect per event, one tx per batch", total, time.perf_counter() - start)
    await consumer.stop()
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    args = parser.parse_args()
    run_dir = ROOT / ".run" / "bench"
    shutil.rmtree(run_dir, ignore_errors=True)
    with start_infra(run_dir) as handle:
        kinds = handle.infra.kind
        print(f"backbone benchmark (postgres: {kinds.postgres}, kafka: {kinds.kafka})")
        asyncio.run(run(handle.infra, args.events))
    shutil.rmtree(run_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
