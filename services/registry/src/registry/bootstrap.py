"""Composition root: the one place the registry service is put together."""

from pathlib import Path

import registry
from mc_events import topics
from mc_events.service import ServiceDefinition
from registry.config import Settings
from registry.domain.openbadges import PublicUrls
from registry.entrypoints import consumer
from registry.entrypoints.api import build_router
from registry.entrypoints.api.deps import ApiContext, Clock, utc_now

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def build(settings: Settings | None = None, *, clock: Clock = utc_now) -> ServiceDefinition:
    """The registry service; tests pass their own ``clock``."""
    settings = settings or Settings()
    urls = PublicUrls(
        registry=settings.public_base_url,
        evidence=settings.evidence_base_url,
        issuer_name=settings.issuer_name,
    )
    return ServiceDefinition(
        name="registry",
        title="Registry",
        description=registry.__doc__ or "",
        settings=settings,
        migrations_dir=MIGRATIONS,
        routers=[build_router(ApiContext(urls=urls, clock=clock))],
        handlers=consumer.handlers(urls, clock),
        publishes=[topics.CATALOG, topics.CREDENTIALS],
        subscribes=[topics.REVIEWS, topics.ENROLLMENTS],
    )
