"""Evidence rules: which artifacts a requirement accepts, word counts, the completeness check.

Pure: the service layer streams files and stores rows; these functions only decide.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from mc_events.contracts.common import CriterionResult, EvidenceKind
from mc_events.contracts.enrollment import CompletenessProblemKind
from mc_events.contracts.review import MisconductKind, ReviewOutcome
from mc_platform.refusals import ContentTooLarge, Invalid, UnsupportedMediaType

FILE_KINDS = frozenset({EvidenceKind.VIDEO, EvidenceKind.DOCUMENT, EvidenceKind.STUDENT_WORK})

_DOCUMENTS = frozenset(
    {
        "application/pdf",
        "text/plain",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.oasis.opendocument.text",
    }
)
ALLOWED_CONTENT_TYPES: Mapping[EvidenceKind, frozenset[str]] = {
    EvidenceKind.VIDEO: frozenset({"video/mp4", "video/quicktime", "video/webm"}),
    EvidenceKind.DOCUMENT: _DOCUMENTS,
    EvidenceKind.STUDENT_WORK: _DOCUMENTS | {"image/jpeg", "image/png"},
    EvidenceKind.REFLECTION: frozenset({"text/plain"}),
    EvidenceKind.LINK: frozenset({"text/uri-list"}),
}
"""The content-type allowlist per kind of evidence (no executables, no HTML: evidence is
private and is opened by assessors)."""

_WORD = re.compile(r"\S+")
_URL = re.compile(r"^https://[^\s/$.?#][^\s]*$", re.IGNORECASE)


class EvidenceRejected(Invalid):
    """An artifact that can never be accepted for its requirement (422)."""


class UnacceptableMediaType(EvidenceRejected):
    """A file whose content type the requirement's kind of evidence does not accept (415)."""

    status = UnsupportedMediaType.status


class TooLarge(ContentTooLarge):
    """An artifact larger than the limit (413): nothing of it is stored."""


@dataclass(frozen=True)
class Requirement:
    id: str
    kind: EvidenceKind
    required: bool
    min_words: int | None = None
    max_words: int | None = None


@dataclass(frozen=True)
class PresentArtifact:
    """An artifact the educator has added, as the completeness check sees it."""

    requirement_id: str
    word_count: int | None


@dataclass(frozen=True)
class Problem:
    requirement_id: str
    problem: CompletenessProblemKind
    detail: str

    def as_json(self) -> dict[str, str]:
        """As the submission keeps it and the API shows it."""
        return {
            "requirement_id": self.requirement_id,
            "problem": self.problem.value,
            "detail": self.detail,
        }

    @classmethod
    def from_json(cls, value: Mapping[str, str]) -> Problem:
        return cls(
            value["requirement_id"], CompletenessProblemKind(value["problem"]), value["detail"]
        )


def word_count(text: str) -> int:
    return len(_WORD.findall(text))


