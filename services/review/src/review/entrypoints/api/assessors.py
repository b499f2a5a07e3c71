"""The assessor roster: qualifications, calibration status, capacity and conflict links.

State admins manage it. An assessor may read their own record and calibration runs (token
claim ``assessor_id``). A change may make an assessor eligible for submissions that wait for
one: they are assigned in the same transaction.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from mc_platform.auth import Principal, Role, require
from mc_platform.dependencies import ClockDep
from mc_platform.refusals import NotFound
from review.adapters.assessors import AssessorRecord, CalibrationRecord
from review.domain.assignment import (
    Assessor,
    CalibrationStatus,
    Qualification,
    QualificationKind,
)
from review.domain.calibration import Comparison
from review.domain.conflicts import AssessorLinks
from review.entrypoints.api.deps import Metrics, Policy, SettingsDep, StateAdmin, UoW
from review.service_layer import assessors

router = APIRouter(prefix="/assessors", tags=["assessors"])

NonEmpty = Annotated[str, Field(min_length=1, max_length=200)]
MAX_PAGE_SIZE = 100


class QualificationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: QualificationKind
    id: NonEmpty = Field(description="A micro-credential id, or a competency statement.")


class AssessorIn(BaseModel):
    """An assessor's roster record (the whole record: PUT replaces it)."""

    model_config = ConfigDict(extra="forbid")

    educator_id: NonEmpty | None = Field(
        default=None, description="The assessor's own state educator id, if on the roster."
    )
    district_id: NonEmpty = Field(description="The district the assessor works in.")
    school_id: NonEmpty | None = None
    supervises: list[NonEmpty] = Field(
        default_factory=list,
        max_length=1000,
        description="State educator ids the assessor supervises directly.",
    )
    qualifications: list[QualificationIn] = Field(default_factory=list, max_length=500)
    calibration_status: CalibrationStatus = CalibrationStatus.UNTRAINED
    weekly_capacity: int = Field(ge=0, le=500, description="Assignments per week at most.")
    active: bool = True


class AssessorOut(AssessorIn):
    assessor_id: str
    created_at: datetime
    updated_at: datetime


