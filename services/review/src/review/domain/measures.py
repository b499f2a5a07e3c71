"""The state's research measures, computed from counts, and the
calibration drift report (agreement with the reference scores over time).

Pure: the repository aggregates in SQL (counts per outcome, per criterion, per attempt, per
pair of rater levels) into :class:`Measures`, whose properties and these functions turn counts
into rates, means and agreement. Decision measures count decisions made in ``[since, until)``;
SLA measures count rater assignments due in it; the queue is the state now.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from fractions import Fraction

from mc_platform.refusals import Invalid
from review.domain.calibration import Agreement
from review.domain.review import ReviewStatus
from review.domain.scoring import Outcome

QUEUE_STATUSES = (
    ReviewStatus.AWAITING_ASSESSOR,
    ReviewStatus.IN_REVIEW,
    ReviewStatus.AWAITING_APPROVER,
    ReviewStatus.MISCONDUCT_HOLD,
)
OUTCOMES = tuple(outcome.value for outcome in Outcome)


def check_window(since: datetime | None, until: datetime | None) -> None:
    """Refuse a window ``[since, until)`` that is empty (422)."""
    if since is not None and until is not None and since >= until:
        raise Invalid("since must be before until")


def ratio(numerator: int, denominator: int) -> Fraction | None:
    """``numerator / denominator``, or None when there is nothing to divide by."""
    return Fraction(numerator, denominator) if denominator else None


def mean_attempt(distribution: Mapping[int, int]) -> Fraction | None:
    """Mean attempt number from ``{attempt: passes}`` (None without passes)."""
    passes = sum(distribution.values())
    if not passes:
        return None
    return Fraction(sum(attempt * n for attempt, n in distribution.items()), passes)


def agreement_from_counts(pairs: Mapping[tuple[str, str], int]) -> Agreement:
    """Agreement and Cohen's kappa of two raters from ``{(first level, second level): n}``.

    The same figures as :func:`review.domain.calibration.agreement_of` on the pairs listed
    one by one, without listing them (a state's worth of double ratings is many pairs).
    """
    n = sum(pairs.values())
    if n == 0:
        return Agreement(0, Fraction(0), None)
    observed = Fraction(sum(c for (a, b), c in pairs.items() if a == b), n)
    first: Counter[str] = Counter()
    second: Counter[str] = Counter()
    for (a, b), c in pairs.items():
        first[a] += c
        second[b] += c
    expected = sum(
        (Fraction(first[k], n) * Fraction(second[k], n) for k in first.keys() & second.keys()),
        Fraction(0),
    )
    if expected == 1:
        kappa = Fraction(1) if observed == 1 else Fraction(0)
    else:
        kappa = (observed - expected) / (1 - expected)
    return Agreement(n, observed, kappa)


@dataclass(frozen=True)
class CalibrationRun:
    assessor_id: str
    recorded_at: datetime
    agreement: Decimal
    kappa: Decimal | None
    calibrated: bool


class Period(StrEnum):
    WEEK = "week"
    MONTH = "month"


def period_start(at: datetime, period: Period) -> date:
    day = at.date()
    if period is Period.WEEK:
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


@dataclass(frozen=True)
class PeriodDrift:
    period_start: date
    runs: int
    assessors: int
    mean_agreement: Decimal
    mean_kappa: Decimal | None
    passed: int


@dataclass(frozen=True)
class AssessorDrift:
    assessor_id: str
    runs: int
    first_agreement: Decimal
    latest_agreement: Decimal
    change_since_previous: Decimal | None
    """Latest minus the run before it (None after one run): negative is drifting away."""
    change_since_first: Decimal
    latest_kappa: Decimal | None
    latest_calibrated: bool
    latest_recorded_at: datetime


_PLACES = Decimal("0.0001")


def _mean(values: Sequence[Decimal]) -> Decimal:
    return (sum(values, Decimal(0)) / len(values)).quantize(_PLACES, rounding=ROUND_HALF_EVEN)


def calibration_drift(
    runs: Sequence[CalibrationRun], period: Period
) -> tuple[list[PeriodDrift], list[AssessorDrift]]:
    """Calibration over time: state-wide per period, and per assessor from first to latest run.

    ``runs`` in recording order. A period's means are over its runs (an assessor calibrated
    twice in a month counts twice: each run is a measurement).
    """
    by_period: dict[date, list[CalibrationRun]] = {}
    by_assessor: dict[str, list[CalibrationRun]] = {}
    for run in runs:
        by_period.setdefault(period_start(run.recorded_at, period), []).append(run)
        by_assessor.setdefault(run.assessor_id, []).append(run)
    periods = []
    for start, rows in sorted(by_period.items()):
        kappas = [r.kappa for r in rows if r.kappa is not None]
        periods.append(
            PeriodDrift(
                period_start=start,
                runs=len(rows),
                assessors=len({r.assessor_id for r in rows}),
                mean_agreement=_mean([r.agreement for r in rows]),
                mean_kappa=_mean(kappas) if kappas else None,
                passed=sum(1 for r in rows if r.calibrated),
            )
        )
    assessors = []
    for assessor_id, rows in sorted(by_assessor.items()):
        first, latest = rows[0], rows[-1]
        assessors.append(
            AssessorDrift(
                assessor_id=assessor_id,
                runs=len(rows),
                first_agreement=first.agreement,
                latest_agreement=latest.agreement,
                change_since_previous=latest.agreement - rows[-2].agreement
                if len(rows) > 1
                else None,
                change_since_first=latest.agreement - first.agreement,
                latest_kappa=latest.kappa,
                latest_calibrated=latest.calibrated,
                latest_recorded_at=latest.recorded_at,
            )
        )
    return periods, assessors


@dataclass(frozen=True)
class MeasuresFilter:
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
