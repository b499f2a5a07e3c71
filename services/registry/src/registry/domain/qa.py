"""The approval lifecycle of catalog entries: the states and transitions every version of a
micro-credential and of a stack goes through, written once (:class:`QaWorkflow`).

    draft --submit--> submitted --approve--> approved --retire--> retired
      ^                   |
      +-----reject--------+   (back to draft, with the reviewer's reason)

Every step is recorded with who took it, when, and why. Only ``approved`` versions can be
enrolled in; a later version of an entry is a new draft. Approval publishes the version and
retirement withdraws it (:attr:`QaAction.publishes`, :attr:`QaAction.withdraws`); the state's
decisions (approve, reject, retire) are audited (:attr:`QaAction.decision`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from mc_platform.refusals import Conflict, Invalid


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

    @property
    def decision(self) -> bool:
        """A decision of the state's reviewers (audited, with its reason)."""
        return self in _DECISIONS

    @property
    def publishes(self) -> bool:
        """The version is published (announced to the other services) by this step."""
        return self is QaAction.APPROVE

    @property
    def withdraws(self) -> bool:
        """The version is withdrawn from enrollment (announced) by this step."""
        return self is QaAction.RETIRE


_DECISIONS = frozenset({QaAction.APPROVE, QaAction.REJECT, QaAction.RETIRE})


class InvalidTransition(Conflict):
    """The entry's QA status does not allow this step (409)."""


class ReasonRequired(Invalid):
    """Rejections and retirements must say why (422)."""


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
    """Status plus history, and the steps that move them; catalog entries inherit it."""

    status: QaStatus
    history: list[QaStep]

    def submit(self, actor: str, at: datetime) -> None:
        self._step(QaAction.SUBMIT, actor, at)

    def reject(self, actor: str, at: datetime, reason: str) -> None:
        self._step(QaAction.REJECT, actor, at, reason)

    def retire(self, actor: str, at: datetime, reason: str) -> None:
        self._step(QaAction.RETIRE, actor, at, reason)

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
    def approved_at(self) -> datetime | None:
        step = self.last(QaAction.APPROVE)
        return step.at if step else None

    @property
    def retired_at(self) -> datetime | None:
        step = self.last(QaAction.RETIRE)
        return step.at if step else None

    @property
    def enrollable(self) -> bool:
        return self.status is QaStatus.APPROVED

    @property
    def awardable(self) -> bool:
        return self.status in AWARDABLE
