"""Fixtures for the compensation service's integration tests: the service running in-process on
a fresh database and the session's broker, and a producer for its input topics. Helpers live
in compensation_helpers (a unique module name: every test folder may have a conftest)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from compensation_helpers import Producer

from compensation.bootstrap import build
from compensation.config import Settings
from mc_devstack.testing import RunningService, running_service, unique_name
from mc_events import kafka


@pytest.fixture
async def svc(infra) -> AsyncIterator[RunningService]:
    async with running_service(build, Settings, infra) as service:
        yield service


@pytest.fixture
async def producer(infra) -> AsyncIterator[Producer]:
    settings = kafka.KafkaSettings(
        bootstrap_servers=infra.kafka_bootstrap,
        enable_idempotence=infra.kafka_idempotence,
        linger_ms=1,
    )
    client = kafka.producer(settings, client_id=unique_name("compensation-test"))
    await client.start()
    try:
        yield Producer(client)
    finally:
        await client.stop()
