"""Kafka client settings and factories: the only place clients are configured.

Producer defaults follow what an award stream needs: ``acks=all`` (a record is durable on every
in-sync replica before the outbox row is marked sent), lz4 compression and a short linger so the
relay's batches travel together. Idempotence is a setting: on for Apache Kafka, off for the
embedded Tansu broker, which lacks InitProducerId. Correctness never rests on it (or on Kafka
transactions): it rests on the outbox, the inbox and unique business keys.

Every producer, consumer and admin client the library makes comes from the factories below, so
each carries the same security settings: SASL/SCRAM over TLS (``SASL_SSL``) or mutual TLS
(``SSL`` with a client certificate). A combination that cannot work, or that would connect with
less protection than configured, is refused when the settings are read (at start-up), naming the
variables to fix (docs/security.md).

With ``KAFKA_ACCESS_LOG=<file>`` every client the factories make also records what it does to
the cluster, as the Kafka ACL (resource, name, operation) a broker with simple authorization
checks for it: one JSON line per distinct access per process, appended to that file
(``{"resource": "topic", "name": "registry.credentials", "operation": "Write"}``).
:mod:`mc_events.kafka_access` reads the file and checks it against Strimzi KafkaUsers. Off (the
default), the factories return the plain aiokafka clients: nothing is added to any call.
"""

from __future__ import annotations

import json
import os
import ssl
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal, Self

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.helpers import create_ssl_context
from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class KafkaSettings(BaseSettings):
    """Connection and client tuning, from ``KAFKA_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="KAFKA_", extra="ignore")

    bootstrap_servers: str = "127.0.0.1:59092"
    client_id: str = "mc"
    enable_idempotence: bool = True
    compression_type: Literal["gzip", "snappy", "lz4", "zstd"] | None = "lz4"
    linger_ms: int = 5
    request_timeout_ms: int = 30_000
    max_batch_size: int = 256 * 1024
    # Consumers. Apache Kafka answers a waiting fetch as soon as data arrives, so the wait only
    # bounds idle polling. The embedded broker answers only when the wait expires, so each hop
    # waits up to this long: 100 ms (not aiokafka's 500) keeps the pipeline's latency low, and
    # polls a quarter as often as 25 ms did (bench/pipeline.py: broker CPU per award 18 -> 7 ms,
    # awards/s at 100/s offered 29 -> 37, p50 at 4/s 61 -> 84 ms).
    fetch_max_wait_ms: int = 100
    session_timeout_ms: int = 6_000
    heartbeat_interval_ms: int = 1_000
    max_poll_records: int = 500
    replication_factor: int = 1
    # Security for real clusters (docs/security.md). PLAINTEXT for local brokers only.
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    """``SASL_SSL`` with SCRAM for a managed cluster; ``SSL`` with a client certificate (mTLS)."""
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None
    """CA bundle the brokers' certificates are checked against (default: the system's)."""
    ssl_certfile: Path | None = None
    """Client certificate (PEM) for mTLS; it may hold the key too."""
    ssl_keyfile: Path | None = None
    ssl_key_password: SecretStr | None = None
    ssl_check_hostname: bool = True
    access_log: Path | None = None
    """``KAFKA_ACCESS_LOG``: append every distinct Kafka access (ACL resource, name, operation)
    of this process's clients to this file as JSON lines (off when unset)."""

    @model_validator(mode="after")
    def _security_is_coherent(self) -> Self:
        """Refuse, at start-up, a combination that would fail at the first connection or,
        worse, silently connect with less protection than configured."""
        sasl = self.security_protocol.startswith("SASL_")
        tls = self.security_protocol in ("SSL", "SASL_SSL")
        if sasl:
            if self.sasl_mechanism is None:
                raise ValueError(
                    f"KAFKA_SECURITY_PROTOCOL={self.security_protocol} needs "
                    "KAFKA_SASL_MECHANISM (SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN)"
                )
            if not self.sasl_username or self.sasl_password is None:
                raise ValueError(
                    f"KAFKA_SASL_MECHANISM={self.sasl_mechanism} needs KAFKA_SASL_USERNAME "
                    "and KAFKA_SASL_PASSWORD"
                )
            if self.sasl_mechanism == "PLAIN" and not tls:
                raise ValueError(
                    "SASL PLAIN sends the password in clear: use KAFKA_SECURITY_PROTOCOL=SASL_SSL"
                )
        elif self.sasl_mechanism or self.sasl_username or self.sasl_password is not None:
            raise ValueError(
                f"KAFKA_SASL_* is set but KAFKA_SECURITY_PROTOCOL={self.security_protocol} does "
                "not authenticate with SASL: use SASL_SSL"
            )
        files = {
            "KAFKA_SSL_CAFILE": self.ssl_cafile,
            "KAFKA_SSL_CERTFILE": self.ssl_certfile,
            "KAFKA_SSL_KEYFILE": self.ssl_keyfile,
        }
        given = [name for name, path in files.items() if path is not None]
        if given and not tls:
            raise ValueError(
                f"{', '.join(given)} set but KAFKA_SECURITY_PROTOCOL={self.security_protocol} "
                "does not use TLS: use SSL or SASL_SSL"
            )
        if self.ssl_keyfile is not None and self.ssl_certfile is None:
            raise ValueError("KAFKA_SSL_KEYFILE needs KAFKA_SSL_CERTFILE (the client certificate)")
        if self.ssl_key_password is not None and self.ssl_certfile is None:
            raise ValueError("KAFKA_SSL_KEY_PASSWORD is set but no client certificate is")
        for name, path in files.items():
            if path is not None and not path.is_file():
                raise ValueError(f"{name}={path}: no such file")
        if tls:
            self._ssl_context()  # unreadable PEM, wrong key password: fail now, not later
        if self.access_log is not None and not self.access_log.parent.is_dir():
            raise ValueError(
                f"KAFKA_ACCESS_LOG={self.access_log}: directory {self.access_log.parent} "
                "does not exist"
            )
        return self

    def _common(self) -> dict[str, Any]:
        options: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": self.security_protocol,
            "request_timeout_ms": self.request_timeout_ms,
        }
        if self.sasl_mechanism:
            options.update(
                sasl_mechanism=self.sasl_mechanism,
                sasl_plain_username=self.sasl_username,
                sasl_plain_password=(
                    self.sasl_password.get_secret_value() if self.sasl_password else None
                ),
            )
        if self.security_protocol in ("SSL", "SASL_SSL"):
            options["ssl_context"] = self._ssl_context()
        return options

    def _ssl_context(self) -> ssl.SSLContext:
        try:
            context: ssl.SSLContext = create_ssl_context(
                cafile=str(self.ssl_cafile) if self.ssl_cafile else None,
                certfile=str(self.ssl_certfile) if self.ssl_certfile else None,
                keyfile=str(self.ssl_keyfile) if self.ssl_keyfile else None,
                # Never None: OpenSSL would prompt on the terminal for an encrypted key.
                password=(
                    self.ssl_key_password.get_secret_value() if self.ssl_key_password else ""
                ),
            )
        except (ssl.SSLError, OSError) as exc:
            raise ValueError(f"cannot load the Kafka TLS files: {exc}") from exc
        context.check_hostname = self.ssl_check_hostname
        return context


