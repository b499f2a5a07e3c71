"""Composition root: the one place the compensation service is put together."""

from pathlib import Path

import compensation
from compensation.config import Settings
from compensation.entrypoints import business_metrics
from compensation.entrypoints.api import routers
from compensation.entrypoints.consumer import build_handlers
from mc_events import topics
from mc_platform.clock import Clock, utc_now
from mc_platform.service import ServiceDefinition

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def build(settings: Settings | None = None, *, clock: Clock = utc_now) -> ServiceDefinition:
    """``clock`` stamps approvals, deferrals and reversals, routes and event handlers alike
    (award dates come from the events, so fiscal years never depend on when an event is
    processed)."""
    return ServiceDefinition(
        name="compensation",
        title="Compensation",
        description=compensation.__doc__ or "",
        settings=settings or Settings(),
        migrations_dir=MIGRATIONS,
        routers=routers,
        # A payroll system acknowledges a whole batch at once (one line per payment).
        body_limits={"/payroll-batches/": 32 * 1024 * 1024},
        handlers=build_handlers(clock),
        publishes=[topics.PAYMENTS, topics.PAYROLL],
        subscribes=[topics.CREDENTIALS, topics.ROSTER],
        workers={"business-metrics": business_metrics.worker()},
        clock=clock,
    )
