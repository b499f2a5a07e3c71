"""The research measures, aggregated in SQL: the database holds every decision and only counts
travel. :mod:`review.domain.measures` turns the counts into rates, means and agreement."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel.ext.asyncio.session import AsyncSession

from mc_events.contracts.review import AssessorRole
from mc_events.db import execute_core
from review.adapters.tables import assignments, reviews
from review.domain.measures import (
    QUEUE_STATUSES,
    CriterionMeasure,
    McMeasures,
    Measures,
    MeasuresFilter,
)
from review.domain.review import AssignmentStatus, ReviewStatus
from review.domain.scoring import Outcome

_SECONDS = sa.func.extract("epoch", reviews.c.decided_at - reviews.c.submitted_at)
_RATER = AssessorRole.RATER.value
_SCORED = AssignmentStatus.SCORED.value


def _decided_in(f: MeasuresFilter) -> list[Any]:
    where: list[Any] = [reviews.c.status == ReviewStatus.DECIDED.value]
    if f.micro_credential_id is not None:
        where.append(reviews.c.micro_credential_id == f.micro_credential_id)
    if f.since is not None:
        where.append(reviews.c.decided_at >= f.since)
    if f.until is not None:
        where.append(reviews.c.decided_at < f.until)
    return where


def _seconds(value: Any) -> float | None:
    return None if value is None else float(value)


class MeasuresRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def _rows(self, statement: Any) -> list[Any]:
        return list(await execute_core(self._session, statement))

    async def measures(self, f: MeasuresFilter, now: datetime) -> Measures:
        """Decision measures of decisions made in ``[since, until)``, SLA measures of rater
        assignments due in it, and the queue now."""
        mc_filter: list[Any] = (
            [reviews.c.micro_credential_id == f.micro_credential_id]
            if f.micro_credential_id is not None
            else []
        )
        queue = await self._rows(
            sa.select(
                reviews.c.status, sa.func.count().label("n"), sa.func.min(reviews.c.submitted_at)
            )
            .where(reviews.c.status.in_([s.value for s in QUEUE_STATUSES]), *mc_filter)
            .group_by(reviews.c.status),
        )
        depth = dict.fromkeys((s.value for s in QUEUE_STATUSES), 0)
        oldest: datetime | None = None
        for status, n, first in queue:
            depth[status] = int(n)
            oldest = first if oldest is None or first < oldest else oldest

        decided = _decided_in(f)
        (timing,) = await self._rows(
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

        for mc_id, outcome, n in await self._rows(
            sa.select(reviews.c.micro_credential_id, reviews.c.outcome, sa.func.count())
            .where(*decided)
            .group_by(reviews.c.micro_credential_id, reviews.c.outcome),
        ):
            mc(mc_id).outcomes[outcome] = int(n)
        for mc_id, mean in await self._rows(
            sa.select(reviews.c.micro_credential_id, sa.func.avg(_SECONDS))
            .where(*decided)
            .group_by(reviews.c.micro_credential_id),
        ):
            mc(mc_id).mean_time_to_decision_seconds = float(mean)
        for mc_id, attempt, n in await self._rows(
            sa.select(reviews.c.micro_credential_id, reviews.c.attempt, sa.func.count())
            .where(*decided, reviews.c.outcome == Outcome.PASSED.value)
            .group_by(reviews.c.micro_credential_id, reviews.c.attempt),
        ):
            mc(mc_id).attempts_to_pass[int(attempt)] = int(n)

        # A decision without scored criteria (a misconduct ruling) stores JSON null: expand
        # arrays only, so that it counts as a decision and adds no criterion.
        results = sa.case(
            (sa.func.jsonb_typeof(reviews.c.results) == "array", reviews.c.results),
            else_=sa.cast(sa.literal("[]"), JSONB),
        )
        result = sa.func.jsonb_array_elements(results).table_valued("value").alias("r")
        criterion = result.c.value.op("->>")("criterion_id")
        met = result.c.value.op("->>")("met").cast(sa.Boolean)
        for mc_id, criterion_id, n, n_met in await self._rows(
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

        # Inter-rater agreement: each criterion the two raters of a double-rated submission
        # scored.
        first = assignments.alias("first")
        second = assignments.alias("second")
        s1 = sa.func.jsonb_array_elements(first.c.scores).table_valued("value").alias("s1")
        s2 = sa.func.jsonb_array_elements(second.c.scores).table_valued("value").alias("s2")
        level1 = s1.c.value.op("->>")("level_id")
        level2 = s2.c.value.op("->>")("level_id")
        rated = [
            first.c.submission_id == reviews.c.submission_id,
            second.c.submission_id == reviews.c.submission_id,
            first.c.role == _RATER,
            second.c.role == _RATER,
            first.c.status == _SCORED,
            second.c.status == _SCORED,
            first.c.slot < second.c.slot,
            s1.c.value.op("->>")("criterion_id") == s2.c.value.op("->>")("criterion_id"),
        ]
        for mc_id, a, b, n in await self._rows(
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
            assignments.c.role == _RATER,
            assignments.c.status != AssignmentStatus.CLOSED.value,
        ]
        if f.since is not None:
            due.append(assignments.c.due_at >= f.since)
        if f.until is not None:
            due.append(assignments.c.due_at < f.until)
        late = sa.and_(
            assignments.c.due_at < now,
            sa.or_(
                assignments.c.scored_at.is_(None), assignments.c.scored_at > assignments.c.due_at
            ),
        )
        (sla,) = await self._rows(
            sa.select(
                sa.func.count(),
                sa.func.count().filter(late),
                sa.func.count().filter(late, assignments.c.status == AssignmentStatus.OPEN.value),
            )
            .select_from(
                assignments.join(reviews, reviews.c.submission_id == assignments.c.submission_id)
            )
            .where(*due, *mc_filter),
        )

        return Measures(
            queue_depth=depth,
            oldest_waiting_since=oldest,
            decisions=int(timing[0]),
            mean_time_to_decision_seconds=_seconds(timing[1]),
            median_time_to_decision_seconds=_seconds(timing[2]),
            p90_time_to_decision_seconds=_seconds(timing[3]),
            assignments_due=int(sla[0]),
            sla_breaches=int(sla[1]),
            open_overdue=int(sla[2]),
            by_micro_credential=dict(sorted(by_mc.items())),
        )
