"""Composition root: the one place the enrollment service is put together."""

from pathlib import Path

import enrollment
from enrollment.config import Settings
from enrollment.entrypoints import consumer
from enrollment.entrypoints.api import router
from enrollment.entrypoints.api.evidence import UPLOADS_PREFIX
from enrollment.entrypoints.api.roster import MAX_IMPORT_BYTES, MULTIPART_OVERHEAD
from mc_events import topics
from mc_events.service import ServiceDefinition

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def build(settings: Settings | None = None) -> ServiceDefinition:
    settings = settings or Settings()
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
    )