def producer(settings: KafkaSettings, *, client_id: str | None = None) -> AIOKafkaProducer:
    options: dict[str, Any] = {
        **settings._common(),
        "client_id": client_id or settings.client_id,
        "acks": "all",
        "enable_idempotence": settings.enable_idempotence,
        "compression_type": settings.compression_type,
        "linger_ms": settings.linger_ms,
        "max_batch_size": settings.max_batch_size,
    }
    if settings.access_log is not None:
        return _RecordingProducer(_recorder(settings.access_log), **options)
    return AIOKafkaProducer(**options)


def consumer(
    settings: KafkaSettings,
    *topics: str,
    group_id: str | None,
    client_id: str | None = None,
    **overrides: Any,
) -> AIOKafkaConsumer:
    options: dict[str, Any] = {
        **settings._common(),
        "client_id": client_id or settings.client_id,
        "group_id": group_id,
        # Offsets are committed by the runtime after the database commit, never automatically.
        "enable_auto_commit": False,
        # "latest" can skip records on the embedded broker (wrong end offsets);
        # a new group must see the stream from its beginning anyway.
        "auto_offset_reset": "earliest",
        "fetch_max_wait_ms": settings.fetch_max_wait_ms,
        "session_timeout_ms": settings.session_timeout_ms,
        "heartbeat_interval_ms": settings.heartbeat_interval_ms,
        "max_poll_records": settings.max_poll_records,
        "isolation_level": "read_uncommitted",
    }
    options.update(overrides)
    if settings.access_log is not None:
        return _RecordingConsumer(_recorder(settings.access_log), *topics, **options)
    return AIOKafkaConsumer(*topics, **options)


def admin(settings: KafkaSettings) -> AIOKafkaAdminClient:
    options: dict[str, Any] = {
        **settings._common(),
        "client_id": f"{settings.client_id}-admin",
    }
    if settings.access_log is not None:
        return _RecordingAdmin(_recorder(settings.access_log), **options)
    return AIOKafkaAdminClient(**options)


# ---------------------------------------------------------------------------------------------
# Access recording (KAFKA_ACCESS_LOG)

CLUSTER = "kafka-cluster"
"""The name Kafka gives the cluster resource in ACLs."""


