"""Measures for the state's research questions: queue depth, time to
decision, SLA breaches, pass rate per micro-credential and per criterion, attempts to pass,
inter-rater agreement.

Aggregated in SQL (the database holds every decision; only counts travel), turned into rates
by :mod:`review.domain.measures`. Decision measures count decisions made in ``[since, until)``;
SLA measures count rater assignments due in it; the queue is the state now.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from math import nan as NAN
from typing import Any

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from mc_events.db import execute_core
from review.adapters.repository import AssignmentStatus, ReviewStatus
from review.adapters.tables import assignments, reviews
from review.domain.calibration import Agreement
from review.domain.measures import agreement_from_counts, mean_attempt, ratio
from review.metrics import ReviewMetrics

QUEUE_STATUSES = (
    ReviewStatus.AWAITING_ASSESSOR,
    ReviewStatus.IN_REVIEW,
    ReviewStatus.AWAITING_APPROVER,
    ReviewStatus.MISCONDUCT_HOLD,
)
OUTCOMES = ("passed", "revision_requested", "not_earned")


@dataclass(frozen=True)
class Filter:
    micro_credential_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass
class CriterionMeasure:
    criterion_id: str
    results: int = 0
    met: int = 0

    @property
    def met_rate(self) -> Fraction | None:
        return ratio(self.met, self.results)


@dataclass
class McMeasures:
    micro_credential_id: str
    outcomes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    mean_time_to_decision_seconds: float | None = None
    attempts_to_pass: dict[int, int] = field(default_factory=dict)
    criteria: dict[str, CriterionMeasure] = field(default_factory=dict)
    rater_pairs: dict[tuple[str, str], int] = field(default_factory=dict)

    @property
    def decisions(self) -> int:
        return sum(self.outcomes.values())

    @property
    def pass_rate(self) -> Fraction | None:
        return ratio(self.outcomes["passed"], self.decisions)

    @property
    def mean_attempts_to_pass(self) -> Fraction | None:
        return mean_attempt(self.attempts_to_pass)

    @property
    def inter_rater(self) -> Agreement:
        return agreement_from_counts(self.rater_pairs)


@dataclass
class Measures:
    queue_depth: dict[str, int]
    oldest_waiting_since: datetime | None
    decisions: int
    mean_time_to_decision_seconds: float | None
    median_time_to_decision_seconds: float | None
    p90_time_to_decision_seconds: float | None
    assignments_due: int
    sla_breaches: int
    open_overdue: int
    by_micro_credential: dict[str, McMeasures]

    @property
    def sla_breach_rate(self) -> Fraction | None:
        return ratio(self.sla_breaches, self.assignments_due)

    @property
    def inter_rater(self) -> Agreement:
        pairs: dict[tuple[str, str], int] = defaultdict(int)
        for mc in self.by_micro_credential.values():
            for key, n in mc.rater_pairs.items():
                pairs[key] += n
        return agreement_from_counts(pairs)


def _decided_in(f: Filter) -> list[Any]:
    where: list[Any] = [reviews.c.status == ReviewStatus.DECIDED]
    if f.micro_credential_id is not None:
        where.append(reviews.c.micro_credential_id == f.micro_credential_id)
    if f.since is not None:
        where.append(reviews.c.decided_at >= f.since)
    if f.until is not None:
        where.append(reviews.c.decided_at < f.until)
    return where


async def _rows(session: AsyncSession, statement: Any) -> list[Any]:
    return list(await execute_core(session, statement))


_SECONDS = sa.func.extract("epoch", reviews.c.decided_at - reviews.c.submitted_at)


async def measures(session: AsyncSession, f: Filter, now: datetime) -> Measures:
    mc_filter: list[Any] = (
        [reviews.c.micro_credential_id == f.micro_credential_id]
        if f.micro_credential_id is not None
        else []
    )
    queue = await _rows(
        session,
        sa.select(reviews.c.status, sa.func.count().label("n"), sa.func.min(reviews.c.submitted_at))
        .where(reviews.c.status.in_(QUEUE_STATUSES), *mc_filter)
        .group_by(reviews.c.status),
    )
    depth = dict.fromkeys(QUEUE_STATUSES, 0)
    oldest: datetime | None = None
    for status, n, first in queue:
        depth[status] = int(n)
        oldest = first if oldest is None or first < oldest else oldest

    decided = _decided_in(f)
    (timing,) = await _rows(
        session,
        sa.select(
            sa.func.count(),
            sa.func.avg(_SECONDS),
            sa.func.percentile_cont(0.5).within_group(_SECONDS),
            sa.func.percentile_cont(0.9).within_group(_SECONDS),
        ).where(*decided),
    )

    by_mc: dict[str, McMeasures] = {}

    def mc(mc_id: str) -> McMeasures:
        return by_mc.setdefault(mc_id, McMeasures(mc_id))

    for mc_id, outcome, n in await _rows(
        session,
        sa.select(reviews.c.micro_credential_id, reviews.c.outcome, sa.func.count())
        .where(*decided)
        .group_by(reviews.c.micro_credential_id, reviews.c.outcome),
    ):
        mc(mc_id).outcomes[outcome] = int(n)
    for mc_id, mean in await _rows(
        session,
        sa.select(reviews.c.micro_credential_id, sa.func.avg(_SECONDS))
        .where(*decided)
        .group_by(reviews.c.micro_credential_id),
    ):
        mc(mc_id).mean_time_to_decision_seconds = float(mean)
    for mc_id, attempt, n in await _rows(
        session,
        sa.select(reviews.c.micro_credential_id, reviews.c.attempt, sa.func.count())
        .where(*decided, reviews.c.outcome == "passed")
        .group_by(reviews.c.micro_credential_id, reviews.c.attempt),
    ):
        mc(mc_id).attempts_to_pass[int(attempt)] = int(n)

    result = sa.func.jsonb_array_elements(reviews.c.results).table_valued("value").alias("r")
    criterion = result.c.value.op("->>")("criterion_id")
    met = result.c.value.op("->>")("met").cast(sa.Boolean)
    for mc_id, criterion_id, n, n_met in await _rows(
        session,
        sa.select(
            reviews.c.micro_credential_id,
            criterion,
            sa.func.count(),
            sa.func.count().filter(met),
        )
        .select_from(reviews.join(result, sa.true()))
        .where(*decided, reviews.c.results.is_not(None))
        .group_by(reviews.c.micro_credential_id, criterion),
    ):
        mc(mc_id).criteria[criterion_id] = CriterionMeasure(criterion_id, int(n), int(n_met))

    # Inter-rater agreement: each criterion the two raters of a double-rated submission scored.
    first = assignments.alias("first")
    second = assignments.alias("second")
    s1 = sa.func.jsonb_array_elements(first.c.scores).table_valued("value").alias("s1")
    s2 = sa.func.jsonb_array_elements(second.c.scores).table_valued("value").alias("s2")
    level1 = s1.c.value.op("->>")("level_id")
    level2 = s2.c.value.op("->>")("level_id")
    rated = [
        first.c.submission_id == reviews.c.submission_id,
        second.c.submission_id == reviews.c.submission_id,
        first.c.role == "rater",
        second.c.role == "rater",
        first.c.status == AssignmentStatus.SCORED,
        second.c.status == AssignmentStatus.SCORED,
        first.c.slot < second.c.slot,
        s1.c.value.op("->>")("criterion_id") == s2.c.value.op("->>")("criterion_id"),
    ]
    for mc_id, a, b, n in await _rows(
        session,
        sa.select(reviews.c.micro_credential_id, level1, level2, sa.func.count())
        .select_from(
            reviews.join(first, sa.true())
            .join(second, sa.true())
            .join(s1, sa.true())
            .join(s2, sa.true())
        )
        .where(*decided, *rated)
        .group_by(reviews.c.micro_credential_id, level1, level2),
    ):
        mc(mc_id).rater_pairs[(a, b)] = int(n)

    due: list[Any] = [
        assignments.c.role == "rater",
        assignments.c.status != AssignmentStatus.CLOSED,
    ]
    if f.since is not None:
        due.append(assignments.c.due_at >= f.since)
    if f.until is not None:
        due.append(assignments.c.due_at < f.until)
    late = sa.and_(
        assignments.c.due_at < now,
        sa.or_(assignments.c.scored_at.is_(None), assignments.c.scored_at > assignments.c.due_at),
    )
    (sla,) = await _rows(
        session,
        sa.select(
            sa.func.count(),
            sa.func.count().filter(late),
            sa.func.count().filter(late, assignments.c.status == AssignmentStatus.OPEN),
        )
        .select_from(
            assignments.join(reviews, reviews.c.submission_id == assignments.c.submission_id)
        )
        .where(*due, *mc_filter),
    )

    def seconds(value: Any) -> float | None:
        return None if value is None else float(value)

    return Measures(
        queue_depth=depth,
        oldest_waiting_since=oldest,
        decisions=int(timing[0]),
        mean_time_to_decision_seconds=seconds(timing[1]),
        median_time_to_decision_seconds=seconds(timing[2]),
        p90_time_to_decision_seconds=seconds(timing[3]),
        assignments_due=int(sla[0]),
        sla_breaches=int(sla[1]),
        open_overdue=int(sla[2]),
        by_micro_credential=dict(sorted(by_mc.items())),
    )


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
