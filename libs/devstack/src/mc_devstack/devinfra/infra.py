"""Start (or find) PostgreSQL and Kafka, the same way for ``make run`` and for the test fixtures.

handle = start_infra(run_dir, pg_port=55432, kafka_port=59092)
infra = handle.infra          # Infra: kind, postgres_url, kafka_bootstrap, idempotence
url = infra.create_database("registry")
...
handle.stop()                 # stops what it started (by PID / container id), nothing else
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from mc_devstack.devinfra.broker import DockerKafka, EmbeddedBroker, wait_for_kafka
from mc_devstack.devinfra.common import (
    InfraError,
    ProcessRegistry,
    free_port,
    require_free_port,
    run_sync,
    timed,
)
from mc_devstack.devinfra.postgres import (
    DockerPostgres,
    EmbeddedPostgres,
    create_database,
    database_url,
    wait_for_postgres_async,
)
from mc_devstack.devinfra.resolve import Kind, Plan, docker_available, resolve_plan


@dataclass(frozen=True)
class InfraKind:
    postgres: Kind
    kafka: Kind

    def __str__(self) -> str:
        return f"postgres={self.postgres}, kafka={self.kafka}"


@dataclass(frozen=True)
class Infra:
    """Where PostgreSQL and Kafka are, however they were obtained."""

    kind: InfraKind
    postgres_url: str  # server URL, database 'postgres' (postgresql://user@127.0.0.1:PORT/postgres)
    kafka_bootstrap: str
    kafka_idempotence: bool  # False for the embedded broker (no InitProducerId), True for Kafka

    def database_url(self, name: str) -> str:
        """The URL of database ``name`` on this server (not created: see create_database)."""
        return database_url(self.postgres_url, name)

    def create_database(self, name: str) -> str:
        """Create database ``name`` if missing; returns its URL. Blocking, loop-safe."""
        create_database(self.postgres_url, name)
        return self.database_url(name)

    def kafka_env(self) -> dict[str, str]:
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
            "KAFKA_ENABLE_IDEMPOTENCE": "true" if self.kafka_idempotence else "false",
        }

    def env(self) -> dict[str, str]:
        """Environment that makes another process resolve to this same infrastructure."""
        return {"DATABASE_URL": self.postgres_url, **self.kafka_env()}

    def service_env(
        self, service: str, *, port: int | None = None, run_dir: Path | None = None
    ) -> dict[str, str]:
        """The variables a service process gets: ``<SERVICE>_DATABASE_URL`` (its own database),
        Kafka bootstrap and idempotence, ``<SERVICE>_PORT``, ``MC_RUN_DIR``."""
        prefix = service.upper().replace("-", "_")
        env = {f"{prefix}_DATABASE_URL": self.database_url(service), **self.kafka_env()}
        if port is not None:
            env[f"{prefix}_PORT"] = str(port)
        if run_dir is not None:
            env["MC_RUN_DIR"] = str(run_dir)
        return env

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Infra:
        return cls(
            kind=InfraKind(**data["kind"]),
            postgres_url=data["postgres_url"],
            kafka_bootstrap=data["kafka_bootstrap"],
            kafka_idempotence=bool(data["kafka_idempotence"]),
        )


class Component(Protocol):
    """A piece of infrastructure this process started."""

    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> Kind: ...
    @property
    def address(self) -> str: ...
    @property
    def log(self) -> Path | None: ...

    def pid(self) -> int | None: ...
    def start(self) -> None: ...
    def stop(self) -> None: ...


@dataclass
class InfraHandle:
    """What :func:`start_infra` started; ``stop()`` stops exactly that, in reverse order."""

    infra: Infra
    run_dir: Path
    components: list[Component] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds, per component

    def pids(self) -> dict[str, int]:
        return {c.name: pid for c in self.components if (pid := c.pid()) is not None}

    def logs(self) -> dict[str, Path]:
        return {c.name: c.log for c in self.components if c.log is not None}

    def stop(self) -> None:
        errors: list[str] = []
        for component in reversed(self.components):
            try:
                component.stop()
            except Exception as exc:  # keep stopping the others
                errors.append(f"{component.name}: {exc}")
        self.components.clear()
        if errors:
            raise InfraError("while stopping infrastructure: " + "; ".join(errors))

    def __enter__(self) -> InfraHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _image(env: Mapping[str, str], name: str, default: str) -> str:
    return env.get(name, "").strip() or default


def start_infra(
    run_dir: Path,
    *,
    pg_port: int | None = None,
    kafka_port: int | None = None,
    fsync: bool = True,
    max_connections: int = 300,
    env: Mapping[str, str] | None = None,
    plan: Plan | None = None,
    docker_check: Callable[[], bool] = docker_available,
    check_ports: bool = False,
    on_event: Callable[[str], None] | None = None,
) -> InfraHandle:
    """Resolve (external / docker / embedded, per component) and start what is needed.

    ``pg_port`` / ``kafka_port``: fixed ports for embedded or docker components (None: free
    ports). ``fsync=False`` is the test profile (also full_page_writes off: durable across a
    crash of the database's processes, not across a power cut). ``check_ports``: fail with a
    clear message if a fixed port is taken. Embedded data and logs go under ``run_dir``
    (``postgres/`` and ``logs/kafka.log``). External components are only checked for
    reachability. On failure, whatever was started is stopped again.
    """
    env = os.environ if env is None else env
    plan = plan or resolve_plan(env, docker_check=docker_check)
    say = on_event or (lambda _msg: None)
    run_dir.mkdir(parents=True, exist_ok=True)
    registry = ProcessRegistry(run_dir)

    postgres: EmbeddedPostgres | DockerPostgres | None = None
    kafka: EmbeddedBroker | DockerKafka | None = None
    if plan.postgres == "embedded":
        port = pg_port or free_port()
        # A server a crashed run left in this run folder is ours: stop it (it may hold the port).
        EmbeddedPostgres.stop_leftover(run_dir)
        if check_ports and pg_port:
            require_free_port(port, "PostgreSQL", "MC_PG_PORT")
        postgres = EmbeddedPostgres(
            run_dir / "postgres", port, fsync=fsync, max_connections=max_connections
        )
    elif plan.postgres == "docker":
        postgres = DockerPostgres(
            pg_port,
            image=_image(env, "MC_POSTGRES_IMAGE", "postgres:18-alpine"),
            fsync=fsync,
            max_connections=max_connections,
        )
    if plan.kafka == "embedded":
        port = kafka_port or free_port()
        if check_ports and kafka_port:
            require_free_port(port, "Kafka", "MC_KAFKA_PORT")
        kafka = EmbeddedBroker(run_dir / "logs" / "kafka.log", port, registry=registry)
    elif plan.kafka == "docker":
        kafka = DockerKafka(
            kafka_port or free_port(), image=_image(env, "MC_KAFKA_IMAGE", "apache/kafka:4.1.0")
        )

    timings: dict[str, float] = {}

    def start(component: Component) -> None:
        say(f"starting {component.name} ({component.kind}) ...")
        with timed() as elapsed:
            component.start()
        timings[component.name] = elapsed[0]
        say(f"{component.name} ({component.kind}) ready at {component.address}")

    def check_external() -> None:
        if plan.postgres == "external":
            assert plan.postgres_url is not None
            with timed() as elapsed:
                run_sync(lambda: wait_for_postgres_async(plan.postgres_url or "", 15.0))
            timings["postgres"] = elapsed[0]
            say("postgres (external) reachable")
        if plan.kafka == "external":
            assert plan.kafka_bootstrap is not None
            with timed() as elapsed:
                wait_for_kafka(plan.kafka_bootstrap, 15.0)
            timings["kafka"] = elapsed[0]
            say(f"kafka (external) reachable at {plan.kafka_bootstrap}")

    to_start: list[Component] = [c for c in (postgres, kafka) if c is not None]
    try:
        failures: list[BaseException] = []
        with ThreadPoolExecutor(max_workers=3, thread_name_prefix="mc-infra") as pool:
            futures = [pool.submit(start, c) for c in to_start]
            futures.append(pool.submit(check_external))
            for future in futures:
                try:
                    future.result()
                except BaseException as exc:
                    failures.append(exc)
        if failures:
            raise failures[0]
    except BaseException:
        # Stop everything we tried to start (stop() is harmless on what did not start).
        for component in reversed(to_start):
            with contextlib.suppress(Exception):
                component.stop()
        raise

    infra = Infra(
        kind=InfraKind(postgres=plan.postgres, kafka=plan.kafka),
        postgres_url=postgres.url if postgres is not None else (plan.postgres_url or ""),
        kafka_bootstrap=kafka.bootstrap if kafka is not None else (plan.kafka_bootstrap or ""),
        kafka_idempotence=(
            kafka.idempotence if kafka is not None else bool(plan.kafka_idempotence)
        ),
    )
    return InfraHandle(infra=infra, run_dir=run_dir, components=to_start, timings=timings)


@contextlib.contextmanager
def infra_running(run_dir: Path, **options: Any) -> Iterator[Infra]:
    """``with infra_running(run_dir) as infra: ...``: :func:`start_infra`, stopped on exit."""
    handle = start_infra(run_dir, **options)
    try:
        yield handle.infra
    finally:
        handle.stop()


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
    tmp.replace(path)
