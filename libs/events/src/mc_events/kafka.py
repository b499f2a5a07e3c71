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
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any, Literal, Self

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
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
    return AIOKafkaProducer(
        **settings._common(),
        client_id=client_id or settings.client_id,
        acks="all",
        enable_idempotence=settings.enable_idempotence,
        compression_type=settings.compression_type,
        linger_ms=settings.linger_ms,
        max_batch_size=settings.max_batch_size,
    )


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
        # "latest" can skip records on the embedded broker (wrong end offsets, INFRA.md);
        # a new group must see the stream from its beginning anyway.
        "auto_offset_reset": "earliest",
        "fetch_max_wait_ms": settings.fetch_max_wait_ms,
        "session_timeout_ms": settings.session_timeout_ms,
        "heartbeat_interval_ms": settings.heartbeat_interval_ms,
        "max_poll_records": settings.max_poll_records,
        "isolation_level": "read_uncommitted",
    }
    options.update(overrides)
    return AIOKafkaConsumer(*topics, **options)


def admin(settings: KafkaSettings) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(**settings._common(), client_id=f"{settings.client_id}-admin")