def media_type(content_type: str | None) -> str:
    """``text/plain; charset=utf-8`` → ``text/plain``."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def check_file(requirement: Requirement, content_type: str | None) -> str:
    """The normalised media type of a file for ``requirement``, or :class:`EvidenceRejected`."""
    if requirement.kind not in FILE_KINDS:
        raise EvidenceRejected(
            f"requirement {requirement.id} takes a {requirement.kind.value}, not a file"
        )
    media = media_type(content_type)
    allowed = ALLOWED_CONTENT_TYPES[requirement.kind]
    if media not in allowed:
        raise UnacceptableMediaType(
            f"{media or 'no content type'} is not accepted for {requirement.kind.value}; "
            f"allowed: {', '.join(sorted(allowed))}"
        )
    return media


def _words_problem(requirement: Requirement, words: int) -> Problem | None:
    if requirement.min_words is not None and words < requirement.min_words:
        return Problem(
            requirement.id,
            CompletenessProblemKind.TOO_SHORT,
            f"{words} words; at least {requirement.min_words} needed",
        )
    if requirement.max_words is not None and words > requirement.max_words:
        return Problem(
            requirement.id,
            CompletenessProblemKind.TOO_LONG,
            f"{words} words; at most {requirement.max_words} allowed",
        )
    return None


def check_reflection(requirement: Requirement, text: str) -> int:
    """The word count of a reflection within its limits, or :class:`EvidenceRejected`."""
    if requirement.kind is not EvidenceKind.REFLECTION:
        raise EvidenceRejected(
            f"requirement {requirement.id} takes a {requirement.kind.value}, not a reflection"
        )
    words = word_count(text)
    problem = _words_problem(requirement, words)
    if problem is not None:
        raise EvidenceRejected(f"requirement {requirement.id}: {problem.detail}")
    return words


def check_link(requirement: Requirement, url: str) -> str:
    if requirement.kind is not EvidenceKind.LINK:
        raise EvidenceRejected(
            f"requirement {requirement.id} takes a {requirement.kind.value}, not a link"
        )
    url = url.strip()
    if not _URL.match(url) or len(url) > 2000:
        raise EvidenceRejected("a link must be an https:// URL of at most 2000 characters")
    return url


def completeness(
    requirements: Iterable[Requirement], present: Iterable[PresentArtifact]
) -> list[Problem]:
    """What keeps a submission from going to review: a required requirement without an
    artifact, or a text outside its word limits. Empty means complete."""
    by_requirement: dict[str, list[PresentArtifact]] = {}
    for artifact in present:
        by_requirement.setdefault(artifact.requirement_id, []).append(artifact)
    problems: list[Problem] = []
    for requirement in requirements:
        artifacts = by_requirement.get(requirement.id, [])
        if not artifacts:
            if requirement.required:
                problems.append(
                    Problem(requirement.id, CompletenessProblemKind.MISSING, "nothing submitted")
                )
            continue
        for artifact in artifacts:
            if artifact.word_count is None:
                continue
            problem = _words_problem(requirement, artifact.word_count)
            if problem is not None:
                problems.append(problem)
    return problems


@dataclass(frozen=True)
class AssessorAssignment:
    """One review assignment of a submission, as enrollment learned it from ``review.assigned``."""

    assignment_id: str
    assessor_id: str


def assessor_may_read(
    assessor_id: str,
    assignments: Iterable[AssessorAssignment],
    released: Collection[str],
) -> bool:
    """Whether ``assessor_id`` may read a submission's evidence: they hold an assignment of it
    that review has not released (reassigned away as overdue).

    Access is keyed by assignment, not by assessor, and both inputs only grow (an assignment
    or a release is recorded once, whatever arrives twice), so the answer does not depend on
    the order the events came in: a ``review.assigned`` for a released assignment arriving
    after its release restores nothing, and the new assessor's assignment stands on its own."""
    return any(
        a.assessor_id == assessor_id and a.assignment_id not in released for a in assignments
    )


# -- what the service keeps: artifacts, submissions, the assignments review tells it of ---------


@dataclass(frozen=True)
class Artifact:
    """One piece of evidence in the store: a draft until a submission sends it to review."""

    artifact_id: str
    enrollment_id: str
    requirement_id: str
    kind: EvidenceKind
    content_type: str
    size_bytes: int
    sha256: str
    uri: str
    word_count: int | None
    submission_id: str | None
    created_at: datetime


@dataclass(frozen=True)
class Decision:
    """Review's decision on a submission, as the educator's feedback keeps it."""

    decision_id: str
    outcome: ReviewOutcome
    results: tuple[CriterionResult, ...]
    decided_at: datetime
    misconduct: MisconductKind | None


@dataclass(frozen=True)
class Submission:
    """One submission of an enrollment's evidence: complete (an attempt, sent to review) or
    returned incomplete with its problems; ``decision`` once review decided it."""

    submission_id: str
    enrollment_id: str
    idempotency_key: str
    complete: bool
    attempt: int | None
    problems: tuple[Problem, ...]
    submitted_at: datetime
    decision: Decision | None = None


@dataclass(frozen=True)
class ReviewAssignment:
    """A ``review.assigned``: an assessor holds the submission (and may read its evidence)."""

    assignment_id: str
    enrollment_id: str
    submission_id: str
    assessor_id: str
    assigned_at: datetime


@dataclass(frozen=True)
class ReleasedAssignment:
    """An overdue assignment review reassigned: its assessor may no longer read the evidence."""

    assignment_id: str
    enrollment_id: str
    submission_id: str
    assessor_id: str
    escalation_id: str
    released_at: datetime
