"""What every service process shares: settings, the runtime (database, relay, consumers), the
HTTP app with health, readiness and metrics, and the command line.

A service declares itself once, as a :class:`ServiceDefinition` (its name, settings class,
routers, event handlers, the topics it publishes, where its migrations are) built by its
``bootstrap`` module, the composition root. Everything else is here, identical for all.

    python -m <service> serve     # HTTP API + outbox relay + consumers (the default process)
    python -m <service> migrate   # Alembic upgrade head
    python -m <service> relay     # outbox relay only (scale it out: replicas are safe)
    python -m <service> consume   # consumers only (scale up to the partition count)
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    Histogram,
    generate_latest,
)
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from mc_events import kafka as kafka_clients
from mc_events import migrations
from mc_events.auth import AuthSettings, TokenVerifier
from mc_events.consumer import ConsumerSettings, EventConsumer, Handler
from mc_events.contracts.base import Event
from mc_events.db import create_engine, session_factory
from mc_events.kafka import KafkaSettings
from mc_events.limits import RequestLimits, install_input_guards
from mc_events.outbox import OutboxRelay, RelaySettings
from mc_events.telemetry import BackboneMetrics, configure_logging, setup_tracing
from mc_events.topics import Topic, all_topics, ensure_topics

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


class ServiceSettings(BaseSettings):
    """Settings every service has. A service subclasses it with its env prefix and defaults:
    ``REGISTRY_DATABASE_URL``, ``REGISTRY_PORT``... Kafka comes from ``KAFKA_*``."""

    model_config = SettingsConfigDict(extra="ignore")

    database_url: str
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


class ServiceRuntime:
    """The process's long-lived parts: database engine, metrics, relay and consumers."""

    def __init__(self, definition: ServiceDefinition) -> None:
        self.definition = definition
        settings = definition.settings
        self.name = definition.name
        self.metrics = BackboneMetrics(definition.name, definition.registry)
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

    async def start(self, *, relay: bool, consumers: bool, workers: bool = False) -> None:
        await self._retry_until_stopped(self.ensure_topics, "creating topics")
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
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._tasks.clear()
        await self.engine.dispose()

    async def wait_stopped(self) -> None:
        await self._stop.wait()

    def request_stop(self) -> None:
        self._stop.set()

    async def readiness(self) -> dict[str, str]:
        """Each dependency's state; the service is ready when all say "ok"."""
        checks: dict[str, str] = {}
        try:
            async with asyncio.timeout(2.0), self.engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"unavailable: {type(exc).__name__}"
        try:
            admin = kafka_clients.admin(self.definition.settings.kafka)
            async with asyncio.timeout(3.0):
                await admin.start()
                try:
                    await admin.list_topics()
                finally:
                    await admin.close()
            checks["broker"] = "ok" if self._topics_ready else "topics not created yet"
        except Exception as exc:
            checks["broker"] = f"unavailable: {type(exc).__name__}"
        for task in self._tasks:
            if task.done():
                checks[task.get_name()] = "stopped"
        return checks


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
        await runtime.start(relay=run_relay, consumers=run_consumers, workers=True)
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
        summary="Readiness: database and broker reachable, background workers running",
        responses={503: {"description": "A dependency is unavailable"}},
    )
    async def readyz() -> JSONResponse:
        checks = await runtime.readiness()
        ready = all(value == "ok" for value in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks},
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


def cli(build: Callable[[], ServiceDefinition]) -> typer.Typer:
    """The service's command line (``python -m <service> ...``)."""
    app = typer.Typer(add_completion=False, no_args_is_help=True)

    def prepare() -> ServiceDefinition:
        definition = build()
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
        definition = prepare()
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
        from mc_events import audit

        definition = prepare()
        raise typer.Exit(asyncio.run(audit.verify_database(definition.settings.database_url)))

    @app.command("relay")
    def relay_only() -> None:
        """Run only the outbox relay (several replicas are safe)."""
        asyncio.run(_run_workers(prepare(), relay=True, consumers=False))

    @app.command("consume")
    def consume_only() -> None:
        """Run only the event consumers (scale up to the partition count)."""
        asyncio.run(_run_workers(prepare(), relay=False, consumers=True))

    return app


def main(build: Callable[[], ServiceDefinition], argv: Sequence[str] | None = None) -> Any:
    return cli(build)(args=list(argv) if argv is not None else None)
