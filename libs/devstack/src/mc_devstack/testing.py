"""Pytest plugin for integration tests: real PostgreSQL and a real Kafka-protocol broker, resolved
like ``make run`` does (``DATABASE_URL`` / ``KAFKA_BOOTSTRAP_SERVERS``, else Docker, else
embedded), started once per test session on free ports under ``.run/test-<pid>/`` (fsync off),
stopped and removed at the end.

Register it in the top-level ``tests/conftest.py``::

    pytest_plugins = ["mc_devstack.testing"]

then::

    def test_something(infra):                      # session-scoped Infra
        url = fresh_database(infra, "registry")     # a new, uniquely named database
        topic = unique_name("registry.awards")      # unique topic / group names
        infra.kafka_bootstrap, infra.kafka_idempotence

``MC_KEEP_RUN_DIR=1`` keeps ``.run/test-<pid>/`` (logs, data) after the session.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from mc_devstack.devinfra.common import (
    PID_FILE,
    PidLock,
    find_repo_root,
    process_run_dir,
    reap_stale_test_dirs,
    run_root,
)
from mc_devstack.devinfra.infra import Infra, InfraHandle, start_infra
from mc_devstack.devinfra.postgres import (
    EmbeddedPostgres,
    clone_database_async,
    create_database,
    create_database_async,
    drop_database,
)
from mc_events.db import create_engine
from mc_events.kafka import KafkaSettings
from mc_platform import migrations
from mc_platform.auth import DevIssuer, Role
from mc_platform.service import ServiceDefinition, ServiceRuntime, ServiceSettings, create_app

__all__ = [
    "fresh_database",
    "fresh_database_async",
    "fresh_db_url",
    "infra",
    "infra_handle",
    "migrated_database",
    "migrated_database_url",
    "unique_name",
]

TEST_SESSION_TIMEOUT_MS = 2000
TEST_HEARTBEAT_INTERVAL_MS = 200
_created_databases: list[tuple[str, str]] = []  # (server URL, name), dropped if external
_summary: list[str] = []


def unique_name(prefix: str = "t") -> str:
    """``<prefix>-<12 hex>``: a topic, consumer group or other name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def _database_name(prefix: str) -> str:
    base = re.sub(r"[^a-z0-9_]", "_", prefix.lower()).strip("_") or "test"
    if base[0].isdigit():
        base = f"t_{base}"
    return f"{base[:48]}_{uuid.uuid4().hex[:12]}"


def fresh_database(infra: Infra, prefix: str = "test") -> str:
    """Create a new database ``<prefix>_<12 hex>`` on the infra's server; returns its URL
    (``postgresql://...``). Blocking (tens of ms); safe to call from async tests/fixtures."""
    name = _database_name(prefix)
    create_database(infra.postgres_url, name)
    _created_databases.append((infra.postgres_url, name))
    return infra.database_url(name)


async def fresh_database_async(infra: Infra, prefix: str = "test") -> str:
    """:func:`fresh_database` without blocking the event loop."""
    name = _database_name(prefix)
    await create_database_async(infra.postgres_url, name)
    _created_databases.append((infra.postgres_url, name))
    return infra.database_url(name)


_templates: dict[tuple[str, str], str] = {}
_template_lock = asyncio.Lock()


async def migrated_database_url(infra: Infra, migrations_dir: Path, prefix: str) -> str:
    """A new database ``<prefix>_<12 hex>`` with ``migrations_dir`` applied; returns its URL.

    The migrations run once per session into a template database; every call after that
    copies it (``CREATE DATABASE ... TEMPLATE``), which takes milliseconds."""
    key = (infra.postgres_url, str(migrations_dir))
    async with _template_lock:
        template = _templates.get(key)
        if template is None:
            template = _database_name(f"template_{migrations_dir.parent.name}")
            await create_database_async(infra.postgres_url, template)
            _created_databases.append((infra.postgres_url, template))
            await asyncio.to_thread(
                migrations.upgrade, migrations_dir, infra.database_url(template)
            )
            _templates[key] = template
        name = _database_name(prefix)
        await clone_database_async(infra.postgres_url, name, template)
    _created_databases.append((infra.postgres_url, name))
    return infra.database_url(name)


