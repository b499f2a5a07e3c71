"""Fixtures for tests of the backbone itself: a fresh database with the backbone schema and the
test app's tables, a fresh topic with its dead-letter twin, and helpers to read topics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import backbone_app
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from mc_devstack.testing import fresh_database, unique_name
from mc_events import kafka
from mc_events.db import create_engine, session_factory
from mc_events.telemetry import setup_tracing
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
