"""Composition root: the one place the registry service is put together."""

from datetime import timedelta
from pathlib import Path

import registry
from mc_events import topics
from mc_events.service import ServiceDefinition
from registry.adapters.signing_keys import KeyVault
from registry.adapters.status_fetch import StatusListFetcher
from registry.config import Settings
from registry.domain import proof_cache
from registry.domain.openbadges import PublicUrls
from registry.entrypoints import (
    business_metrics,
    consumer,
    district_fanout,
    licensure_consumer,
    revocation_consumer,
)
from registry.entrypoints.api import build_router
from registry.entrypoints.api.deps import ApiContext, Clock, utc_now
from registry.entrypoints.credential_signer import credential_signer
from registry.entrypoints.import_recheck import import_recheck
from registry.entrypoints.suspension_sweep import suspension_sweep
from registry.service_layer.signing import Issuance

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def build(settings: Settings | None = None, *, clock: Clock = utc_now) -> ServiceDefinition:
    """The registry service; tests pass their own ``clock``."""
    settings = settings or Settings()
    proof_cache.configure(settings.proof_cache_size)
    urls = PublicUrls(
        registry=settings.public_base_url,
        evidence=settings.evidence_base_url,
        issuer_name=settings.issuer_name,
    )
    issuance = Issuance(
        vault=KeyVault.from_settings(
            settings.signing_kek.get_secret_value() if settings.signing_kek else None,
            settings.signing_kek_file,
        ),
        validity=(
            timedelta(days=settings.credential_validity_days)
            if settings.credential_validity_days
            else None
        ),
    )
    fetcher = StatusListFetcher.from_settings(
        settings.status_fetch_allowed_hosts,
        settings.status_fetch_timeout_seconds,
        settings.status_fetch_max_bytes,
    )
    return ServiceDefinition(
        name="registry",
        title="Registry",
        description=registry.__doc__ or "",
        settings=settings,
        migrations_dir=MIGRATIONS,
        routers=[
            build_router(
                ApiContext(urls=urls, clock=clock, issuance=issuance, status_fetcher=fetcher)
            )
        ],
        handlers={
            **consumer.handlers(urls, clock, issuance),
            **licensure_consumer.handlers(clock),
            **revocation_consumer.handlers(clock),
        },
        publishes=[topics.CATALOG, topics.CREDENTIALS],
        subscribes=[topics.REVIEWS, topics.ENROLLMENTS, topics.ROSTER, topics.CATALOG],
        workers={
            "credential-signer": credential_signer(
                clock, urls, issuance, settings.signing_interval_seconds, settings.signing_batch
            ),
            "suspension-sweep": suspension_sweep(clock, settings.suspension_sweep_interval_seconds),
            "import-recheck": import_recheck(
                clock,
                fetcher,
                urls,
                settings.import_recheck_interval_seconds,
                settings.import_recheck_batch,
            ),
            "business-metrics": business_metrics.worker(),
            **({"district-fanout": district_fanout.run} if settings.district_fanout else {}),
        },
    )
