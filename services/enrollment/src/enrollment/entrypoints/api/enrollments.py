"""Educator routes: enroll, withdraw, my enrollments; and the catalog as enrollment sees it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, ConfigDict, Field

from enrollment.domain.enrollment import Enrollment
from enrollment.entrypoints.api.deps import Metrics, UoW
from enrollment.service_layer import enrollments as commands
from mc_events.contracts.common import Purpose
from mc_events.contracts.review import MisconductKind
from mc_platform.auth import Principal, Role, require
from mc_platform.dependencies import ClockDep
from mc_platform.refusals import Forbidden

router = APIRouter(tags=["enrollments"])

Educator = Annotated[Principal, Depends(require(Role.EDUCATOR))]


class EnrollRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    educator_id: str = Field(min_length=1, description="Must be the caller's own educator id.")
    micro_credential_id: str = Field(min_length=1)
    purpose: Purpose


class WithdrawRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=2000)


class EnrollmentOut(BaseModel):
    enrollment_id: str
    educator_id: str
    micro_credential_id: str
    micro_credential_version: int
    purpose: Purpose
    status: str
    result_status: str = Field(description="Open Badges 3.0 Result.status equivalent.")
    enrolled_at: datetime
    deadline_at: datetime
    attempts_used: int
    attempts_left: int
    closed_at: datetime | None
    end_reason: str | None
    misconduct: MisconductKind | None = Field(
        default=None,
        description="Set when a review decision for misconduct ended the enrollment (end_reason "
        "is then assessed_not_earned): what the approver confirmed in the evidence.",
    )
    may_reenroll_from: datetime | None


class CatalogVersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    micro_credential_id: str
    version: int
    title: str
    attempt_cap: int
    completion_window_days: int
    cooldown_days: int
    allowed_purposes: list[str]
    retired: bool


def _out(e: Enrollment) -> EnrollmentOut:
    return EnrollmentOut(
        enrollment_id=e.enrollment_id,
        educator_id=e.educator_id,
        micro_credential_id=e.micro_credential_id,
        micro_credential_version=e.micro_credential_version,
        purpose=e.purpose,
        status=e.status.value,
        result_status=e.ob3_result_status,
        enrolled_at=e.enrolled_at,
        deadline_at=e.deadline_at,
        attempts_used=e.attempts_used,
        attempts_left=e.attempts_left,
        closed_at=e.closed_at,
        end_reason=e.end_reason.value if e.end_reason else None,
        misconduct=e.misconduct,
        may_reenroll_from=e.may_reenroll_from,
    )


_REFUSALS: dict[int | str, dict[str, Any]] = {
    409: {"description": "A rule refuses it: reason says which, detail why"}
}


@router.post(
    "/enrollments",
    status_code=status.HTTP_201_CREATED,
    summary="Enroll in a micro-credential (the newest published version)",
    responses={**_REFUSALS, 403: {"description": "Not the caller's educator id"}},
)
async def enroll(
    body: EnrollRequest, principal: Educator, uow: UoW, clock: ClockDep, metrics: Metrics
) -> EnrollmentOut:
    if principal.educator_id != body.educator_id:
        raise Forbidden("educators enroll only themselves")
    enrollment = await commands.enroll(
        uow,
        educator_id=body.educator_id,
        micro_credential_id=body.micro_credential_id,
        purpose=body.purpose,
        now=clock(),
    )
    metrics.enrollments.labels("enrolled").inc()
    return _out(enrollment)


@router.post(
    "/enrollments/{enrollment_id}/withdraw",
    summary="Withdraw from one of my enrollments",
    responses={**_REFUSALS, 404: {"description": "No such enrollment of the caller"}},
)
async def withdraw(
    enrollment_id: str,
    principal: Educator,
    uow: UoW,
    clock: ClockDep,
    metrics: Metrics,
    body: WithdrawRequest | None = None,
) -> EnrollmentOut:
    enrollment = await commands.withdraw(
        uow,
        enrollment_id=enrollment_id,
        educator_id=principal.educator_id or "",
        reason=body.reason if body else "",
        now=clock(),
    )
    metrics.enrollments.labels("withdrawn").inc()
    return _out(enrollment)


@router.get("/enrollments/me", summary="My enrollments: status, deadline, attempts left")
async def my_enrollments(principal: Educator, uow: UoW) -> list[EnrollmentOut]:
    if not principal.educator_id:
        raise Forbidden("the token names no educator")
    return [_out(e) for e in await commands.my_enrollments(uow, principal.educator_id)]


@router.get(
    "/catalog/micro-credentials/{micro_credential_id}",
    summary="The versions of a micro-credential this service knows (from registry events)",
)
async def catalog_versions(
    micro_credential_id: str,
    _: Annotated[Principal, Depends(require(Role.EDUCATOR, Role.DISTRICT_ADMIN, Role.STATE_ADMIN))],
    uow: UoW,
) -> list[CatalogVersionOut]:
    return [
        CatalogVersionOut.model_validate(version)
        for version in await commands.catalog_versions(uow, micro_credential_id)
    ]
