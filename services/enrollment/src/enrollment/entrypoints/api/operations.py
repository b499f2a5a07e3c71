"""Operator routes (state admin): run the deadline sweep now (a cron job calls it)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from enrollment.entrypoints.api.deps import ClockDep, Sessions
from enrollment.service_layer.deadlines import expire_due
from mc_events.auth import Principal, Role, require

router = APIRouter(prefix="/operations", tags=["operations"])


class SweepOut(BaseModel):
    expired: int


@router.post(
    "/deadline-sweep",
    summary="Expire enrollments past their deadline that wait on the educator",
    description="Idempotent: a second run finds nothing more to expire. Emits one "
    "enrollment.expired event per enrollment.",
)
async def deadline_sweep(
    _: Annotated[Principal, Depends(require(Role.STATE_ADMIN))],
    sessions: Sessions,
    clock: ClockDep,
) -> SweepOut:
    return SweepOut(expired=await expire_due(sessions, clock()))
