"""Dependencies of the routes (override them in tests with ``app.dependency_overrides``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from review.config import Settings
from review.domain.clock import Clock, utc_now
from review.metrics import ReviewMetrics


async def get_sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    sessions: async_sessionmaker[AsyncSession] = request.app.state.runtime.sessions
    return sessions


async def get_clock() -> Clock:
    """The time source of rules that depend on time; tests replace it."""
    return utc_now


async def get_settings(request: Request) -> Settings:
    settings = request.app.state.runtime.definition.settings
    assert isinstance(settings, Settings)
    return settings


Sessions = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessions)]
ClockDep = Annotated[Clock, Depends(get_clock)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_metrics(request: Request) -> ReviewMetrics:
    return ReviewMetrics.of(request.app.state.runtime.metrics.registry)


Metrics = Annotated[ReviewMetrics, Depends(get_metrics)]
