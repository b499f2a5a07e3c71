"""Background job of ``serve``: suspensions with a planned end (``suspended_until``) are lifted
once it passes (``registry.credential_reinstated``, the suspension bit cleared)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from mc_events.service import ServiceRuntime, Worker, every
from registry.service_layer.credential_status import end_due_suspensions

log = logging.getLogger(__name__)


def suspension_sweep(clock: Callable[[], datetime], interval_seconds: float) -> Worker:
    """Every ``interval_seconds``: reinstate credentials whose suspension has ended."""

    async def lift_ended_suspensions(runtime: ServiceRuntime) -> None:
        ended = await end_due_suspensions(runtime.sessions, clock())
        if ended:
            log.info("reinstated %d credentials whose suspension ended", ended)

    return every(interval_seconds, lift_ended_suspensions, name="suspension sweep")
