"""Rubric scoring, the decision rule and double rating.

The decision follows from the required levels: every criterion at or above its required level
is a pass; otherwise the educator is asked for a revision while attempts remain, else the
credential is not earned. With two raters, a disagreement on any criterion's level goes to an
approver, whose scores decide.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from mc_platform.refusals import Invalid


class Outcome(StrEnum):
    PASSED = "passed"
    REVISION_REQUESTED = "revision_requested"
    NOT_EARNED = "not_earned"


class InvalidScores(Invalid):
    """Scores that do not fit the rubric (missing, unknown criterion or level): 422, nothing
    is saved."""


@dataclass(frozen=True)
class Criterion:
    id: str
    level_ids: tuple[str, ...]
    """Ordered, lowest first."""
    required_level_id: str

    def rank(self, level_id: str) -> int:
        try:
            return self.level_ids.index(level_id)
        except ValueError:
            raise InvalidScores(f"criterion {self.id}: unknown level {level_id!r}") from None

    def met_by(self, level_id: str) -> bool:
        return self.rank(level_id) >= self.rank(self.required_level_id)


@dataclass(frozen=True)
class Rubric:
    """What the catalog says about scoring one micro-credential version."""

    criteria: tuple[Criterion, ...]
    attempt_cap: int


@dataclass(frozen=True)
class Score:
    level_id: str
    feedback: str = ""


@dataclass(frozen=True)
class Result:
    criterion_id: str
    level_id: str
    met: bool
    feedback: str


Rating = Mapping[str, Score]
"""One rater's scores: ``{criterion id: score}``."""


def check_rating(rubric: Sequence[Criterion], rating: Rating) -> None:
    """Raise :class:`InvalidScores` unless ``rating`` scores every criterion with a real level."""
    ids = {c.id for c in rubric}
    unknown = sorted(set(rating) - ids)
    if unknown:
        raise InvalidScores(f"unknown criteria: {', '.join(unknown)}")
    missing = sorted(ids - set(rating))
    if missing:
        raise InvalidScores(f"criteria not scored: {', '.join(missing)}")
    for criterion in rubric:
        criterion.rank(rating[criterion.id].level_id)


def results_of(rubric: Sequence[Criterion], rating: Rating) -> tuple[Result, ...]:
    check_rating(rubric, rating)
    return tuple(
        Result(
            criterion_id=c.id,
            level_id=rating[c.id].level_id,
            met=c.met_by(rating[c.id].level_id),
            feedback=rating[c.id].feedback,
        )
        for c in rubric
    )


def decide(results: Sequence[Result], *, attempt: int, attempt_cap: int) -> Outcome:
    """passed when every criterion is met; else revision_requested while attempts remain."""
    if all(r.met for r in results):
        return Outcome.PASSED
    if attempt < attempt_cap:
        return Outcome.REVISION_REQUESTED
    return Outcome.NOT_EARNED


@dataclass(frozen=True)
class Agreed:
    results: tuple[Result, ...]


@dataclass(frozen=True)
class NeedsApprover:
    disagreements: tuple[str, ...]
    """Criterion ids on which the raters chose different levels."""


def reconcile(rubric: Sequence[Criterion], first: Rating, second: Rating) -> Agreed | NeedsApprover:
    """Two raters' scores: agreed results, or the criteria an approver must decide.

    When the levels agree everywhere, each criterion's feedback joins both raters' words.
    """
    check_rating(rubric, first)
    check_rating(rubric, second)
    differing = tuple(c.id for c in rubric if first[c.id].level_id != second[c.id].level_id)
    if differing:
        return NeedsApprover(differing)
    merged = {
        c.id: Score(
            first[c.id].level_id,
            "\n\n".join(f for f in (first[c.id].feedback, second[c.id].feedback) if f),
        )
        for c in rubric
    }
    return Agreed(results_of(rubric, merged))
