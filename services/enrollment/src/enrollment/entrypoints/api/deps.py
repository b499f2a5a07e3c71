"""Dependencies of the routes (override them in tests with ``app.dependency_overrides``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from enrollment.adapters.object_store import LocalObjectStore
from enrollment.config import Settings
from enrollment.metrics import EnrollmentMetrics
from enrollment.service_layer.roster_import import utc_now

Clock = Callable[[], datetime]


def get_sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    sessions: async_sessionmaker[AsyncSession] = request.app.state.runtime.sessions
    return sessions


def get_clock() -> Clock:
    """The time source of rules that depend on time; tests replace it."""
    return utc_now


Sessions = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessions)]
ClockDep = Annotated[Clock, Depends(get_clock)]


def get_store(request: Request) -> LocalObjectStore:
    """The evidence store, one per app (built on first use from the settings)."""
    store: LocalObjectStore | None = getattr(request.app.state, "evidence_store", None)
    if store is None:
        store = LocalObjectStore(Path(get_settings(request).evidence_dir))
        request.app.state.evidence_store = store
    return store


def get_settings(request: Request) -> Settings:
    settings = request.app.state.runtime.definition.settings
    assert isinstance(settings, Settings)
    return settings


Store = Annotated[LocalObjectStore, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_metrics(request: Request) -> EnrollmentMetrics:
    metrics: EnrollmentMetrics | None = getattr(request.app.state, "enrollment_metrics", None)
    if metrics is None:
        metrics = EnrollmentMetrics(request.app.state.runtime.metrics.registry)
        request.app.state.enrollment_metrics = metrics
    return metrics


Metrics = Annotated[EnrollmentMetrics, Depends(get_metrics)]
