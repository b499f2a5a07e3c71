"""Background job of ``serve``: imported credentials are checked against their issuer's status
list again, least recently checked first; one the issuer has revoked is revoked here too (its
credits and the stacks it completed are reversed once)."""

from __future__ import annotations

import logging

from mc_platform.clock import Clock
from mc_platform.service import ServiceRuntime, Worker, every
from registry.service_layer import portability
from registry.service_layer.issuing import Issuance
from registry.service_layer.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


def import_recheck(
    clock: Clock, issuance: Issuance, interval_seconds: float, batch: int = 100
) -> Worker:
    """Every ``interval_seconds``: recheck up to ``batch`` imports."""

    async def recheck_imports(runtime: ServiceRuntime) -> None:
        rechecked, revoked = await portability.recheck_due_imports(
            UnitOfWork(runtime.sessions), issuance, clock(), limit=batch
        )
        if revoked:
            log.info("rechecked %d imports: %d revoked by their issuer", rechecked, revoked)

    return every(interval_seconds, recheck_imports, name="import recheck")
