"""Evidence rules: which artifacts a requirement accepts, word counts, the completeness check.

Pure: the service layer streams files and stores rows; these functions only decide.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from mc_events.contracts.common import EvidenceKind
from mc_events.contracts.enrollment import CompletenessProblemKind

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


class EvidenceRejected(ValueError):
    """An artifact that can never be accepted for its requirement (the API answers 4xx)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


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


def word_count(text: str) -> int:
    return len(_WORD.findall(text))


def media_type(content_type: str | None) -> str:
    """``text/plain; charset=utf-8`` → ``text/plain``."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def check_file(requirement: Requirement, content_type: str | None) -> str:
    """The normalised media type of a file for ``requirement``, or :class:`EvidenceRejected`."""
    if requirement.kind not in FILE_KINDS:
        raise EvidenceRejected(
            422, f"requirement {requirement.id} takes a {requirement.kind.value}, not a file"
        )
    media = media_type(content_type)
    allowed = ALLOWED_CONTENT_TYPES[requirement.kind]
    if media not in allowed:
        raise EvidenceRejected(
            415,
            f"{media or 'no content type'} is not accepted for {requirement.kind.value}; "
            f"allowed: {', '.join(sorted(allowed))}",
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
            422, f"requirement {requirement.id} takes a {requirement.kind.value}, not a reflection"
        )
    words = word_count(text)
    problem = _words_problem(requirement, words)
    if problem is not None:
        raise EvidenceRejected(422, f"requirement {requirement.id}: {problem.detail}")
    return words


def check_link(requirement: Requirement, url: str) -> str:
    if requirement.kind is not EvidenceKind.LINK:
        raise EvidenceRejected(
            422, f"requirement {requirement.id} takes a {requirement.kind.value}, not a link"
        )
    url = url.strip()
    if not _URL.match(url) or len(url) > 2000:
        raise EvidenceRejected(422, "a link must be an https:// URL of at most 2000 characters")
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
