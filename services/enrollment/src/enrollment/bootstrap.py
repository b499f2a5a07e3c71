"""Composition root: the one place the enrollment service is put together."""

from pathlib import Path

from prometheus_client import CollectorRegistry

import enrollment
from enrollment.config import Settings
from enrollment.entrypoints import consumer
from enrollment.entrypoints.api import router
from enrollment.entrypoints.api.evidence import UPLOADS_PREFIX
from enrollment.entrypoints.api.roster import MULTIPART_OVERHEAD
from enrollment.entrypoints.scheduler import DeadlineScheduler
from enrollment.metrics import EnrollmentMetrics
from enrollment.service_layer.roster_import import MAX_IMPORT_BYTES
from mc_events import topics
from mc_platform.clock import Clock, utc_now
from mc_platform.service import ServiceDefinition, Worker

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def build(settings: Settings | None = None, *, clock: Clock = utc_now) -> ServiceDefinition:
    """The service; ``clock`` is the time source of its routes and its deadline scheduler
    (tests inject one)."""
    settings = settings or Settings()
    registry = CollectorRegistry()
    workers: dict[str, Worker] = {}
    if settings.deadline_sweep_enabled:
        scheduler = DeadlineScheduler(settings, EnrollmentMetrics.of(registry), clock)
        workers["deadline-sweep"] = scheduler.worker()
    return ServiceDefinition(
        name="enrollment",
        title="Enrollment",
        description=enrollment.__doc__ or "",
        settings=settings,
        migrations_dir=MIGRATIONS,
        routers=[router],
        # Upload routes take more than the default body limit. The backbone's limit sits a
        # little above ours so that our streaming check answers an oversized upload first
        # (a clear 413 and nothing stored), with or without a Content-Length.
        body_limits={
            UPLOADS_PREFIX: settings.evidence_max_bytes + MULTIPART_OVERHEAD,
            "/roster/imports": MAX_IMPORT_BYTES + MULTIPART_OVERHEAD,
        },
        handlers=consumer.HANDLERS,
        publishes=[topics.ROSTER, topics.ENROLLMENTS],
        subscribes=[topics.CATALOG, topics.REVIEWS],
        registry=registry,
        workers=workers,
        clock=clock,
    )


def deadline_scheduler(definition: ServiceDefinition) -> DeadlineScheduler:
    """The deadline scheduler of a built service, on its clock (the CLI's one-off sweep)."""
    settings = definition.settings
    assert isinstance(settings, Settings)
    return DeadlineScheduler(settings, EnrollmentMetrics.of(definition.registry), definition.clock)