class AccessRecorder:
    """Appends each distinct (resource, name, operation) once per process to a JSON-lines file.

    Each line is written with one ``write`` on a descriptor opened with ``O_APPEND``, so several
    processes may append to the same file without interleaving their lines."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: set[tuple[str, str, str]] = set()
        self._lock = threading.Lock()

    def record(self, resource: str, name: str, operation: str) -> None:
        key = (resource, name, operation)
        if key in self._seen:
            return
        with self._lock:
            if key in self._seen:
                return
            line = json.dumps({"resource": resource, "name": name, "operation": operation})
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, (line + "\n").encode())
            finally:
                os.close(fd)
            self._seen.add(key)

    def topics(self, names: Iterable[str], *operations: str) -> None:
        for name in names:
            for operation in operations:
                self.record("topic", name, operation)

    def group(self, name: str | None, *operations: str) -> None:
        if name is not None:
            for operation in operations:
                self.record("group", name, operation)


_recorders: dict[Path, AccessRecorder] = {}
_recorders_lock = threading.Lock()


def _recorder(path: Path) -> AccessRecorder:
    key = Path(os.path.abspath(path))
    with _recorders_lock:
        found = _recorders.get(key)
        if found is None:
            found = _recorders[key] = AccessRecorder(key)
        return found


def record_access(client: object, resource: str, name: str, operation: str) -> None:
    """Record an access made through ``client`` that the client itself cannot name (a topic a
    caller looks for in a ``list_topics`` answer, say). Nothing when recording is off."""
    recorder: AccessRecorder | None = getattr(client, "_mc_access", None)
    if recorder is not None:
        recorder.record(resource, name, operation)


def _topics_of(partitions: Iterable[TopicPartition]) -> set[str]:
    return {tp.topic for tp in partitions}


class _RecordingProducer(AIOKafkaProducer):  # type: ignore[misc]
    """Producing to T: Write on T (and Describe: its metadata). Kafka 3.0+ lets Write on any
    topic cover the idempotent producer's InitProducerId (no IdempotentWrite on the cluster)."""

    def __init__(self, recorder: AccessRecorder, **options: Any) -> None:
        self._mc_access = recorder
        super().__init__(**options)

    async def send(self, topic: str, *args: Any, **kwargs: Any) -> Any:
        self._mc_access.topics((topic,), "Describe", "Write")
        return await super().send(topic, *args, **kwargs)


class _RecordingConsumer(AIOKafkaConsumer):  # type: ignore[misc]
    """Reading T: Read (and Describe) on T. In a group G: Describe on G to find its coordinator,
    Read on G to join it and commit; Describe on G (and on T) to fetch committed offsets.
    Without a group (``group_id=None``): Read on the topics only. Only the calls the library
    makes are recorded (no pattern subscriptions)."""

    def __init__(self, recorder: AccessRecorder, *topics: str, **options: Any) -> None:
        self._mc_access = recorder
        self._mc_group: str | None = options.get("group_id")
        super().__init__(*topics, **options)
        if topics:
            self._subscribed(topics)

    def _subscribed(self, topics: Iterable[str]) -> None:
        self._mc_access.topics(topics, "Describe", "Read")
        self._mc_access.group(self._mc_group, "Read")

    async def start(self) -> None:
        self._mc_access.group(self._mc_group, "Describe")  # FindCoordinator
        await super().start()

    def subscribe(self, topics: Iterable[str] = (), *args: Any, **kwargs: Any) -> Any:
        topics = tuple(topics)
        result = super().subscribe(topics, *args, **kwargs)
        self._subscribed(topics)
        return result

    def assign(self, partitions: Iterable[TopicPartition]) -> Any:
        partitions = list(partitions)
        self._mc_access.topics(_topics_of(partitions), "Describe", "Read")
        return super().assign(partitions)

    async def commit(self, offsets: Any = None) -> None:
        self._mc_access.group(self._mc_group, "Read")
        if offsets:
            self._mc_access.topics(_topics_of(offsets), "Read")
        await super().commit(offsets)

    async def committed(self, partition: TopicPartition) -> Any:
        self._mc_access.group(self._mc_group, "Describe")
        self._mc_access.topics((partition.topic,), "Describe")
        return await super().committed(partition)

    def partitions_for_topic(self, topic: str) -> Any:
        self._mc_access.topics((topic,), "Describe")
        return super().partitions_for_topic(topic)

    async def beginning_offsets(self, partitions: Iterable[TopicPartition]) -> Any:
        partitions = list(partitions)
        self._mc_access.topics(_topics_of(partitions), "Describe")
        return await super().beginning_offsets(partitions)

    async def end_offsets(self, partitions: Iterable[TopicPartition]) -> Any:
        partitions = list(partitions)
        self._mc_access.topics(_topics_of(partitions), "Describe")
        return await super().end_offsets(partitions)

    async def seek_to_beginning(self, *partitions: TopicPartition) -> Any:
        self._mc_access.topics(_topics_of(partitions), "Describe")
        return await super().seek_to_beginning(*partitions)


class _RecordingAdmin(AIOKafkaAdminClient):  # type: ignore[misc]
    """CreateTopics: Create on each topic. ``list_topics`` needs no right (the broker leaves out
    the topics the principal may not describe): callers that look for topics in its answer name
    them with :func:`record_access`."""

    def __init__(self, recorder: AccessRecorder, **options: Any) -> None:
        self._mc_access = recorder
        super().__init__(**options)

    async def create_topics(self, new_topics: Iterable[Any], *args: Any, **kwargs: Any) -> Any:
        new_topics = list(new_topics)
        self._mc_access.topics((t.name for t in new_topics), "Create")
        return await super().create_topics(new_topics, *args, **kwargs)
