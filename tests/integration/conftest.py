"""Fixtures for tests of the backbone itself: a fresh database with the backbone schema and the
test app's tables, a fresh topic with its dead-letter twin, and helpers to read topics."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import backbone_app
import pytest
from aiokafka import ConsumerRecord, TopicPartition
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from mc_events import kafka
from mc_events.db import create_engine, session_factory
from mc_events.telemetry import setup_tracing
from mc_events.testing import fresh_database, unique_name
from mc_events.topics import Topic, ensure_topics

HERE = Path(__file__).parent


@dataclass
class BackboneDb:
    url: str
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]


@pytest.fixture(scope="session")
def spans() -> InMemorySpanExporter:
    """Every span the process records (one tracer provider per process, installed once)."""
    exporter = InMemorySpanExporter()
    setup_tracing("backbone_test", exporter=exporter)
    return exporter


@pytest.fixture
def kafka_settings(infra, spans) -> kafka.KafkaSettings:
    return kafka.KafkaSettings(
        bootstrap_servers=infra.kafka_bootstrap,
        enable_idempotence=infra.kafka_idempotence,
        fetch_max_wait_ms=10,
        session_timeout_ms=6000,
        heartbeat_interval_ms=500,
        linger_ms=1,
    )


@pytest.fixture
async def db(infra) -> AsyncIterator[BackboneDb]:
    url = fresh_database(infra, "backbone")
    engine = create_engine(url, pool_size=5)
    await backbone_app.create_schema(engine)
    yield BackboneDb(url=url, engine=engine, sessions=session_factory(engine))
    await engine.dispose()


@pytest.fixture
async def topic(kafka_settings) -> str:
    name = unique_name("backbone.counters")
    admin = kafka.admin(kafka_settings)
    await admin.start()
    try:
        await ensure_topics(admin, Topic(name, 3, key="counter key", description="test").with_dlq())
    finally:
        await admin.close()
    return name


async def read_topic(
    settings: kafka.KafkaSettings, topic: str, *, at_least: int, timeout: float = 20.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of ``topic`` from the beginning, once at least ``at_least`` have arrived
    (then a short grace period for stragglers). Bounded by ``timeout``."""
    consumer = kafka.consumer(settings, group_id=None)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        records: list[ConsumerRecord[bytes, bytes]] = []
        deadline = time.monotonic() + timeout
        quiet_until: float | None = None
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=100)
            for recs in batch.values():
                records.extend(recs)
            if len(records) >= at_least:
                if quiet_until is None:
                    quiet_until = time.monotonic() + 0.5
                elif time.monotonic() >= quiet_until:
                    break
        return records
    finally:
        await consumer.stop()


class Proc:
    """A backbone_app process the test can kill; output goes to a log file for failures."""

    def __init__(
        self,
        role: str,
        db: BackboneDb,
        settings: kafka.KafkaSettings,
        topic: str,
        tmp_path: Path,
        *,
        faults: str = "",
        group: str = "g",
        batch: int = 50,
    ) -> None:
        self.log = tmp_path / f"{role}-{time.monotonic_ns()}.log"
        env = {**os.environ, "MC_FAULTS": faults}
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(HERE / "backbone_app.py"),
                role,
                "--db",
                db.url,
                "--kafka",
                settings.bootstrap_servers,
                "--topic",
                topic,
                "--group",
                group,
                "--batch",
                str(batch),
            ],
            env=env,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
        )

    async def wait(self, timeout: float) -> int | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                return code
            await asyncio.sleep(0.05)
        return None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def output(self) -> str:
        return self.log.read_text()
