"""Choosing assessors for a submission: eligible first, then the least loaded.

Eligible means: active, calibrated, qualified for the micro-credential (or its competency),
below their weekly capacity, and free of any conflict of interest with the educator. Among the
eligible, the one with the lowest share of their capacity used is chosen (ties: fewer
assignments, then assessor id, so the choice is deterministic and testable).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction

from review.domain.conflicts import AssessorLinks, EducatorFacts, conflicts, supervision_chain


class CalibrationStatus(StrEnum):
    """Where an assessor stands with calibration; only ``calibrated`` assessors are assigned."""

    UNTRAINED = "untrained"
    IN_TRAINING = "in_training"
    CALIBRATED = "calibrated"
    NEEDS_RECALIBRATION = "needs_recalibration"


class QualificationKind(StrEnum):
    MICRO_CREDENTIAL = "micro_credential"
    COMPETENCY = "competency"


@dataclass(frozen=True)
class Qualification:
    kind: QualificationKind
    id: str


@dataclass(frozen=True)
class Assessor:
    links: AssessorLinks
    qualifications: frozenset[Qualification] = field(default_factory=frozenset)
    calibration: CalibrationStatus = CalibrationStatus.UNTRAINED
    weekly_capacity: int = 0
    active: bool = True

    @property
    def assessor_id(self) -> str:
        return self.links.assessor_id

    def qualified_for(self, micro_credential_id: str, competency: str | None) -> bool:
        if Qualification(QualificationKind.MICRO_CREDENTIAL, micro_credential_id) in (
            self.qualifications
        ):
            return True
        return competency is not None and (
            Qualification(QualificationKind.COMPETENCY, competency) in self.qualifications
        )


@dataclass(frozen=True)
class SubmissionFacts:
    """What assignment needs to know about a submission."""

    educator: EducatorFacts
    micro_credential_id: str
    competency: str | None = None


class Ineligibility(StrEnum):
    INACTIVE = "inactive"
    NOT_CALIBRATED = "not_calibrated"
    NOT_QUALIFIED = "not_qualified"
    AT_CAPACITY = "at_capacity"
    CONFLICT = "conflict"
    EXCLUDED = "excluded"


def ineligibility(
    assessor: Assessor,
    submission: SubmissionFacts,
    *,
    load: int,
    chain: frozenset[str],
    exclude: Collection[str] = (),
) -> frozenset[Ineligibility]:
    """Why ``assessor`` may not take ``submission`` (empty: they may)."""
    reasons: set[Ineligibility] = set()
    if not assessor.active:
        reasons.add(Ineligibility.INACTIVE)
    if assessor.calibration is not CalibrationStatus.CALIBRATED:
        reasons.add(Ineligibility.NOT_CALIBRATED)
    if not assessor.qualified_for(submission.micro_credential_id, submission.competency):
        reasons.add(Ineligibility.NOT_QUALIFIED)
    if load >= assessor.weekly_capacity:
        reasons.add(Ineligibility.AT_CAPACITY)
    if conflicts(assessor.links, submission.educator, chain):
        reasons.add(Ineligibility.CONFLICT)
    if assessor.assessor_id in exclude:
        reasons.add(Ineligibility.EXCLUDED)
    return frozenset(reasons)


def choose_assessors(
    submission: SubmissionFacts,
    assessors: Sequence[Assessor],
    loads: Mapping[str, int],
    supervisor_of: Mapping[str, str | None],
    *,
    count: int = 1,
    exclude: Collection[str] = (),
) -> list[Assessor]:
    """Up to ``count`` distinct eligible assessors, least loaded first.

    ``loads`` is each assessor's assignments this week. Returns fewer than ``count`` (possibly
    none) when not enough assessors are eligible; the caller queues the rest.
    """
    chain = supervision_chain(submission.educator, supervisor_of)
    chosen: list[Assessor] = []
    taken = set(exclude)
    for _ in range(count):
        eligible = [
            a
            for a in assessors
            if not ineligibility(
                a, submission, load=loads.get(a.assessor_id, 0), chain=chain, exclude=taken
            )
        ]
        if not eligible:
            break
        best = min(
            eligible,
            key=lambda a: (
                Fraction(loads.get(a.assessor_id, 0), a.weekly_capacity),
                loads.get(a.assessor_id, 0),
                a.assessor_id,
            ),
        )
        chosen.append(best)
        taken.add(best.assessor_id)
    return chosen
