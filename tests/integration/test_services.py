"""Every service starts on the backbone the same way: migrations apply (twice, harmlessly), the
app serves health, readiness, metrics and its OpenAPI document, and its topics exist."""

from __future__ import annotations

import asyncio
import importlib
import os
import subprocess
import sys

import httpx
import pytest

from mc_devstack.testing import fresh_database
from mc_events import kafka
from mc_events.topics import ensure_topics
from mc_platform import migrations
from mc_platform.service import ServiceDefinition, create_app

SERVICES = ["enrollment", "review", "registry", "compensation"]


def definition(name: str, database_url: str, kafka_settings: kafka.KafkaSettings):
    bootstrap = importlib.import_module(f"{name}.bootstrap")
    config = importlib.import_module(f"{name}.config")
    settings = config.Settings(database_url=database_url, kafka=kafka_settings)
    built: ServiceDefinition = bootstrap.build(settings)
    return built


def migrate(name: str, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, f"{name.upper()}_DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", name, "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("name", SERVICES)
async def test_service_migrates_starts_and_reports_ready(name, infra, kafka_settings):
    database_url = fresh_database(infra, name)
    result = migrate(name, database_url)
    assert result.returncode == 0, result.stderr[-2000:]
    service = definition(name, database_url, kafka_settings)
    # A second run (another replica starting, say) finds everything in place.
    await asyncio.to_thread(migrations.upgrade, service.migrations_dir, database_url)

    app = create_app(service)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            assert (await client.get("/healthz")).json() == {"status": "ok", "service": name}

            ready = await client.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json()["checks"] == {"database": "ok", "broker": "ok"}
            assert ready.json()["degraded"] == []

            metrics = (await client.get("/metrics")).text
            for metric in ("outbox_backlog", "outbox_oldest_age_seconds", "events_published_total"):
                assert f"{name}_{metric}" in metrics

            openapi = (await client.get("/openapi.json")).json()
            assert openapi["info"]["title"] == service.title
            assert {"/healthz", "/readyz", "/metrics"} <= set(openapi["paths"])
            assert (await client.get("/docs")).status_code == 200

    admin = kafka.admin(kafka_settings)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        for topic in [*service.publishes, *service.subscribes]:
            assert {topic.name, f"{topic.name}.dlq"} <= existing
        # Start-up is idempotent: a second creation finds nothing missing.
        assert await ensure_topics(admin, [*service.publishes, *service.subscribes]) == []
    finally:
        await admin.close()


async def test_readiness_fails_clearly_when_the_database_is_unreachable(kafka_settings):
    service = definition("registry", "postgresql://nobody@127.0.0.1:9/registry", kafka_settings)
    app = create_app(service, relay=False, consumers=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"].startswith("unavailable")


async def test_without_a_broker_the_service_serves_its_database_and_reports_ready(infra):
    """The broker unreachable (from the start): the API still starts, /readyz answers 200
    with the broker reported unavailable (readiness pulls no pod that serves database reads),
    and the dependency gauge says so."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{s.getsockname()[1]}"
    database_url = fresh_database(infra, "registry")
    service = definition(
        "registry", database_url, kafka.KafkaSettings(bootstrap_servers=dead, client_id="nobroker")
    )
    await asyncio.to_thread(migrations.upgrade, service.migrations_dir, database_url)
    app = create_app(service)
    async with asyncio.timeout(60), app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            ready = await client.get("/readyz")
            assert ready.status_code == 200, ready.text
            body = ready.json()
            assert body["status"] == "ready"
            assert body["degraded"] == ["broker"]
            assert body["checks"]["database"] == "ok"
            assert body["checks"]["broker"].startswith("unavailable: ")
            registry = service.registry
            assert (
                registry.get_sample_value("registry_dependency_up", {"dependency": "broker"}) == 0
            )
            assert (
                registry.get_sample_value("registry_dependency_up", {"dependency": "database"}) == 1
            )
            assert (
                'registry_dependency_up{dependency="broker"} 0.0'
                in (await client.get("/metrics")).text
            )
            # A database-only read is served.
            assert (await client.get("/healthz")).status_code == 200
            assert (await client.get("/openapi.json")).status_code == 200


async def test_the_in_process_harness_runs_a_service_with_its_own_database_and_token_issuer(infra):
    from mc_devstack.testing import running_service
    from mc_platform.auth import Role
    from registry.bootstrap import build
    from registry.config import Settings

    async with running_service(build, Settings, infra) as svc:
        assert (await svc.client.get("/readyz")).status_code == 200
        assert svc.runtime.consumers[0].group_id.startswith("registry-")
        headers = svc.auth("admin-1", Role.STATE_ADMIN)
        principal = svc.app.state.token_verifier.verify(headers["Authorization"].split()[1])
        assert principal.roles == {Role.STATE_ADMIN}


async def test_business_metrics_defined_on_the_service_registry_are_exported(infra):
    from prometheus_client import Counter

    from mc_devstack.testing import running_service
    from registry.bootstrap import build
    from registry.config import Settings

    async with running_service(build, Settings, infra) as svc:
        awards = Counter(
            "registry_test_awards", "Awards in this test", registry=svc.definition.registry
        )
        awards.inc(3)
        metrics = (await svc.client.get("/metrics")).text
    assert "registry_test_awards_total 3.0" in metrics
    assert "registry_outbox_backlog" in metrics


async def test_a_streamed_body_over_the_limit_is_a_clean_413_through_the_whole_app(infra):
    from mc_devstack.testing import running_service
    from mc_platform.auth import Role
    from registry.bootstrap import build
    from registry.config import Settings

    async def chunks():
        for _ in range(10):
            yield b"x" * 100

    async with running_service(build, Settings, infra, max_body_bytes=500) as svc:
        admin = svc.auth("admin-1", Role.STATE_ADMIN)
        response = await svc.client.post("/issuers", content=chunks(), headers=admin)
        assert response.status_code == 413
        metrics = (await svc.client.get("/metrics")).text
    assert 'registry_http_requests_total{method="POST",route="/issuers",status="413"}' in metrics
