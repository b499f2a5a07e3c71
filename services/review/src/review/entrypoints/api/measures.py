"""The state's research measures as JSON, for state admins (the same figures, all time, are
Prometheus gauges at /metrics)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Annotated, Self

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, Field

from mc_platform.dependencies import ClockDep
from review.domain.calibration import Agreement
from review.domain.measures import MeasuresFilter, Period
from review.entrypoints.api.deps import StateAdmin, UoW
from review.service_layer import measures

router = APIRouter(prefix="/measures", tags=["measures"])


def _rate(value: Fraction | None) -> float | None:
    return None if value is None else round(float(value), 4)


class AgreementOut(BaseModel):
    pairs: int = Field(description="Criteria scored by both raters of a double-rated submission.")
    agreement: float | None = Field(description="Share scored alike, 0..1.")
    kappa: float | None = Field(description="Cohen's kappa.")

    @classmethod
    def of(cls, a: Agreement) -> Self:
        return cls(
            pairs=a.samples,
            agreement=_rate(a.agreement) if a.samples else None,
            kappa=_rate(a.kappa),
        )


class CriterionOut(BaseModel):
    criterion_id: str
    results: int
    met: int
    met_rate: float | None


class AttemptsOut(BaseModel):
    passes: int
    mean_attempts: float | None
    by_attempt: dict[int, int] = Field(description="Passes by attempt number.")


class McOut(BaseModel):
    micro_credential_id: str
    decisions: int
    passed: int
    revision_requested: int
    not_earned: int
    pass_rate: float | None
    mean_time_to_decision_seconds: float | None
    attempts_to_pass: AttemptsOut
    criteria: list[CriterionOut]
    inter_rater: AgreementOut


class QueueOut(BaseModel):
    awaiting_assessor: int
    in_review: int
    awaiting_approver: int
    misconduct_hold: int
    total: int
    oldest_waiting_since: datetime | None


class TimeToDecisionOut(BaseModel):
    decisions: int
    mean_seconds: float | None
    median_seconds: float | None
    p90_seconds: float | None


class SlaOut(BaseModel):
    assignments_due: int = Field(description="Rater assignments due in the window.")
    breaches: int = Field(description="Of those, not scored by their due date.")
    breach_rate: float | None
    open_overdue: int = Field(description="Of those, still open and past due now.")


class MeasuresOut(BaseModel):
    micro_credential_id: str | None
    since: datetime | None
    until: datetime | None
    as_of: datetime
    queue: QueueOut = Field(description="Now (not limited to the window).")
    time_to_decision: TimeToDecisionOut
    sla: SlaOut
    inter_rater: AgreementOut
    micro_credentials: list[McOut]


@router.get(
    "",
    summary="Research measures: queue, time to decision, SLA, pass rates, attempts, agreement",
    description="Decision measures count decisions made in [since, until); SLA measures count "
    "rater assignments due in it; the queue is the state now. Filter by micro-credential.",
    responses={422: {"description": "since is not before until, or a date without a zone"}},
)
async def get_measures(
    _: StateAdmin,
    uow: UoW,
    clock: ClockDep,
    micro_credential_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
) -> MeasuresOut:
    now = clock()
    m = await measures.measures(uow, MeasuresFilter(micro_credential_id, since, until), now)
    q = m.queue_depth
    return MeasuresOut(
        micro_credential_id=micro_credential_id,
        since=since,
        until=until,
        as_of=now,
        queue=QueueOut(
            awaiting_assessor=q["awaiting_assessor"],
            in_review=q["in_review"],
            awaiting_approver=q["awaiting_approver"],
            misconduct_hold=q["misconduct_hold"],
            total=sum(q.values()),
            oldest_waiting_since=m.oldest_waiting_since,
        ),
        time_to_decision=TimeToDecisionOut(
            decisions=m.decisions,
            mean_seconds=m.mean_time_to_decision_seconds,
            median_seconds=m.median_time_to_decision_seconds,
            p90_seconds=m.p90_time_to_decision_seconds,
        ),
        sla=SlaOut(
            assignments_due=m.assignments_due,
            breaches=m.sla_breaches,
            breach_rate=_rate(m.sla_breach_rate),
            open_overdue=m.open_overdue,
        ),
        inter_rater=AgreementOut.of(m.inter_rater),
        micro_credentials=[
            McOut(
                micro_credential_id=mc.micro_credential_id,
                decisions=mc.decisions,
                passed=mc.outcomes["passed"],
                revision_requested=mc.outcomes["revision_requested"],
                not_earned=mc.outcomes["not_earned"],
                pass_rate=_rate(mc.pass_rate),
                mean_time_to_decision_seconds=mc.mean_time_to_decision_seconds,
                attempts_to_pass=AttemptsOut(
                    passes=mc.outcomes["passed"],
                    mean_attempts=_rate(mc.mean_attempts_to_pass),
                    by_attempt=dict(sorted(mc.attempts_to_pass.items())),
                ),
                criteria=[
                    CriterionOut(
                        criterion_id=c.criterion_id,
                        results=c.results,
                        met=c.met,
                        met_rate=_rate(c.met_rate),
                    )
                    for c in sorted(mc.criteria.values(), key=lambda c: c.criterion_id)
                ],
                inter_rater=AgreementOut.of(mc.inter_rater),
            )
            for mc in m.by_micro_credential.values()
        ],
    )


class PeriodDriftOut(BaseModel):
    period_start: date
    runs: int
    assessors: int
    mean_agreement: Decimal = Field(description="Mean agreement with the reference, 0..1.")
    mean_kappa: Decimal | None
    passed: int = Field(description="Runs at or above the threshold.")


class AssessorDriftOut(BaseModel):
    assessor_id: str
    runs: int
    first_agreement: Decimal
    latest_agreement: Decimal
    change_since_previous: Decimal | None = Field(
        description="Latest minus the run before (negative: drifting away from the reference)."
    )
    change_since_first: Decimal
    latest_kappa: Decimal | None
    latest_calibrated: bool
    latest_recorded_at: datetime


class DriftOut(BaseModel):
    period: Period
    since: datetime | None
    until: datetime | None
    periods: list[PeriodDriftOut]
    assessors: list[AssessorDriftOut]


@router.get(
    "/calibration-drift",
    summary="Calibration drift over time: state-wide per week or month, and per assessor",
    description="Agreement and Cohen's kappa of calibration runs against reference scores, "
    "recorded in [since, until); each assessor's first and latest runs and the change between.",
    responses={422: {"description": "since is not before until, or a date without a zone"}},
)
async def get_calibration_drift(
    _: StateAdmin,
    uow: UoW,
    assessor_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    period: Period = Period.MONTH,
) -> DriftOut:
    periods, assessors = await measures.drift(
        uow, assessor_id=assessor_id, since=since, until=until, period=period
    )
    return DriftOut(
        period=period,
        since=since,
        until=until,
        periods=[PeriodDriftOut(**asdict(p)) for p in periods],
        assessors=[AssessorDriftOut(**asdict(a)) for a in assessors],
    )
