"""Background job of ``serve``: suspensions with a planned end (``suspended_until``) are lifted
once it passes (``registry.credential_reinstated``, the suspension bit cleared)."""

from __future__ import annotations

import logging

from mc_platform.clock import Clock
from mc_platform.service import ServiceRuntime, Worker, every
from registry.service_layer import credentials
from registry.service_layer.issuing import Issuance
from registry.service_layer.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


def suspension_sweep(clock: Clock, issuance: Issuance, interval_seconds: float) -> Worker:
    """Every ``interval_seconds``: reinstate credentials whose suspension has ended."""

    async def lift_ended_suspensions(runtime: ServiceRuntime) -> None:
        ended = await credentials.end_due_suspensions(
            UnitOfWork(runtime.sessions), issuance, clock()
        )
        if ended:
            log.info("reinstated %d credentials whose suspension ended", ended)

    return every(interval_seconds, lift_ended_suspensions, name="suspension sweep")
