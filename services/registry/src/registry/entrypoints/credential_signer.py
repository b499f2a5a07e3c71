"""Background job of ``serve``: sign the credentials awards recorded without a proof.

An award commits the credential's document and its ``credential_awarded`` event without waiting
on signing (RDFC-1.0 canonicalization is the slowest step of an award); this worker adds the
proofs in small transactions right after, oldest first. Replicas share the queue (``SKIP
LOCKED``); a reader who asks for a credential before the worker got to it signs it on the spot
under the same row lock, so every credential anyone sees is signed, and signed once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa
from prometheus_client import Counter, Gauge
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from mc_events.db import execute_core
from mc_events.service import ServiceRuntime, Worker, every
from registry.adapters.tables import credentials
from registry.domain.openbadges import PublicUrls
from registry.service_layer.signing import Issuance, sign_awaiting

log = logging.getLogger(__name__)


class _Metrics:
    def __init__(self, runtime: ServiceRuntime) -> None:
        registry = runtime.definition.registry
        self.signed = Counter(
            "registry_credentials_signed",
            "Credentials the signer worker added a proof to.",
            registry=registry,
        )
        self.awaiting = Gauge(
            "registry_credentials_awaiting_signature",
            "Credentials recorded and not yet signed.",
            registry=registry,
        )
        self.oldest_age = Gauge(
            "registry_credentials_awaiting_signature_oldest_seconds",
            "Age of the oldest credential not yet signed (0: none waiting).",
            registry=registry,
        )


async def sign_backlog(
    sessions: async_sessionmaker[AsyncSession],
    clock: Callable[[], datetime],
    urls: PublicUrls,
    issuance: Issuance,
    batch: int,
) -> int:
    """Sign everything waiting, ``batch`` credentials a transaction (oldest first); returns how
    many this call signed (rows other signers hold are theirs: skipped)."""
    total = 0
    while True:
        async with sessions() as session, session.begin():
            signed = await sign_awaiting(session, issuance, urls, clock(), limit=batch)
        total += signed
        if signed < batch:
            return total
        await asyncio.sleep(0)  # let the API and the consumer in between batches


def credential_signer(
    clock: Callable[[], datetime],
    urls: PublicUrls,
    issuance: Issuance,
    interval_seconds: float,
    batch: int,
) -> Worker:
    """Every ``interval_seconds``: :func:`sign_backlog`, then the queue's gauges."""
    metrics: _Metrics | None = None

    async def sign_and_measure(runtime: ServiceRuntime) -> None:
        nonlocal metrics
        metrics = metrics or _Metrics(runtime)
        metrics.signed.inc(await sign_backlog(runtime.sessions, clock, urls, issuance, batch))
        async with runtime.sessions() as session:
            row = (
                await execute_core(
                    session,
                    sa.select(sa.func.count(), sa.func.min(credentials.c.recorded_at)).where(
                        credentials.c.signed_at.is_(None)
                    ),
                )
            ).one()
        waiting, oldest = tuple(row)
        metrics.awaiting.set(waiting)
        metrics.oldest_age.set((clock() - oldest).total_seconds() if oldest else 0.0)

    return every(interval_seconds, sign_and_measure, name="credential signer")
