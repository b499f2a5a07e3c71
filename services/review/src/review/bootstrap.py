"""Composition root: the one place the review service is put together."""

from pathlib import Path

from prometheus_client import CollectorRegistry

import review
from mc_events import topics
from mc_platform.clock import Clock, utc_now
from mc_platform.service import ServiceDefinition
from review.config import Settings
from review.entrypoints import consumer
from review.entrypoints.api import router
from review.entrypoints.scheduler import ReviewScheduler
from review.metrics import ReviewMetrics
from review.service_layer.assignment import policy_of

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def build(settings: Settings | None = None, *, clock: Clock = utc_now) -> ServiceDefinition:
    """The service; tests pass a settable ``clock`` (the API, the consumer and the scheduler
    all take the time from it)."""
    settings = settings or Settings()
    registry = CollectorRegistry()
    return ServiceDefinition(
        name="review",
        title="Review",
        description=review.__doc__ or "",
        settings=settings,
        migrations_dir=MIGRATIONS,
        routers=[router],
        handlers=consumer.handlers(policy_of(settings), clock),
        publishes=[topics.REVIEWS],
        subscribes=[topics.CATALOG, topics.ROSTER, topics.ENROLLMENTS],
        registry=registry,
        clock=clock,
        workers={"review-scheduler": scheduler(settings, registry, clock).worker()},
    )


def scheduler(
    settings: Settings, registry: CollectorRegistry, clock: Clock = utc_now
) -> ReviewScheduler:
    return ReviewScheduler(settings, ReviewMetrics.of(registry), clock)
