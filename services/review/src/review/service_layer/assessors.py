"""The assessor roster and calibration.

A roster change may make an assessor eligible for submissions that wait for one: they are
assigned in the same transaction. A calibration run against reference scores (agreement and
Cohen's kappa) that meets the threshold makes the assessor ``calibrated`` (and may assign
waiting submissions to them at once); one below it makes them ``needs_recalibration``, so they
are not assigned until a later run passes. Every run is kept: their sequence is the drift report.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

from review.adapters.assessors import AssessorRecord, CalibrationRecord, CriterionAgreement
from review.domain.assignment import Assessor, CalibrationStatus
from review.domain.calibration import Comparison, calibration_reports
from review.domain.refusals import NoSuch
from review.service_layer.assignment import AssignmentPolicy, assign_pending
from review.service_layer.unit_of_work import UnitOfWork


def as_decimal(value: Fraction) -> Decimal:
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return exact.quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN)


def _no_such_assessor() -> NoSuch:
    return NoSuch("no such assessor")


async def put_assessor(
    uow: UnitOfWork,
    assessor: Assessor,
    *,
    policy: AssignmentPolicy,
    now: datetime,
    assign_limit: int,
) -> tuple[bool, AssessorRecord]:
    """Create or replace an assessor (True: created), then assign waiting submissions."""
    async with uow:
        created = await uow.assessors.upsert(assessor, now)
        await assign_pending(uow, policy, now, assign_limit)
        record = await uow.assessors.get(assessor.assessor_id)
        await uow.commit()
    assert record is not None
    return created, record


async def assessor(uow: UnitOfWork, assessor_id: str) -> AssessorRecord:
    async with uow:
        record = await uow.assessors.get(assessor_id)
    if record is None:
        raise _no_such_assessor()
    return record


async def assessors(uow: UnitOfWork, *, limit: int, offset: int) -> list[AssessorRecord]:
    """A page of the roster, by assessor id."""
    async with uow:
        return await uow.assessors.page(limit=limit, offset=offset)


async def record_calibration(
    uow: UnitOfWork,
    *,
    assessor_id: str,
    comparisons: Sequence[Comparison],
    threshold: Decimal,
    min_samples: int,
    policy: AssignmentPolicy,
    now: datetime,
    assign_limit: int,
) -> CalibrationRecord:
    """Record a calibration run and set the assessor's calibration status from it."""
    async with uow:
        if await uow.assessors.get(assessor_id) is None:
            raise _no_such_assessor()
        report = calibration_reports(
            comparisons, threshold=Fraction(threshold), min_samples=min_samples
        )[assessor_id]
        run_id = str(uuid.uuid4())
        await uow.assessors.add_calibration(
            CalibrationRecord(
                run_id=run_id,
                assessor_id=assessor_id,
                recorded_at=now,
                samples=report.overall.samples,
                agreement=as_decimal(report.overall.agreement),
                kappa=None if report.overall.kappa is None else as_decimal(report.overall.kappa),
                threshold=threshold,
                calibrated=report.calibrated,
                per_criterion=tuple(
                    CriterionAgreement(
                        criterion_id=criterion_id,
                        samples=a.samples,
                        agreement=as_decimal(a.agreement),
                        kappa=None if a.kappa is None else as_decimal(a.kappa),
                    )
                    for criterion_id, a in report.per_criterion.items()
                ),
            )
        )
        await uow.assessors.set_calibration_status(
            assessor_id,
            CalibrationStatus.CALIBRATED
            if report.calibrated
            else CalibrationStatus.NEEDS_RECALIBRATION,
        )
        if report.calibrated:
            await assign_pending(uow, policy, now, assign_limit)
        recorded = await uow.assessors.calibration(run_id)
        await uow.commit()
    assert recorded is not None
    return recorded


async def calibrations(uow: UnitOfWork, assessor_id: str) -> list[CalibrationRecord]:
    """An assessor's calibration runs, oldest first (drift over time)."""
    async with uow:
        return await uow.assessors.calibrations(assessor_id)
