"""The state's research measures and the calibration drift report, for state admins, and the
Prometheus gauges the scheduler refreshes from the all-time measures."""

from __future__ import annotations

from datetime import datetime
from math import nan as NAN

from review.domain.measures import (
    AssessorDrift,
    Measures,
    MeasuresFilter,
    Period,
    PeriodDrift,
    calibration_drift,
    check_window,
)
from review.metrics import ReviewMetrics
from review.service_layer.unit_of_work import UnitOfWork

MAX_DRIFT_RUNS = 100_000


async def measures(uow: UnitOfWork, f: MeasuresFilter, now: datetime) -> Measures:
    """Queue, time to decision, SLA, pass rates, attempts and agreement (see
    :mod:`review.domain.measures` for what each counts)."""
    check_window(f.since, f.until)
    async with uow:
        return await uow.measures.measures(f, now)


async def drift(
    uow: UnitOfWork,
    *,
    assessor_id: str | None,
    since: datetime | None,
    until: datetime | None,
    period: Period,
) -> tuple[list[PeriodDrift], list[AssessorDrift]]:
    """Calibration drift of the runs recorded in ``[since, until)``: state-wide per period, and
    per assessor from first to latest run."""
    check_window(since, until)
    async with uow:
        runs = await uow.assessors.calibration_runs(
            since=since, until=until, assessor_id=assessor_id, limit=MAX_DRIFT_RUNS
        )
    return calibration_drift(runs, period)


def export(metrics: ReviewMetrics, m: Measures) -> None:
    """Set the research gauges from all-time measures (stale label sets are dropped)."""
    for status, n in m.queue_depth.items():
        metrics.queue_depth.labels(status).set(n)
    metrics.sla_breaches.set(m.sla_breaches)
    metrics.overdue_open.set(m.open_overdue)
    for gauge in (
        metrics.mean_time_to_decision,
        metrics.pass_rate,
        metrics.criterion_met_rate,
        metrics.attempts_to_pass,
    ):
        gauge.clear()
    for mc_id, mc in m.by_micro_credential.items():
        if mc.mean_time_to_decision_seconds is not None:
            metrics.mean_time_to_decision.labels(mc_id).set(mc.mean_time_to_decision_seconds)
        if mc.pass_rate is not None:
            metrics.pass_rate.labels(mc_id).set(float(mc.pass_rate))
        if mc.mean_attempts_to_pass is not None:
            metrics.attempts_to_pass.labels(mc_id).set(float(mc.mean_attempts_to_pass))
        for c in mc.criteria.values():
            if c.met_rate is not None:
                metrics.criterion_met_rate.labels(mc_id, c.criterion_id).set(float(c.met_rate))
    # NaN (Prometheus's "no value") until there is a double-rated submission.
    agreement = m.inter_rater
    metrics.inter_rater_agreement.set(float(agreement.agreement) if agreement.samples else NAN)
    metrics.inter_rater_kappa.set(float(agreement.kappa) if agreement.kappa is not None else NAN)
