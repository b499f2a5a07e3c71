"""What every service process shares: settings, the runtime (database, relay, consumers), the
HTTP app with health, readiness and metrics, and the command line.

A service declares itself once, as a :class:`ServiceDefinition` (its name, settings class,
routers, event handlers, the topics it publishes, where its migrations are) built by its
``bootstrap`` module, the composition root. Everything else is here, identical for all.

    python -m <service> serve     # HTTP API + outbox relay + consumers (the default process)
    python -m <service> migrate   # Alembic upgrade head
    python -m <service> relay     # outbox relay only (scale it out: replicas are safe)
    python -m <service> consume   # consumers only (scale up to the partition count)

``MC_ENVIRONMENT=production`` makes ``serve``, ``relay`` and ``consume`` refuse to start (exit
code 2, one message naming every offending variable) while a development default remains:
see :meth:`ServiceSettings.production_problems`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import logging
import signal
import sys
import time
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
import typer
import uvicorn
from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from mc_events import kafka as kafka_clients
from mc_events.consumer import ConsumerSettings, EventConsumer, Handler
from mc_events.contracts.base import Event
from mc_events.db import create_engine, session_factory
from mc_events.kafka import KafkaSettings
from mc_events.outbox import OutboxRelay, RelaySettings
from mc_events.telemetry import BackboneMetrics, configure_logging, setup_tracing
from mc_events.topics import Topic, all_topics, ensure_topics
from mc_platform import migrations
from mc_platform.auth import DEV_ISSUER, AuthSettings, TokenVerifier
from mc_platform.clock import Clock, utc_now
from mc_platform.limits import RequestLimits, install_input_guards
from mc_platform.problems import install_problem_details

log = logging.getLogger(__name__)


Worker = Callable[["ServiceRuntime", asyncio.Event], Coroutine[Any, Any, None]]
"""A background job the service process runs next to its relay and consumers (a periodic
sweep, say): it gets the runtime (engine, sessions, metrics) and the stop event, and returns
once the event is set."""


def every(
    interval_seconds: float, job: Callable[[ServiceRuntime], Awaitable[object]], *, name: str
) -> Worker:
    """A :data:`Worker` that runs ``job`` at once, then every ``interval_seconds``, until the
    stop event is set. A failing run (the database may be down) is logged and the next one
    tries again: the worker keeps going."""

    async def run(runtime: ServiceRuntime, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await job(runtime)
            except Exception:
                log.exception("%s failed; next try in %.0f s", name, interval_seconds)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval_seconds)

    return run


Environment = Literal["development", "production"]


class ServiceSettings(BaseSettings):
    """Settings every service has. A service subclasses it with its env prefix and defaults:
    ``REGISTRY_DATABASE_URL``, ``REGISTRY_PORT``... Kafka comes from ``KAFKA_*``."""

    model_config = SettingsConfigDict(extra="ignore")

    environment: Environment = Field(
        default="development", validation_alias=AliasChoices("MC_ENVIRONMENT")
    )
    """``MC_ENVIRONMENT`` (no service prefix: one variable for every process). In
    ``production`` the ``serve``, ``relay`` and ``consume`` commands refuse to start while a
    development default remains (:meth:`production_problems`); ``development`` (the default)
    accepts them all, as ``make run`` needs."""
    database_url: str
    database_listen_url: str | None = None
    """``<SERVICE>_DATABASE_LISTEN_URL``: where the outbox relay opens its LISTEN connection
    (commit notifications wake it at once). None: ``database_url``. Set it to a direct
    connection to PostgreSQL when ``database_url`` goes through a transaction-mode pooler
    (PgBouncer), which does not carry LISTEN/NOTIFY; the relay still polls without it."""
    host: str = "127.0.0.1"
    port: int
    db_pool_size: int = 10
    run_relay: bool = True
    run_consumers: bool = True
    consumer_group: str | None = None
    """Kafka consumer group (default: the service name). Tests and side-by-side deployments
    on one cluster give each their own."""
    log_json: bool = True
    max_body_bytes: int = 1024 * 1024
    """Request body limit (413); routes with uploads declare theirs in ``body_limits``."""
    rate_limit_per_second: float = 100.0
    """Per caller (bearer token, else address): sustained requests per second (429 beyond)."""
    rate_limit_burst: int = 500
    log_level: str | None = None
    """Falls back to ``LOG_LEVEL``, then INFO."""
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)

    @model_validator(mode="before")
    @classmethod
    def _environment_by_name(cls, data: Any) -> Any:
        """``Settings(environment="production")`` works too (the alias is for the env var)."""
        if isinstance(data, dict) and "environment" in data:
            data = {**data, "MC_ENVIRONMENT": data["environment"]}
            del data["environment"]
        return data

    @classmethod
    def env_name(cls, field_name: str) -> str:
        """The environment variable of one of this class's fields (``REGISTRY_PORT``)."""
        prefix = cls.model_config.get("env_prefix") or ""
        return f"{prefix}{field_name}".upper()

    def production_problems(self) -> list[str]:
        """The development defaults these settings still hold, one line each, naming the
        environment variable and why production refuses it. Services add their own."""
        return auth_production_problems(self.auth)


