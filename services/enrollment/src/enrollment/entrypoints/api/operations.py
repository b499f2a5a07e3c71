"""Operator routes (state admin): run the deadline sweep now (the scheduler runs it
periodically; this is for an operator who does not want to wait)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from enrollment.entrypoints.api.deps import SettingsDep, UoW
from enrollment.service_layer.deadlines import sweep
from mc_platform.auth import Principal, Role, require
from mc_platform.dependencies import ClockDep

router = APIRouter(prefix="/operations", tags=["operations"])


class SweepOut(BaseModel):
    expired: int
    reminded: int


@router.post(
    "/deadline-sweep",
    summary="Expire enrollments past their deadline that wait on the educator, and send the "
    "deadline reminders that are due",
    description="Idempotent: a second run finds nothing more to do. Emits one "
    "enrollment.expired event per expired enrollment and one "
    "enrollment.deadline_approaching event per enrollment and reminder threshold.",
)
async def deadline_sweep(
    _: Annotated[Principal, Depends(require(Role.STATE_ADMIN))],
    uow: UoW,
    clock: ClockDep,
    settings: SettingsDep,
) -> SweepOut:
    result = await sweep(uow, clock(), reminder_days=settings.reminder_days)
    return SweepOut(expired=result.expired, reminded=result.reminded)
