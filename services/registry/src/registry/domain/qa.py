"""The state's quality-assurance workflow for catalog entries (micro-credentials and stacks).

    draft --submit--> submitted --approve--> approved --retire--> retired
      ^                   |
      +-----reject--------+   (back to draft, with the reviewer's reason)

Every step is recorded with who took it, when, and why. Only ``approved`` versions can be
enrolled in; a later version of an entry is a new draft.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class QaStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    RETIRED = "retired"


class QaAction(StrEnum):
    CREATE = "create"
    EDIT = "edit"
    SUBMIT = "submit"
    APPROVE = "approve"
    REJECT = "reject"
    RETIRE = "retire"


class CatalogError(Exception):
    """A catalog rule refused a command; the message says which."""


class InvalidTransition(CatalogError):
    """The entry's QA status does not allow this step."""


class ReasonRequired(CatalogError):
    """Rejections and retirements must say why."""


# (from, action) -> to. Anything not listed is refused.
TRANSITIONS: dict[tuple[QaStatus, QaAction], QaStatus] = {
    (QaStatus.DRAFT, QaAction.EDIT): QaStatus.DRAFT,
    (QaStatus.DRAFT, QaAction.SUBMIT): QaStatus.SUBMITTED,
    (QaStatus.SUBMITTED, QaAction.APPROVE): QaStatus.APPROVED,
    (QaStatus.SUBMITTED, QaAction.REJECT): QaStatus.DRAFT,
    (QaStatus.APPROVED, QaAction.RETIRE): QaStatus.RETIRED,
}

_NEEDS_REASON = frozenset({QaAction.REJECT, QaAction.RETIRE})

# Versions that were approved at some point: credentials may be awarded for them (enrollments
# opened before a retirement run to their deadline).
AWARDABLE = frozenset({QaStatus.APPROVED, QaStatus.RETIRED})


@dataclass(frozen=True)
class QaStep:
    """One recorded step of the workflow."""

    action: QaAction
    actor: str
    at: datetime
    reason: str = ""
    from_status: QaStatus | None = None
    to_status: QaStatus = QaStatus.DRAFT


def next_status(current: QaStatus, action: QaAction, reason: str = "") -> QaStatus:
    """The status after ``action``, or :class:`InvalidTransition` / :class:`ReasonRequired`."""
    target = TRANSITIONS.get((current, action))
    if target is None:
        raise InvalidTransition(f"cannot {action.value} an entry that is {current.value}")
    if action in _NEEDS_REASON and not reason.strip():
        raise ReasonRequired(f"{action.value} needs a reason")
    return target


class QaWorkflow:
    """Status plus history; catalog aggregates inherit it."""

    status: QaStatus
    history: list[QaStep]

    def _step(self, action: QaAction, actor: str, at: datetime, reason: str = "") -> None:
        if at.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        target = next_status(self.status, action, reason)
        self.history.append(
            QaStep(
                action=action,
                actor=actor,
                at=at,
                reason=reason.strip(),
                from_status=self.status,
                to_status=target,
            )
        )
        self.status = target

    def last(self, action: QaAction) -> QaStep | None:
        for step in reversed(self.history):
            if step.action is action:
                return step
        return None

    @property
    def enrollable(self) -> bool:
        return self.status is QaStatus.APPROVED

    @property
    def awardable(self) -> bool:
        return self.status in AWARDABLE