def _out(record: AssessorRecord) -> AssessorOut:
    a = record.assessor
    return AssessorOut(
        assessor_id=a.assessor_id,
        educator_id=a.links.educator_id,
        district_id=a.links.district_id,
        school_id=a.links.school_id,
        supervises=sorted(a.links.supervises),
        qualifications=[
            QualificationIn(kind=q.kind, id=q.id)
            for q in sorted(a.qualifications, key=lambda q: (q.kind, q.id))
        ],
        calibration_status=a.calibration,
        weekly_capacity=a.weekly_capacity,
        active=a.active,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


AdminOrAssessor = Annotated[Principal, Depends(require(Role.STATE_ADMIN, Role.ASSESSOR))]


def _own(principal: Principal, assessor_id: str) -> None:
    """State admins see anyone's; an assessor only their own (others' ids are not disclosed:
    the same answer as a missing record)."""
    if not principal.has(Role.STATE_ADMIN) and principal.assessor_id != assessor_id:
        raise NotFound("no such assessor")


@router.put(
    "/{assessor_id}",
    summary="Create or replace an assessor",
    description="201 when created, 200 when replaced. Submissions waiting for an assessor are "
    "assigned at once if the change makes someone eligible.",
    status_code=status.HTTP_200_OK,
    responses={201: {"description": "Created"}},
)
async def put_assessor(
    assessor_id: Annotated[str, Field(min_length=1, max_length=200)],
    body: AssessorIn,
    response: Response,
    _: StateAdmin,
    uow: UoW,
    clock: ClockDep,
    policy: Policy,
    settings: SettingsDep,
) -> AssessorOut:
    assessor = Assessor(
        links=AssessorLinks(
            assessor_id=assessor_id,
            district_id=body.district_id,
            educator_id=body.educator_id,
            school_id=body.school_id,
            supervises=frozenset(body.supervises),
        ),
        qualifications=frozenset(Qualification(q.kind, q.id) for q in body.qualifications),
        calibration=body.calibration_status,
        weekly_capacity=body.weekly_capacity,
        active=body.active,
    )
    created, record = await assessors.put_assessor(
        uow, assessor, policy=policy, now=clock(), assign_limit=settings.assign_pending_batch
    )
    if created:
        response.status_code = status.HTTP_201_CREATED
    return _out(record)


@router.get(
    "",
    summary="The assessors on the roster, by assessor id",
    description=f"Paged: ``page`` from 1, ``page_size`` up to {MAX_PAGE_SIZE}.",
)
async def list_assessors(
    _: StateAdmin,
    uow: UoW,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 20,
) -> list[AssessorOut]:
    records = await assessors.assessors(uow, limit=page_size, offset=(page - 1) * page_size)
    return [_out(r) for r in records]


@router.get(
    "/{assessor_id}",
    summary="One assessor",
    description="State admins see anyone; an assessor sees only their own record.",
)
async def get_assessor(assessor_id: str, principal: AdminOrAssessor, uow: UoW) -> AssessorOut:
    _own(principal, assessor_id)
    return _out(await assessors.assessor(uow, assessor_id))


class ComparisonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reference_id: NonEmpty = Field(description="The reference submission scored.")
    criterion_id: NonEmpty
    level_id: NonEmpty = Field(description="The level the assessor gave.")
    reference_level_id: NonEmpty = Field(description="The true (reference) level.")


class CalibrationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    results: list[ComparisonIn] = Field(min_length=1, max_length=5000)


class CriterionAgreementOut(BaseModel):
    criterion_id: str
    samples: int
    agreement: Decimal
    kappa: Decimal | None


class CalibrationOut(BaseModel):
    run_id: str
    assessor_id: str
    recorded_at: datetime
    samples: int
    agreement: Decimal = Field(description="Share of exact matches with the reference, 0..1.")
    kappa: Decimal | None = Field(description="Cohen's kappa against the reference.")
    threshold: Decimal
    calibrated: bool
    per_criterion: list[CriterionAgreementOut]


def _calibration_out(run: CalibrationRecord) -> CalibrationOut:
    return CalibrationOut.model_validate(run, from_attributes=True)


@router.post(
    "/{assessor_id}/calibrations",
    summary="Record a calibration run against reference scores",
    description="Agreement and Cohen's kappa, overall and per criterion. At or above the "
    "threshold (default 80 % agreement) the assessor becomes calibrated and may be assigned; "
    "below it they are not assigned until a later run passes.",
    status_code=status.HTTP_201_CREATED,
    responses={404: {"description": "No such assessor"}},
)
async def post_calibration(
    assessor_id: str,
    body: CalibrationIn,
    _: StateAdmin,
    uow: UoW,
    clock: ClockDep,
    policy: Policy,
    settings: SettingsDep,
    metrics: Metrics,
) -> CalibrationOut:
    run = await assessors.record_calibration(
        uow,
        assessor_id=assessor_id,
        comparisons=[
            Comparison(assessor_id, c.criterion_id, c.level_id, c.reference_level_id)
            for c in body.results
        ],
        threshold=settings.calibration_agreement_threshold,
        min_samples=settings.calibration_min_samples,
        policy=policy,
        now=clock(),
        assign_limit=settings.assign_pending_batch,
    )
    metrics.calibration_runs.labels("passed" if run.calibrated else "failed").inc()
    return _calibration_out(run)


@router.get(
    "/{assessor_id}/calibrations",
    summary="An assessor's calibration runs, oldest first (drift over time)",
    description="State admins see anyone's; an assessor sees only their own.",
)
async def get_calibrations(
    assessor_id: str, principal: AdminOrAssessor, uow: UoW
) -> list[CalibrationOut]:
    _own(principal, assessor_id)
    return [_calibration_out(r) for r in await assessors.calibrations(uow, assessor_id)]