@asynccontextmanager
async def migrated_database(
    infra: Infra, migrations_dir: Path, prefix: str, *, pool_size: int = 2
) -> AsyncIterator[AsyncEngine]:
    """A fresh database with a service's migrations applied, and an engine on it (disposed
    afterwards): for tests that drive a service's repositories without its process."""
    url = await migrated_database_url(infra, migrations_dir, prefix)
    engine = create_engine(url, pool_size=pool_size)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def infra_handle(request: pytest.FixtureRequest) -> Iterator[InfraHandle]:
    """The started infrastructure (PIDs, logs, timings); most tests want ``infra``."""
    root = find_repo_root(request.config.rootpath)
    reap_stale_test_dirs(run_root(root), EmbeddedPostgres.stop_leftover)
    run_dir = process_run_dir(root)
    lock = PidLock(run_dir / PID_FILE)
    lock.acquire()
    started = time.perf_counter()
    try:
        handle = start_infra(run_dir, fsync=False)
    except BaseException:
        lock.release()
        raise
    elapsed = time.perf_counter() - started
    detail = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in handle.timings.items())
    _summary.append(f"infra: {handle.infra.kind} ready in {elapsed:.2f} s ({detail})")
    try:
        yield handle
    finally:
        try:
            if handle.infra.kind.postgres == "external":
                for server, name in _created_databases:
                    with contextlib.suppress(Exception):
                        drop_database(server, name)
            _created_databases.clear()
            _templates.clear()
            handle.stop()
        finally:
            lock.release()
            if not os.environ.get("MC_KEEP_RUN_DIR"):
                shutil.rmtree(run_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def infra(infra_handle: InfraHandle) -> Infra:
    """PostgreSQL server URL, Kafka bootstrap and producer idempotence for this session."""
    return infra_handle.infra


@pytest.fixture
def fresh_db_url(infra: Infra, request: pytest.FixtureRequest) -> str:
    """A new database for this test, named after it."""
    return fresh_database(infra, request.node.name)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for line in _summary:
        terminalreporter.write_line(line)


@dataclass
class RunningService:
    """A service running in this test's event loop: its app (with relay and consumers), an
    HTTP client bound to it, and its runtime (engine, sessions, metrics)."""

    definition: ServiceDefinition
    app: FastAPI
    client: httpx.AsyncClient
    runtime: ServiceRuntime
    issuer: DevIssuer

    def auth(self, subject: str, *roles: Role | str, **claims: Any) -> dict[str, str]:
        """Authorization header for a caller with ``roles`` (and ids such as ``educator_id``)."""
        return {"Authorization": f"Bearer {self.issuer.mint(subject, roles, **claims)}"}


_issuer: list[DevIssuer] = []


def _test_issuer() -> DevIssuer:
    """One development token issuer per test process (an RSA key costs tens of ms to make):
    every service a test starts trusts it; its folder goes when the process ends."""
    if not _issuer:
        directory = Path(tempfile.mkdtemp(prefix="mc-test-issuer-"))
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
        _issuer.append(DevIssuer(directory))
    return _issuer[0]


@asynccontextmanager
async def running_service(
    build: Callable[..., ServiceDefinition],
    settings_class: type[ServiceSettings],
    infra: Infra,
    *,
    relay: bool = True,
    consumers: bool = True,
    **overrides: Any,
) -> AsyncIterator[RunningService]:
    """Start a service against a fresh, migrated database and the session's broker, with the
    process's development token issuer and its own consumer group (topics are shared by the
    session, so consumers start from the beginning of them: handlers must tolerate other
    tests' events).

        async with running_service(build, Settings, infra) as svc:
            r = await svc.client.get("/achievements", headers=svc.auth("a", Role.STATE_ADMIN))
    """
    issuer = _test_issuer()
    probe = build(settings_class(database_url="postgresql://unused/x"))
    database_url = await migrated_database_url(infra, probe.migrations_dir, probe.name)
    settings = settings_class(
        database_url=database_url,
        kafka=KafkaSettings(
            bootstrap_servers=infra.kafka_bootstrap,
            enable_idempotence=infra.kafka_idempotence,
            fetch_max_wait_ms=10,
            # A new group's first assignment waits half the session timeout on the embedded
            # broker: 1 s rather than 3 s per service a test starts.
            session_timeout_ms=TEST_SESSION_TIMEOUT_MS,
            heartbeat_interval_ms=TEST_HEARTBEAT_INTERVAL_MS,
            linger_ms=1,
        ),
        auth=issuer.settings(),
        consumer_group=unique_name(probe.name),
        **overrides,
    )
    definition = build(settings)
    app = create_app(definition, relay=relay, consumers=consumers)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield RunningService(definition, app, client, app.state.runtime, issuer)
