"""The assessor roster: qualifications, calibration status, capacity and conflict links.

State admins manage it. An assessor may read their own record (token claim ``assessor_id``).
A change may make an assessor eligible for submissions that wait for one: they are assigned in
the same transaction.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from mc_events.auth import Principal, Role, require
from review.adapters import repository as repo
from review.domain.assignment import (
    Assessor,
    CalibrationStatus,
    Qualification,
    QualificationKind,
)
from review.domain.calibration import Comparison
from review.domain.conflicts import AssessorLinks
from review.entrypoints.api.deps import ClockDep, Metrics, Sessions, SettingsDep
from review.service_layer.assignment import assign_pending, policy_of
from review.service_layer.calibration import UnknownAssessor, record_calibration
from review.service_layer.unit_of_work import UnitOfWork

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


def _out(record: repo.AssessorRecord) -> AssessorOut:
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


StateAdmin = Annotated[Principal, Depends(require(Role.STATE_ADMIN))]


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
    sessions: Sessions,
    clock: ClockDep,
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
    now = clock()
    async with UnitOfWork(sessions) as uow:
        created = await repo.upsert_assessor(uow.session, assessor, now)
        await assign_pending(uow.session, policy_of(settings), now, settings.assign_pending_batch)
        record = await repo.get_assessor(uow.session, assessor_id)
        await uow.commit()
    assert record is not None
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
    sessions: Sessions,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 20,
) -> list[AssessorOut]:
    async with UnitOfWork(sessions) as uow:
        records = await repo.list_assessors(
            uow.session, limit=page_size, offset=(page - 1) * page_size
        )
    return [_out(r) for r in records]


@router.get(
    "/{assessor_id}",
    summary="One assessor",
    description="State admins see anyone; an assessor sees only their own record.",
)
async def get_assessor(
    assessor_id: str,
    principal: Annotated[Principal, Depends(require(Role.STATE_ADMIN, Role.ASSESSOR))],
    sessions: Sessions,
) -> AssessorOut:
    if not principal.has(Role.STATE_ADMIN) and principal.assessor_id != assessor_id:
        # Same answer as a missing record: ids of other assessors are not disclosed.
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such assessor")
    async with UnitOfWork(sessions) as uow:
        record = await repo.get_assessor(uow.session, assessor_id)
    if record is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such assessor")
    return _out(record)


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


def _calibration_out(row: Any) -> CalibrationOut:
    return CalibrationOut(
        run_id=row.run_id,
        assessor_id=row.assessor_id,
        recorded_at=row.recorded_at,
        samples=row.samples,
        agreement=row.agreement,
        kappa=row.kappa,
        threshold=row.threshold,
        calibrated=row.calibrated,
        per_criterion=[CriterionAgreementOut(**c) for c in row.per_criterion],
    )


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
    sessions: Sessions,
    clock: ClockDep,
    settings: SettingsDep,
    metrics: Metrics,
) -> CalibrationOut:
    comparisons = [
        Comparison(assessor_id, c.criterion_id, c.level_id, c.reference_level_id)
        for c in body.results
    ]
    async with UnitOfWork(sessions) as uow:
        try:
            run_id, report = await record_calibration(
                uow.session,
                assessor_id=assessor_id,
                comparisons=comparisons,
                threshold=settings.calibration_agreement_threshold,
                min_samples=settings.calibration_min_samples,
                policy=policy_of(settings),
                now=clock(),
                assign_limit=settings.assign_pending_batch,
            )
        except UnknownAssessor as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such assessor") from exc
        rows = await repo.calibration_history(uow.session, assessor_id)
        await uow.commit()
    metrics.calibration_runs.labels("passed" if report.calibrated else "failed").inc()
    return _calibration_out(next(r for r in rows if r.run_id == run_id))


@router.get(
    "/{assessor_id}/calibrations",
    summary="An assessor's calibration runs, oldest first (drift over time)",
    description="State admins see anyone's; an assessor sees only their own.",
)
async def get_calibrations(
    assessor_id: str,
    principal: Annotated[Principal, Depends(require(Role.STATE_ADMIN, Role.ASSESSOR))],
    sessions: Sessions,
) -> list[CalibrationOut]:
    if not principal.has(Role.STATE_ADMIN) and principal.assessor_id != assessor_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such assessor")
    async with UnitOfWork(sessions) as uow:
        rows = await repo.calibration_history(uow.session, assessor_id)
    return [_calibration_out(r) for r in rows]
