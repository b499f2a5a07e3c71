"""Dependencies of the routes: the unit of work, the settings, the evidence store, the metrics
(the clock is :data:`mc_platform.dependencies.ClockDep`, set by ``build(clock=...)``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request

from enrollment.adapters.object_store import LocalObjectStore, ObjectStore, S3ObjectStore
from enrollment.config import Settings
from enrollment.metrics import EnrollmentMetrics
from enrollment.service_layer.unit_of_work import UnitOfWork
from mc_platform.dependencies import Runtime, settings_of, unit_of_work

UoW = Annotated[UnitOfWork, Depends(unit_of_work(UnitOfWork))]
"""A fresh unit of work, not entered: the service-layer command enters and commits it."""
SettingsDep = Annotated[Settings, Depends(settings_of(Settings))]


def build_store(settings: Settings) -> ObjectStore:
    """The S3-compatible bucket when one is configured, else the local folder."""
    if settings.evidence_s3_bucket:
        secret = settings.evidence_s3_secret_access_key
        return S3ObjectStore(
            settings.evidence_s3_bucket,
            prefix=settings.evidence_s3_prefix,
            endpoint_url=settings.evidence_s3_endpoint_url,
            region=settings.evidence_s3_region,
            access_key_id=settings.evidence_s3_access_key_id,
            secret_access_key=secret.get_secret_value() if secret else None,
        )
    return LocalObjectStore(Path(settings.evidence_dir))


async def get_store(request: Request, settings: SettingsDep) -> ObjectStore:
    """The evidence store, one per app (built on first use from the settings)."""
    store: ObjectStore | None = getattr(request.app.state, "evidence_store", None)
    if store is None:
        store = build_store(settings)
        request.app.state.evidence_store = store
    return store


Store = Annotated[ObjectStore, Depends(get_store)]


async def get_metrics(runtime: Runtime) -> EnrollmentMetrics:
    return EnrollmentMetrics.of(runtime.metrics.registry)


Metrics = Annotated[EnrollmentMetrics, Depends(get_metrics)]
