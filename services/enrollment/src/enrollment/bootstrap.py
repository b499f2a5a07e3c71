"""Composition root: the one place the enrollment service is put together."""

from pathlib import Path

import enrollment
from enrollment.config import Settings
from enrollment.entrypoints import consumer
from enrollment.entrypoints.api import router
from mc_events import topics
from mc_events.service import ServiceDefinition

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def build(settings: Settings | None = None) -> ServiceDefinition:
    return ServiceDefinition(
        name="enrollment",
        title="Enrollment",
        description=enrollment.__doc__ or "",
        settings=settings or Settings(),
        migrations_dir=MIGRATIONS,
        routers=[router],
        handlers=consumer.HANDLERS,
        publishes=[topics.ROSTER, topics.ENROLLMENTS],
        subscribes=[topics.CATALOG, topics.REVIEWS],
    )
