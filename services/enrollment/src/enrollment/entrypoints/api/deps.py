"""Dependencies of the routes (override them in tests with ``app.dependency_overrides``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from enrollment.adapters.object_store import LocalObjectStore, ObjectStore, S3ObjectStore
from enrollment.config import Settings
from enrollment.metrics import EnrollmentMetrics
from enrollment.service_layer.roster_import import utc_now

Clock = Callable[[], datetime]


async def get_sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    sessions: async_sessionmaker[AsyncSession] = request.app.state.runtime.sessions
    return sessions


async def get_clock() -> Clock:
    """The time source of rules that depend on time; tests replace it."""
    return utc_now


Sessions = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessions)]
ClockDep = Annotated[Clock, Depends(get_clock)]


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


async def get_store(request: Request) -> ObjectStore:
    """The evidence store, one per app (built on first use from the settings)."""
    store: ObjectStore | None = getattr(request.app.state, "evidence_store", None)
    if store is None:
        store = build_store(await get_settings(request))
        request.app.state.evidence_store = store
    return store


async def get_settings(request: Request) -> Settings:
    settings = request.app.state.runtime.definition.settings
    assert isinstance(settings, Settings)
    return settings


Store = Annotated[ObjectStore, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_metrics(request: Request) -> EnrollmentMetrics:
    return EnrollmentMetrics.of(request.app.state.runtime.metrics.registry)


Metrics = Annotated[EnrollmentMetrics, Depends(get_metrics)]
