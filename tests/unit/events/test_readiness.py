"""Readiness reflects what the process serves: the broker is checked in the background with one
long-lived admin client (made anew only after a failure, every call bounded in time), and its
state is reported, exported as ``<service>_dependency_up``, and never by itself a 503. Also:
the outbox relay's LISTEN connection may go to its own URL (``<SERVICE>_DATABASE_LISTEN_URL``)."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from mc_events import outbox
from mc_events.db import create_engine
from mc_events.kafka import KafkaSettings
from mc_events.outbox import OutboxRelay
from mc_events.telemetry import BackboneMetrics
from mc_platform.service import (
    BrokerProbe,
    ServiceDefinition,
    ServiceRuntime,
    ServiceSettings,
    create_app,
)


class FakeAdmin:
    def __init__(self, world: World) -> None:
        self.world = world
        self.closed = False

    async def start(self) -> None:
        if self.world.down:
            raise ConnectionError("broker down")

    async def list_topics(self) -> list[str]:
        self.world.listings += 1
        if self.world.hang:
            await asyncio.sleep(3600)
        if self.world.down:
            raise ConnectionError("broker down")
        return ["a"]

    async def close(self) -> None:
        self.closed = True


class World:
    def __init__(self) -> None:
        self.down = False
        self.hang = False
        self.listings = 0
        self.admins: list[FakeAdmin] = []

    def admin(self, _settings: KafkaSettings) -> FakeAdmin:
        admin = FakeAdmin(self)
        self.admins.append(admin)
        return admin


def probe(world: World, **kw: Any) -> tuple[BrokerProbe, list[bool]]:
    results: list[bool] = []
    return BrokerProbe(KafkaSettings(), admin=world.admin, on_result=results.append, **kw), results


async def test_checks_reuse_one_admin_client_while_it_works():
    world = World()
    broker, results = probe(world)
    for _ in range(5):
        assert await broker.check()
    assert len(world.admins) == 1
    assert world.listings == 5
    assert broker.detail == "ok"
    assert results == [True] * 5
    await broker.close()
    assert world.admins[0].closed


async def test_a_failed_check_closes_the_client_and_the_next_makes_a_new_one():
    world = World()
    broker, results = probe(world)
    assert await broker.check()
    world.down = True
    assert not await broker.check()
    assert broker.detail == "unavailable: ConnectionError"
    assert world.admins[0].closed
    assert not await broker.check()
    world.down = False
    assert await broker.check()
    assert broker.detail == "ok"
    assert results == [True, False, False, True]
    assert len(world.admins) == 3
    await broker.close()


async def test_a_check_that_hangs_is_cut_at_the_timeout():
    world = World()
    world.hang = True
    broker, results = probe(world, timeout=0.1)
    started = asyncio.get_running_loop().time()
    assert not await broker.check()
    assert asyncio.get_running_loop().time() - started < 2
    assert broker.detail == "unavailable: TimeoutError"
    assert results == [False]


async def test_the_background_probe_checks_every_interval_until_stopped():
    world = World()
    broker, _ = probe(world, interval=0.02)
    stop = asyncio.Event()
    task = asyncio.create_task(broker.run(stop))
    await asyncio.sleep(0.2)
    stop.set()
    await asyncio.wait_for(task, 2)
    assert world.listings >= 3
    assert len(world.admins) == 1
    assert world.admins[0].closed


def dead_address() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


def definition(**settings: Any) -> ServiceDefinition:
    return ServiceDefinition(
        name="probe",
        title="Probe",
        description="",
        settings=ServiceSettings(
            port=1,
            kafka=KafkaSettings(bootstrap_servers=dead_address(), request_timeout_ms=2000),
            **{"database_url": f"postgresql://nobody@{dead_address()}/x", **settings},
        ),
        migrations_dir=Path("unused"),
        registry=CollectorRegistry(),
    )


def gauge(service: ServiceDefinition, dependency: str) -> float | None:
    return service.registry.get_sample_value("probe_dependency_up", {"dependency": dependency})


async def test_readyz_reports_the_probed_broker_and_answers_503_only_for_the_database():
    service = definition()
    app = create_app(service, relay=False, consumers=False)
    runtime: ServiceRuntime = app.state.runtime
    runtime.broker.record(False, "unavailable: KafkaConnectionError")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        ready = await client.get("/readyz")
        body = ready.json()
        assert ready.status_code == 503  # the database is unreachable
        assert body["checks"]["database"].startswith("unavailable")
        assert body["checks"]["broker"] == "unavailable: KafkaConnectionError"
        assert body["degraded"] == ["broker"]
        assert gauge(service, "broker") == 0
        assert gauge(service, "database") == 0
        metrics = (await client.get("/metrics")).text
        assert 'probe_dependency_up{dependency="broker"} 0.0' in metrics

        runtime.broker.record(True, "ok")
        runtime._topics_ready = True
        body = (await client.get("/readyz")).json()
        assert body["checks"]["broker"] == "ok"
        assert body["degraded"] == []
        assert gauge(service, "broker") == 1
    await runtime.engine.dispose()


async def test_readiness_opens_no_broker_connection(monkeypatch):
    from mc_platform import service as service_module

    opened: list[object] = []
    monkeypatch.setattr(service_module.kafka_clients, "admin", lambda s: opened.append(s))
    app = create_app(definition(), relay=False, consumers=False)
    runtime: ServiceRuntime = app.state.runtime
    for _ in range(3):
        await runtime.readiness()
    assert opened == []
    await runtime.engine.dispose()


# -- <SERVICE>_DATABASE_LISTEN_URL ---------------------------------------------------------


class FakeListener:
    def __init__(self) -> None:
        self.channels: list[str] = []

    async def add_listener(self, channel: str, _callback: Any) -> None:
        self.channels.append(channel)

    def is_closed(self) -> bool:
        return False

    async def close(self, timeout: float | None = None) -> None:
        pass


async def listen_url_of(monkeypatch: pytest.MonkeyPatch, listen_url: str | None) -> str:
    connected: list[str] = []

    async def connect(url: str) -> FakeListener:
        connected.append(url)
        return FakeListener()

    monkeypatch.setattr(outbox.asyncpg, "connect", connect)
    engine = create_engine("postgresql+asyncpg://app:pw@pgbouncer:6432/registry")
    relay = OutboxRelay(
        engine=engine,
        kafka_settings=KafkaSettings(),
        metrics=BackboneMetrics("listen", CollectorRegistry()),
        listen_url=listen_url,
    )
    await relay._ensure_listener()
    await relay._close_listener()
    await engine.dispose()
    (url,) = connected
    return url


async def test_the_relay_listens_on_the_listen_url_when_set(monkeypatch):
    url = await listen_url_of(monkeypatch, "postgresql+asyncpg://app:pw@postgres:5432/registry")
    assert url == "postgresql://app:pw@postgres:5432/registry"


async def test_the_relay_listens_on_the_database_url_by_default(monkeypatch):
    url = await listen_url_of(monkeypatch, None)
    assert url == "postgresql://app:pw@pgbouncer:6432/registry"


def test_the_listen_url_setting_reaches_the_relay(monkeypatch):
    from registry.config import Settings

    monkeypatch.setenv("REGISTRY_DATABASE_LISTEN_URL", "postgresql://app@postgres:5432/registry")
    settings = Settings()
    assert settings.database_listen_url == "postgresql://app@postgres:5432/registry"
    runtime = ServiceRuntime(
        ServiceDefinition(
            name="listen",
            title="",
            description="",
            settings=settings,
            migrations_dir=Path("unused"),
        )
    )
    assert runtime.relay._listen_url == "postgresql://app@postgres:5432/registry"
    assert Settings(database_listen_url=None).database_listen_url is None
