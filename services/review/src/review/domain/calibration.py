"""Calibration against reference scores: agreement and Cohen's kappa (BloomBoard practice).

Assessors score reference submissions whose true levels are known. Agreement is the share of
criteria scored exactly as the reference; Cohen's kappa corrects it for chance agreement.
Below the threshold (default 80 % agreement) an assessor is not assigned until recalibrated.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

DEFAULT_AGREEMENT_THRESHOLD = Fraction(80, 100)


@dataclass(frozen=True)
class Comparison:
    """One criterion of one reference submission, as scored by an assessor."""

    assessor_id: str
    criterion_id: str
    level_id: str
    reference_level_id: str


@dataclass(frozen=True)
class Agreement:
    samples: int
    agreement: Fraction
    """Share of exact matches (0..1)."""
    kappa: Fraction | None
    """Cohen's kappa; None when undefined (no samples)."""


def agreement_of(pairs: Sequence[tuple[str, str]]) -> Agreement:
    """Agreement and Cohen's kappa of ``(rater level, reference level)`` pairs.

    kappa = (p_o - p_e) / (1 - p_e), with p_e the chance agreement from both marginals. When
    both always choose one and the same level, p_e = 1 and kappa is taken as 1 (perfect) if
    they agree, else 0.
    """
    n = len(pairs)
    if n == 0:
        return Agreement(0, Fraction(0), None)
    observed = Fraction(sum(1 for a, b in pairs if a == b), n)
    rater = Counter(a for a, _ in pairs)
    reference = Counter(b for _, b in pairs)
    expected = sum(
        (Fraction(rater[k], n) * Fraction(reference[k], n) for k in rater.keys() & reference),
        Fraction(0),
    )
    if expected == 1:
        kappa = Fraction(1) if observed == 1 else Fraction(0)
    else:
        kappa = (observed - expected) / (1 - expected)
    return Agreement(n, observed, kappa)


@dataclass(frozen=True)
class CalibrationReport:
    assessor_id: str
    overall: Agreement
    per_criterion: dict[str, Agreement]
    calibrated: bool


def calibration_reports(
    comparisons: Iterable[Comparison],
    *,
    threshold: Fraction = DEFAULT_AGREEMENT_THRESHOLD,
    min_samples: int = 1,
) -> dict[str, CalibrationReport]:
    """Per assessor: overall and per-criterion agreement, and whether they pass the gate."""
    by_assessor: dict[str, list[Comparison]] = defaultdict(list)
    for c in comparisons:
        by_assessor[c.assessor_id].append(c)
    reports: dict[str, CalibrationReport] = {}
    for assessor_id, rows in sorted(by_assessor.items()):
        overall = agreement_of([(r.level_id, r.reference_level_id) for r in rows])
        per: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for r in rows:
            per[r.criterion_id].append((r.level_id, r.reference_level_id))
        reports[assessor_id] = CalibrationReport(
            assessor_id=assessor_id,
            overall=overall,
            per_criterion={k: agreement_of(v) for k, v in sorted(per.items())},
            calibrated=overall.samples >= min_samples and overall.agreement >= threshold,
        )
    return reports


def criterion_agreement(comparisons: Iterable[Comparison]) -> dict[str, Agreement]:
    """Agreement per criterion across all assessors (which criteria are hard to score)."""
    per: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for c in comparisons:
        per[c.criterion_id].append((c.level_id, c.reference_level_id))
    return {k: agreement_of(v) for k, v in sorted(per.items())}
