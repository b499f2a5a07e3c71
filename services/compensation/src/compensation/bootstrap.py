"""Composition root: the one place the compensation service is put together."""

from pathlib import Path

import compensation
from compensation.config import Settings
from compensation.entrypoints import consumer
from compensation.entrypoints.api import router
from mc_events import topics
from mc_events.service import ServiceDefinition

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def build(settings: Settings | None = None) -> ServiceDefinition:
    return ServiceDefinition(
        name="compensation",
        title="Compensation",
        description=compensation.__doc__ or "",
        settings=settings or Settings(),
        migrations_dir=MIGRATIONS,
        routers=[router],
        handlers=consumer.HANDLERS,
        publishes=[topics.PAYMENTS, topics.PAYROLL],
        subscribes=[topics.CREDENTIALS, topics.ROSTER],
    )
