"""Composition root: the one place the registry service is put together."""

from pathlib import Path

import registry
from mc_events import topics
from mc_events.service import ServiceDefinition
from registry.config import Settings
from registry.entrypoints import consumer
from registry.entrypoints.api import router

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def build(settings: Settings | None = None) -> ServiceDefinition:
    return ServiceDefinition(
        name="registry",
        title="Registry",
        description=registry.__doc__ or "",
        settings=settings or Settings(),
        migrations_dir=MIGRATIONS,
        routers=[router],
        handlers=consumer.HANDLERS,
        publishes=[topics.CATALOG, topics.CREDENTIALS],
        subscribes=[topics.REVIEWS],
    )
