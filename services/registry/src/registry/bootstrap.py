"""Composition root: the one place the registry service is put together."""

from datetime import timedelta
from pathlib import Path

import registry
from mc_events import topics
from mc_platform.clock import Clock, utc_now
from registry.adapters.signing_keys import KeyVault
from registry.adapters.status_fetch import StatusListFetcher
from registry.config import Settings
from registry.domain import proof_cache
from registry.domain.openbadges import PublicUrls
from registry.entrypoints import business_metrics, consumer, district_fanout
from registry.entrypoints.api import ROUTERS
from registry.entrypoints.api.deps import RegistryDefinition
from registry.entrypoints.credential_signer import credential_signer
from registry.entrypoints.import_recheck import import_recheck
from registry.entrypoints.suspension_sweep import suspension_sweep
from registry.service_layer.issuing import Issuance

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def issuance_of(settings: Settings) -> Issuance:
    """How the registry issues, from its settings: public URLs, key vault, validity, and the
    reader of other issuers' status lists."""
    return Issuance(
        urls=PublicUrls(
            registry=settings.public_base_url,
            evidence=settings.evidence_base_url,
            issuer_name=settings.issuer_name,
        ),
        vault=KeyVault.from_settings(
            settings.signing_kek.get_secret_value() if settings.signing_kek else None,
            settings.signing_kek_file,
        ),
        validity=(
            timedelta(days=settings.credential_validity_days)
            if settings.credential_validity_days
            else None
        ),
        status_fetcher=StatusListFetcher.from_settings(
            settings.status_fetch_allowed_hosts,
            settings.status_fetch_timeout_seconds,
            settings.status_fetch_max_bytes,
        ),
    )


def build(settings: Settings | None = None, *, clock: Clock = utc_now) -> RegistryDefinition:
    """The registry service; tests pass their own ``clock``."""
    settings = settings or Settings()
    proof_cache.configure(settings.proof_cache_size)
    issuance = issuance_of(settings)
    return RegistryDefinition(
        name="registry",
        title="Registry",
        description=registry.__doc__ or "",
        settings=settings,
        migrations_dir=MIGRATIONS,
        routers=ROUTERS,
        handlers=consumer.handlers(issuance, clock),
        publishes=[topics.CATALOG, topics.CREDENTIALS],
        subscribes=[topics.REVIEWS, topics.ENROLLMENTS, topics.ROSTER, topics.CATALOG],
        workers={
            "credential-signer": credential_signer(
                clock, issuance, settings.signing_interval_seconds, settings.signing_batch
            ),
            "suspension-sweep": suspension_sweep(
                clock, issuance, settings.suspension_sweep_interval_seconds
            ),
            "import-recheck": import_recheck(
                clock,
                issuance,
                settings.import_recheck_interval_seconds,
                settings.import_recheck_batch,
            ),
            "business-metrics": business_metrics.worker(),
            **({"district-fanout": district_fanout.run} if settings.district_fanout else {}),
        },
        clock=clock,
        issuance=issuance,
    )