def auth_production_problems(auth: AuthSettings) -> list[str]:
    """Production verifies tokens of a real identity provider, fetching its keys over https."""
    problems = []
    if not auth.jwks_url:
        problems.append(
            "AUTH_JWKS_URL is not set: every protected route would answer 401 "
            "(set the identity provider's https JWKS URL)"
        )
    elif auth.jwks_url.startswith("file:"):
        problems.append(
            f"AUTH_JWKS_URL={auth.jwks_url} is a local file (the development issuer's keys): "
            "use the identity provider's https JWKS URL"
        )
    elif urllib.parse.urlsplit(auth.jwks_url).scheme != "https":
        problems.append(
            f"AUTH_JWKS_URL={auth.jwks_url} is not https: the signing keys could be "
            "tampered with on the way"
        )
    if auth.issuer == DEV_ISSUER:
        problems.append(
            f"AUTH_ISSUER={auth.issuer} is the development issuer: "
            "set the identity provider's issuer"
        )
    return problems


def public_url_problem(env_name: str, url: str) -> str | None:
    """Why ``url`` cannot be a public production URL (not https, or a loopback host), or None."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "https":
        return f"{env_name}={url} is not https: set the public https URL"
    if _loopback(parts.hostname or ""):
        return f"{env_name}={url} names a loopback host: set the public host name"
    return None


def _loopback(host: str) -> bool:
    host = host.lower().rstrip(".")
    if not host or host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def production_refusal(settings: ServiceSettings) -> str | None:
    """In production mode, the one message listing every development default left; else None."""
    if settings.environment != "production":
        return None
    problems = settings.production_problems()
    if not problems:
        return None
    lines = "\n".join(f"  - {problem}" for problem in problems)
    return f"production mode (MC_ENVIRONMENT=production) refuses dev defaults:\n{lines}"


@dataclass(frozen=True)
class ServiceDefinition:
    """What makes a service itself; the rest of the process is the same for all four."""

    name: str
    title: str
    description: str
    settings: ServiceSettings
    migrations_dir: Path
    routers: Sequence[APIRouter] = ()
    handlers: Mapping[type[Event], Handler] = field(default_factory=dict)
    """Inbound events this service reacts to; one consumer group, named after the service."""
    subscribes: Sequence[Topic] = ()
    """Topics the consumer reads (besides those of the handled events); other event types on
    them are skipped."""
    publishes: Sequence[Topic] = ()
    """Topics this service writes (created with their dead-letter twins at start-up)."""
    body_limits: Mapping[str, int] = field(default_factory=dict)
    """Larger body limits by path prefix, for upload routes (``{"/roster/imports": 50 MiB}``)."""
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    """The process's Prometheus registry: ``build()`` defines the service's business metrics
    (``<service>_<noun>_<unit>``) on it and hands them to its handlers; the backbone's metrics
    and /metrics use the same registry."""
    workers: Mapping[str, Worker] = field(default_factory=dict)
    """Background jobs by name, run by ``serve`` next to the relay and consumers; readiness
    reports one that stopped. Jobs that run on several replicas must be safe to (advisory
    locks, ``SKIP LOCKED``, unique keys)."""
    consumer_settings: ConsumerSettings = field(default_factory=ConsumerSettings)
    relay_settings: RelaySettings = field(default_factory=RelaySettings)
    version: str = "0.1.0"
    clock: Clock = utc_now
    """The time source of every rule that depends on time (routes read it through
    :data:`mc_platform.dependencies.ClockDep`); ``build(clock=...)`` sets it in tests."""


class BrokerProbe:
    """The broker's state for readiness, checked in the background: one long-lived admin
    client asks for the topic list every ``interval`` seconds (bounded by ``timeout``), and is
    closed and made anew only after a failed check. Readiness reads the last result, so
    probes never open a broker connection of their own."""

    def __init__(
        self,
        kafka_settings: KafkaSettings,
        *,
        interval: float = 5.0,
        timeout: float = 3.0,
        admin: Callable[[KafkaSettings], Any] | None = None,
        on_result: Callable[[bool], None] = lambda _up: None,
    ) -> None:
        self._settings = kafka_settings
        self.interval = interval
        self.timeout = timeout
        self._make_admin = admin or (lambda settings: kafka_clients.admin(settings))
        self._on_result = on_result
        self._admin: Any = None
        self.up: bool | None = None
        """None until the first result."""
        self.detail = "not checked yet"

    def record(self, up: bool, detail: str) -> None:
        self.up, self.detail = up, detail
        self._on_result(up)

    async def check(self) -> bool:
        """One check (reusing the admin client if the last one worked); records the result."""
        try:
            async with asyncio.timeout(self.timeout):
                if self._admin is None:
                    self._admin = self._make_admin(self._settings)
                    await self._admin.start()
                await self._admin.list_topics()
        except Exception as exc:
            await self.close()
            self.record(False, f"unavailable: {type(exc).__name__}")
        else:
            self.record(True, "ok")
        return bool(self.up)

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                await self.check()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self.interval)
        finally:
            await self.close()

    async def close(self) -> None:
        admin, self._admin = self._admin, None
        if admin is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self.timeout):
                    await admin.close()


DEGRADABLE = frozenset({"broker"})
"""Checks whose failure /readyz reports without answering 503: without the broker a process
still serves what its database holds (catalog, credentials, verification), and the relay and
consumers catch up once it is back."""


class ServiceRuntime:
    """The process's long-lived parts: database engine, metrics, relay and consumers."""

    def __init__(self, definition: ServiceDefinition) -> None:
        self.definition = definition
        settings = definition.settings
        self.name = definition.name
        self.metrics = BackboneMetrics(definition.name, definition.registry)
        self.dependency_up = Gauge(
            f"{definition.name}_dependency_up",
            "1 if the dependency answered its last check (readiness, every few seconds), else 0",
            ["dependency"],
            registry=definition.registry,
        )
        self.engine: AsyncEngine = create_engine(
            settings.database_url, pool_size=settings.db_pool_size
        )
        self.sessions: async_sessionmaker[AsyncSession] = session_factory(self.engine)
        self.relay = OutboxRelay(
            engine=self.engine,
            kafka_settings=settings.kafka,
            metrics=self.metrics,
            settings=definition.relay_settings,
            name=f"{definition.name}-relay",
            listen_url=settings.database_listen_url,
        )
        self.broker = BrokerProbe(
            settings.kafka,
            on_result=lambda up: self.dependency_up.labels("broker").set(1 if up else 0),
        )
        self.consumers: list[EventConsumer] = []
        if definition.handlers or definition.subscribes:
            self.consumers.append(
                EventConsumer(
                    name=definition.name,
                    group_id=settings.consumer_group or definition.name,
                    handlers=definition.handlers,
                    topics={t.name for t in definition.subscribes}
                    | {c.topic for c in definition.handlers},
                    sessions=self.sessions,
                    kafka_settings=settings.kafka,
                    metrics=self.metrics,
                    settings=definition.consumer_settings,
                )
            )
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._background: list[asyncio.Task[None]] = []
        """Not reported by readiness: the broker probe, the deferred start-up."""
        self._topics_ready = False

    async def ensure_topics(self) -> None:
        """Create the topics this service publishes and those it consumes (idempotent)."""
        wanted = {t.name for t in self.definition.publishes}
        for consumer in self.consumers:
            wanted.update(consumer.topics)
        topics = [t for t in all_topics() if t.name.removesuffix(".dlq") in wanted]
        admin = kafka_clients.admin(self.definition.settings.kafka)
        await admin.start()
        try:
            await ensure_topics(admin, topics, self.definition.settings.kafka.replication_factor)
        finally:
            await admin.close()
        self._topics_ready = True
        self.broker.record(True, "ok")

    async def start(
        self,
        *,
        relay: bool,
        consumers: bool,
        workers: bool = False,
        wait_for_broker: bool = True,
    ) -> None:
        """Create the topics, then start the relay, consumers and (``workers``) the service's
        workers. ``wait_for_broker``: retry until the topics exist (the relay and consume
        commands); else (the HTTP server) one try, and when the broker does not answer, return
        at once (the API serves what the database holds) and start it all in the background
        once the broker is back."""
        if wait_for_broker:
            await self._retry_until_stopped(self.ensure_topics, "creating topics")
        else:
            try:
                async with asyncio.timeout(_FIRST_TOPICS_ATTEMPT_SECONDS):
                    await self.ensure_topics()
            except Exception as exc:
                self.broker.record(False, f"unavailable: {type(exc).__name__}")
                log.warning(
                    "broker unavailable at start-up (%s): serving the API now; topics, relay, "
                    "consumers and workers start once it answers",
                    exc,
                )
                self._background.append(
                    asyncio.create_task(
                        self._start_when_broker(relay=relay, consumers=consumers, workers=workers),
                        name="deferred-start",
                    )
                )
                return
        self._launch(relay=relay, consumers=consumers, workers=workers)

    async def _start_when_broker(self, *, relay: bool, consumers: bool, workers: bool) -> None:
        await self._retry_until_stopped(self.ensure_topics, "creating topics")
        if not self._stop.is_set():
            log.info("broker available: topics created, starting the background tasks")
            self._launch(relay=relay, consumers=consumers, workers=workers)

    def start_broker_probe(self) -> None:
        """Check the broker in the background for readiness (the HTTP server does)."""
        self._background.append(
            asyncio.create_task(self.broker.run(self._stop), name="broker-probe")
        )

    def _launch(self, *, relay: bool, consumers: bool, workers: bool) -> None:
        if workers:
            for name, worker in self.definition.workers.items():
                self._tasks.append(asyncio.create_task(worker(self, self._stop), name=name))
        if relay:
            self._tasks.append(asyncio.create_task(self.relay.run(self._stop), name="relay"))
        if consumers:
            for consumer in self.consumers:
                self._tasks.append(
                    asyncio.create_task(consumer.run(self._stop), name=f"consumer-{consumer.name}")
                )

    async def _retry_until_stopped(self, step: Callable[[], Awaitable[None]], what: str) -> None:
        backoff = 0.2
        while not self._stop.is_set():
            try:
                await step()
                return
            except Exception as exc:
                log.warning("%s failed (%s); retrying in %.1fs", what, exc, backoff)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=backoff)
                backoff = min(backoff * 2, 10.0)

    async def stop(self) -> None:
        self._stop.set()
        for task in self._background:
            if task.get_name() == "deferred-start":
                task.cancel()  # it may be inside a topic creation call
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
            self._background.clear()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._tasks.clear()
        await self.engine.dispose()

    async def wait_stopped(self) -> None:
        await self._stop.wait()

    def request_stop(self) -> None:
        self._stop.set()

    async def readiness(self) -> dict[str, str]:
        """Each dependency's state ("ok" when fine). The service is ready when every check
        outside :data:`DEGRADABLE` says "ok": the database answers (checked now, within 2 s)
        and no background task stopped. The broker's state is the background probe's last
        result (:class:`BrokerProbe`); it degrades the service, it does not unready it."""
        checks: dict[str, str] = {}
        try:
            async with asyncio.timeout(2.0), self.engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"unavailable: {type(exc).__name__}"
        self.dependency_up.labels("database").set(1 if checks["database"] == "ok" else 0)
        if self.broker.up and not self._topics_ready:
            checks["broker"] = "topics not created yet"
        else:
            checks["broker"] = self.broker.detail
        for task in self._tasks:
            if task.done():
                checks[task.get_name()] = "stopped"
        return checks


