"""Composition root: the one place the review service is put together."""

from pathlib import Path

import review
from mc_events import topics
from mc_events.service import ServiceDefinition
from review.config import Settings
from review.entrypoints import consumer
from review.entrypoints.api import router

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def build(settings: Settings | None = None) -> ServiceDefinition:
    return ServiceDefinition(
        name="review",
        title="Review",
        description=review.__doc__ or "",
        settings=settings or Settings(),
        migrations_dir=MIGRATIONS,
        routers=[router],
        handlers=consumer.HANDLERS,
        publishes=[topics.REVIEWS],
        subscribes=[topics.CATALOG, topics.ROSTER, topics.ENROLLMENTS],
    )
