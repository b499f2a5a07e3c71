"""Background job of ``serve``: sign the credentials awards recorded without a proof.

An award commits the credential's document and its ``credential_awarded`` event without waiting
on signing (RDFC-1.0 canonicalization is the slowest step of an award); this worker adds the
proofs in small transactions right after, oldest first. Replicas share the queue (``SKIP
LOCKED``); a reader who asks for a credential before the worker got to it signs it on the spot
under the same row lock, so every credential anyone sees is signed, and signed once.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from mc_platform.clock import Clock
from mc_platform.service import ServiceRuntime, Worker, every
from registry.service_layer import credentials
from registry.service_layer.issuing import Issuance
from registry.service_layer.unit_of_work import UnitOfWork


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


def credential_signer(
    clock: Clock, issuance: Issuance, interval_seconds: float, batch: int
) -> Worker:
    """Every ``interval_seconds``: :func:`~registry.service_layer.credentials.sign_backlog`,
    then the queue's gauges."""
    metrics: _Metrics | None = None

    async def sign_and_measure(runtime: ServiceRuntime) -> None:
        nonlocal metrics
        metrics = metrics or _Metrics(runtime)
        uow = UnitOfWork(runtime.sessions)
        metrics.signed.inc(await credentials.sign_backlog(uow, issuance, clock, batch))
        backlog = await credentials.signing_backlog(uow)
        metrics.awaiting.set(backlog.waiting)
        oldest = backlog.oldest
        metrics.oldest_age.set((clock() - oldest).total_seconds() if oldest else 0.0)

    return every(interval_seconds, sign_and_measure, name="credential signer")