_FIRST_TOPICS_ATTEMPT_SECONDS = 15.0


@functools.cache
def _asyncapi() -> dict[str, Any]:
    from mc_events import asyncapi

    return asyncapi.build()


def _http_metrics(app: FastAPI, runtime: ServiceRuntime) -> None:
    registry = runtime.metrics.registry
    requests = Counter(
        f"{runtime.name}_http_requests",
        "HTTP requests by route and status",
        ["method", "route", "status"],
        registry=registry,
    )
    latency = Histogram(
        f"{runtime.name}_http_request_seconds",
        "HTTP request latency by route",
        ["method", "route"],
        registry=registry,
    )

    class Measure:
        """Plain ASGI (not BaseHTTPMiddleware): streamed bodies and errors pass through
        untouched, so the request limits outside it answer 413 themselves."""

        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                await self.app(scope, receive, send)
                return
            started = time.perf_counter()
            status = 500

            async def send_status(message: Any) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            try:
                await self.app(scope, receive, send_status)
            finally:
                path = getattr(scope.get("route"), "path", "unmatched")
                requests.labels(scope["method"], path, str(status)).inc()
                latency.labels(scope["method"], path).observe(time.perf_counter() - started)

    app.add_middleware(Measure)


def create_app(
    definition: ServiceDefinition, *, relay: bool | None = None, consumers: bool | None = None
) -> FastAPI:
    """The service's ASGI app: its routers plus /healthz, /readyz and /metrics; the lifespan
    starts the relay and consumers (unless disabled) and stops them on shutdown."""
    settings = definition.settings
    runtime = ServiceRuntime(definition)
    run_relay = settings.run_relay if relay is None else relay
    run_consumers = settings.run_consumers if consumers is None else consumers

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start(
            relay=run_relay, consumers=run_consumers, workers=True, wait_for_broker=False
        )
        runtime.start_broker_probe()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(
        title=definition.title,
        description=definition.description,
        version=definition.version,
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    # Without an issuer every protected route answers 401; public routes still work.
    app.state.token_verifier = TokenVerifier(settings.auth) if settings.auth.jwks_url else None
    ops = APIRouter(tags=["operations"])

    @ops.get("/healthz", summary="Liveness: the process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": definition.name}

    @ops.get(
        "/readyz",
        summary="Readiness: database reachable, background tasks running (broker: reported)",
        description=(
            "200 while the database answers and no background task stopped; 503 otherwise. "
            "The broker's state is reported (`checks.broker`, and listed in `degraded` when "
            "not ok) without making the service unready: reads the database serves go on, "
            "and the outbox holds new events until the broker is back."
        ),
        responses={503: {"description": "The database is unavailable or a task stopped"}},
    )
    async def readyz() -> JSONResponse:
        checks = await runtime.readiness()
        ready = all(value == "ok" for name, value in checks.items() if name not in DEGRADABLE)
        degraded = sorted(name for name in DEGRADABLE if checks.get(name, "ok") != "ok")
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "degraded": degraded, "checks": checks},
            status_code=200 if ready else 503,
        )

    @ops.get(
        "/asyncapi.json",
        summary="AsyncAPI 3 document of every event stream (topics, keys, payload schemas)",
        tags=["events"],
    )
    async def asyncapi_document() -> JSONResponse:
        return JSONResponse(_asyncapi())

    @ops.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.include_router(ops)
    for router in definition.routers:
        app.include_router(router)
    app.add_middleware(
        RequestLimits,
        max_body_bytes=settings.max_body_bytes,
        rate_per_second=settings.rate_limit_per_second,
        burst=settings.rate_limit_burst,
        body_limits=definition.body_limits,
    )
    install_input_guards(app)
    install_problem_details(app)
    _http_metrics(app, runtime)  # outermost: counts what the client got, 413 and 429 included
    FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz,metrics")
    SQLAlchemyInstrumentor().instrument(engine=runtime.engine.sync_engine)
    return app


