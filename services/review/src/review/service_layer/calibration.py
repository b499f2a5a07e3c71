"""Recording a calibration run: agreement and kappa against reference scores gate assignment.

A run that meets the threshold makes the assessor ``calibrated`` (and may assign waiting
submissions to them at once); one below it makes them ``needs_recalibration``, so they are not
assigned until a later run passes. Every run is kept: their sequence is the drift report.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

from sqlmodel.ext.asyncio.session import AsyncSession

from review.adapters import repository as repo
from review.domain.assignment import CalibrationStatus
from review.domain.calibration import CalibrationReport, Comparison, calibration_reports
from review.service_layer.assignment import AssignmentPolicy, assign_pending


class UnknownAssessor(Exception):
    pass


def as_decimal(value: Fraction | None) -> Decimal | None:
    if value is None:
        return None
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return exact.quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN)


async def record_calibration(
    session: AsyncSession,
    *,
    assessor_id: str,
    comparisons: Sequence[Comparison],
    threshold: Decimal,
    min_samples: int,
    policy: AssignmentPolicy,
    now: datetime,
    assign_limit: int,
) -> tuple[str, CalibrationReport]:
    if await repo.get_assessor(session, assessor_id) is None:
        raise UnknownAssessor(assessor_id)
    report = calibration_reports(
        comparisons, threshold=Fraction(threshold), min_samples=min_samples
    )[assessor_id]
    run_id = str(uuid.uuid4())
    await repo.insert_calibration_run(
        session,
        {
            "run_id": run_id,
            "assessor_id": assessor_id,
            "recorded_at": now,
            "samples": report.overall.samples,
            "agreement": as_decimal(report.overall.agreement),
            "kappa": as_decimal(report.overall.kappa),
            "threshold": threshold,
            "per_criterion": [
                {
                    "criterion_id": criterion_id,
                    "samples": a.samples,
                    "agreement": str(as_decimal(a.agreement)),
                    "kappa": None if a.kappa is None else str(as_decimal(a.kappa)),
                }
                for criterion_id, a in report.per_criterion.items()
            ],
            "calibrated": report.calibrated,
        },
    )
    status = (
        CalibrationStatus.CALIBRATED if report.calibrated else CalibrationStatus.NEEDS_RECALIBRATION
    )
    await repo.set_calibration_status(session, assessor_id, status.value)
    if report.calibrated:
        await assign_pending(session, policy, now, assign_limit)
    return run_id, report
