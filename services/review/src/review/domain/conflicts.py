"""Conflict of interest: who may never review whose evidence.

An assessor never reviews an educator who is themself, who works in the assessor's district or
school, or whom the assessor supervises directly or through others (the educator's supervision
chain is transitive through supervisor links). Pure: the caller passes the facts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class ConflictKind(StrEnum):
    """Why an assessor may not review a submission."""

    SELF = "self"
    SAME_DISTRICT = "same_district"
    SAME_SCHOOL = "same_school"
    SUPERVISION_CHAIN = "supervision_chain"


@dataclass(frozen=True)
class EducatorFacts:
    """What review knows about the educator behind a submission (ids only, never names)."""

    educator_id: str
    district_id: str
    school_id: str | None = None
    supervisor_id: str | None = None


@dataclass(frozen=True)
class AssessorLinks:
    """An assessor's own place in the state: the links conflicts are computed from."""

    assessor_id: str
    district_id: str
    educator_id: str | None = None
    """The assessor's state educator id, when they are on the roster themselves."""
    school_id: str | None = None
    supervises: frozenset[str] = field(default_factory=frozenset)
    """State educator ids the assessor supervises directly (declared on the assessor roster,
    in addition to the supervisor links of the educator roster)."""

    @property
    def identities(self) -> frozenset[str]:
        """Every id that names this person (assessor id and state educator id)."""
        ids = {self.assessor_id}
        if self.educator_id:
            ids.add(self.educator_id)
        return frozenset(ids)


def supervision_chain(
    educator: EducatorFacts, supervisor_of: Mapping[str, str | None]
) -> frozenset[str]:
    """Everyone above ``educator``: their supervisor, that supervisor's supervisor, and so on.

    ``supervisor_of`` is the roster's supervisor links; the submission's own ``supervisor_id``
    wins for the educator (it is what HR said when the evidence came in). Cycles in bad HR data
    end the walk instead of looping.
    """
    chain: set[str] = set()
    current = educator.supervisor_id
    if current is None:
        current = supervisor_of.get(educator.educator_id)
    while current is not None and current not in chain and current != educator.educator_id:
        chain.add(current)
        current = supervisor_of.get(current)
    return frozenset(chain)


def conflicts(
    assessor: AssessorLinks,
    educator: EducatorFacts,
    chain: frozenset[str],
) -> frozenset[ConflictKind]:
    """Every conflict of interest between ``assessor`` and ``educator`` (empty: none).

    ``chain`` is :func:`supervision_chain` of the educator. Direct supervision declared on the
    assessor makes them part of the chain too, and so does supervising anyone in it.
    """
    found: set[ConflictKind] = set()
    me = assessor.identities
    if educator.educator_id in me:
        found.add(ConflictKind.SELF)
    if assessor.district_id == educator.district_id:
        found.add(ConflictKind.SAME_DISTRICT)
    if assessor.school_id is not None and assessor.school_id == educator.school_id:
        found.add(ConflictKind.SAME_SCHOOL)
    below_me = assessor.supervises
    if me & chain or educator.educator_id in below_me or below_me & chain:
        found.add(ConflictKind.SUPERVISION_CHAIN)
    return frozenset(found)


def has_conflict(
    assessor: AssessorLinks, educator: EducatorFacts, supervisor_of: Mapping[str, str | None]
) -> bool:
    return bool(conflicts(assessor, educator, supervision_chain(educator, supervisor_of)))


def supervisor_map(links: Iterable[tuple[str, str | None]]) -> dict[str, str | None]:
    """``{educator id: supervisor id}`` from roster rows."""
    return dict(links)