async def _run_workers(definition: ServiceDefinition, *, relay: bool, consumers: bool) -> None:
    runtime = ServiceRuntime(definition)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, runtime.request_stop)
    await runtime.start(relay=relay, consumers=consumers)
    try:
        await runtime.wait_stopped()
    finally:
        await runtime.stop()


class _HeldLogs(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _build_guarded(build: Callable[[], ServiceDefinition]) -> ServiceDefinition:
    """``build()``, or exit 2 with :func:`production_refusal`'s message on stderr. What the
    build logs (the registry's development-KEK warning, say) is held back and only let through
    when the process goes on: a refusal is one message, not a warning and then a message."""
    root = logging.getLogger()
    held = _HeldLogs()
    handlers, root.handlers = root.handlers, [held]
    try:
        definition = build()
    finally:
        root.handlers = handlers
    refusal = production_refusal(definition.settings)
    if refusal:
        print(refusal, file=sys.stderr, flush=True)
        raise typer.Exit(2)
    for record in held.records:
        logging.getLogger(record.name).handle(record)
    return definition


def cli(build: Callable[[], ServiceDefinition]) -> typer.Typer:
    """The service's command line (``python -m <service> ...``)."""
    app = typer.Typer(add_completion=False, no_args_is_help=True)

    def prepare(*, guarded: bool = False) -> ServiceDefinition:
        """Build the service, then (``guarded``: the long-running commands) refuse production
        mode with development defaults before anything starts or logs."""
        definition = _build_guarded(build) if guarded else build()
        configure_logging(
            definition.name, definition.settings.log_level, json=definition.settings.log_json
        )
        setup_tracing(definition.name)
        return definition

    @app.command()
    def serve(
        relay: bool = typer.Option(True, help="Run the outbox relay in this process."),
        consumers: bool = typer.Option(True, help="Run the event consumers in this process."),
    ) -> None:
        """Serve the HTTP API, with the relay and consumers unless disabled."""
        definition = prepare(guarded=True)
        settings = definition.settings
        uvicorn.run(
            create_app(
                definition,
                relay=relay and settings.run_relay,
                consumers=consumers and settings.run_consumers,
            ),
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            lifespan="on",
        )

    @app.command()
    def migrate(revision: str = typer.Argument("head")) -> None:
        """Apply the database migrations (idempotent)."""
        definition = prepare()
        migrations.upgrade(definition.migrations_dir, definition.settings.database_url, revision)

    @app.command("audit-verify")
    def audit_verify() -> None:
        """Verify the service's audit trail; exit 1 naming the first broken link of each chain."""
        from mc_platform import audit

        definition = prepare()
        raise typer.Exit(asyncio.run(audit.verify_database(definition.settings.database_url)))

    @app.command("relay")
    def relay_only() -> None:
        """Run only the outbox relay (several replicas are safe)."""
        asyncio.run(_run_workers(prepare(guarded=True), relay=True, consumers=False))

    @app.command("consume")
    def consume_only() -> None:
        """Run only the event consumers (scale up to the partition count)."""
        asyncio.run(_run_workers(prepare(guarded=True), relay=False, consumers=True))

    return app


def main(build: Callable[[], ServiceDefinition], argv: Sequence[str] | None = None) -> Any:
    return cli(build)(args=list(argv) if argv is not None else None)
