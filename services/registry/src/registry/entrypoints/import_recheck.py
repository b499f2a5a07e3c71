"""Background job of ``serve``: imported credentials are checked against their issuer's status
list again, least recently checked first; one the issuer has revoked is revoked here too (its
credits and the stacks it completed are reversed once)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from mc_events.service import ServiceRuntime, Worker, every
from registry.adapters.status_fetch import StatusListFetcher
from registry.domain.openbadges import PublicUrls
from registry.service_layer.portability import recheck_due_imports

log = logging.getLogger(__name__)


def import_recheck(
    clock: Callable[[], datetime],
    fetch: StatusListFetcher | None,
    urls: PublicUrls,
    interval_seconds: float,
    batch: int = 100,
) -> Worker:
    """Every ``interval_seconds``: recheck up to ``batch`` imports."""

    async def recheck_imports(runtime: ServiceRuntime) -> None:
        rechecked, revoked = await recheck_due_imports(
            runtime.sessions, fetch, urls, clock(), limit=batch
        )
        if revoked:
            log.info("rechecked %d imports: %d revoked by their issuer", rechecked, revoked)

    return every(interval_seconds, recheck_imports, name="import recheck")
