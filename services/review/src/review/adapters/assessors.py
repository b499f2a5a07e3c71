"""The assessor roster and its calibration runs."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlmodel.ext.asyncio.session import AsyncSession

from mc_events.db import execute_core
from review.adapters.tables import assessors, assignments, calibration_runs
from review.domain.assignment import (
    Assessor,
    CalibrationStatus,
    Qualification,
    QualificationKind,
)
from review.domain.conflicts import AssessorLinks
from review.domain.measures import CalibrationRun


@dataclass(frozen=True)
class AssessorRecord:
    assessor: Assessor
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class CriterionAgreement:
    criterion_id: str
    samples: int
    agreement: Decimal
    kappa: Decimal | None


@dataclass(frozen=True)
class CalibrationRecord:
    """A calibration run as recorded (agreement and kappa to four places)."""

    run_id: str
    assessor_id: str
    recorded_at: datetime
    samples: int
    agreement: Decimal
    kappa: Decimal | None
    threshold: Decimal
    calibrated: bool
    per_criterion: tuple[CriterionAgreement, ...]


def _assessor(row: Any) -> Assessor:
    return Assessor(
        links=AssessorLinks(
            assessor_id=row.assessor_id,
            district_id=row.district_id,
            educator_id=row.educator_id,
            school_id=row.school_id,
            supervises=frozenset(row.supervises),
        ),
        qualifications=frozenset(
            Qualification(QualificationKind(q["kind"]), q["id"]) for q in row.qualifications
        ),
        calibration=CalibrationStatus(row.calibration_status),
        weekly_capacity=row.weekly_capacity,
        active=row.active,
    )


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _record(row: Any) -> AssessorRecord:
    return AssessorRecord(_assessor(row), row.created_at, row.updated_at)


def _calibration(row: Any) -> CalibrationRecord:
    return CalibrationRecord(
        run_id=row.run_id,
        assessor_id=row.assessor_id,
        recorded_at=row.recorded_at,
        samples=row.samples,
        agreement=row.agreement,
        kappa=row.kappa,
        threshold=row.threshold,
        calibrated=row.calibrated,
        per_criterion=tuple(
            CriterionAgreement(
                criterion_id=c["criterion_id"],
                samples=c["samples"],
                agreement=Decimal(c["agreement"]),
                kappa=None if c["kappa"] is None else Decimal(c["kappa"]),
            )
            for c in row.per_criterion
        ),
    )


class AssessorRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def upsert(self, assessor: Assessor, now: datetime) -> bool:
        """Create or replace an assessor; True if it was created."""
        links = assessor.links
        values = {
            "educator_id": links.educator_id,
            "district_id": links.district_id,
            "school_id": links.school_id,
            "supervises": sorted(links.supervises),
            "qualifications": [
                {"kind": q.kind.value, "id": q.id}
                for q in sorted(assessor.qualifications, key=lambda q: (q.kind, q.id))
            ],
            "calibration_status": assessor.calibration.value,
            "weekly_capacity": assessor.weekly_capacity,
            "active": assessor.active,
            "updated_at": now,
        }
        stmt = pg_insert(assessors).values(assessor_id=links.assessor_id, created_at=now, **values)
        stmt = stmt.on_conflict_do_update(index_elements=["assessor_id"], set_=values)
        result = await execute_core(
            self._session, stmt.returning(sa.literal_column("(xmax = 0)").label("created"))
        )
        return bool(result.scalar_one())

    async def get(self, assessor_id: str) -> AssessorRecord | None:
        result = await execute_core(
            self._session, sa.select(assessors).where(assessors.c.assessor_id == assessor_id)
        )
        row = result.one_or_none()
        return _record(row) if row else None

    async def page(self, *, limit: int | None = None, offset: int = 0) -> list[AssessorRecord]:
        """The roster by assessor id (unique: pages never overlap or skip); all without a
        limit."""
        stmt = sa.select(assessors).order_by(assessors.c.assessor_id).offset(offset)
        if limit is not None:
            stmt = stmt.limit(limit)
        return [_record(row) for row in await execute_core(self._session, stmt)]

    async def assignable(self) -> list[Assessor]:
        """Active, calibrated assessors (the rest are filtered again by the domain rules)."""
        result = await execute_core(
            self._session,
            sa.select(assessors).where(
                assessors.c.active.is_(True),
                assessors.c.calibration_status == CalibrationStatus.CALIBRATED.value,
            ),
        )
        return [_assessor(row) for row in result]

    async def weekly_loads(self, since: datetime) -> dict[str, int]:
        """Each assessor's assignments made since ``since`` (released ones included: they were
        given them)."""
        result = await execute_core(
            self._session,
            sa.select(assignments.c.assessor_id, sa.func.count().label("n"))
            .where(assignments.c.assigned_at >= since)
            .group_by(assignments.c.assessor_id),
        )
        return {str(row.assessor_id): int(row.n) for row in result}

    async def set_calibration_status(self, assessor_id: str, status: CalibrationStatus) -> None:
        await execute_core(
            self._session,
            sa.update(assessors)
            .where(assessors.c.assessor_id == assessor_id)
            .values(calibration_status=status.value),
        )

    # -- calibration runs ---------------------------------------------------------------------

    async def add_calibration(self, run: CalibrationRecord) -> None:
        row = asdict(run)
        # Per criterion, agreement and kappa are stored as their decimal strings.
        row["per_criterion"] = [
            c | {"agreement": str(c["agreement"]), "kappa": _text(c["kappa"])}
            for c in row["per_criterion"]
        ]
        await execute_core(self._session, sa.insert(calibration_runs).values(**row))

    async def calibration(self, run_id: str) -> CalibrationRecord | None:
        result = await execute_core(
            self._session, sa.select(calibration_runs).where(calibration_runs.c.run_id == run_id)
        )
        row = result.one_or_none()
        return _calibration(row) if row else None

    async def calibrations(self, assessor_id: str) -> list[CalibrationRecord]:
        """An assessor's runs in recording order."""
        result = await execute_core(
            self._session,
            sa.select(calibration_runs)
            .where(calibration_runs.c.assessor_id == assessor_id)
            .order_by(calibration_runs.c.recorded_at, calibration_runs.c.seq),
        )
        return [_calibration(row) for row in result]

    async def calibration_runs(
        self,
        *,
        since: datetime | None,
        until: datetime | None,
        assessor_id: str | None,
        limit: int,
    ) -> list[CalibrationRun]:
        """Calibration runs in ``[since, until)``, in recording order (the drift report)."""
        query = sa.select(
            calibration_runs.c.assessor_id,
            calibration_runs.c.recorded_at,
            calibration_runs.c.agreement,
            calibration_runs.c.kappa,
            calibration_runs.c.calibrated,
        )
        if since is not None:
            query = query.where(calibration_runs.c.recorded_at >= since)
        if until is not None:
            query = query.where(calibration_runs.c.recorded_at < until)
        if assessor_id is not None:
            query = query.where(calibration_runs.c.assessor_id == assessor_id)
        result = await execute_core(
            self._session,
            query.order_by(calibration_runs.c.recorded_at, calibration_runs.c.seq).limit(limit),
        )
        return [
            CalibrationRun(r.assessor_id, r.recorded_at, r.agreement, r.kappa, r.calibrated)
            for r in result
        ]
