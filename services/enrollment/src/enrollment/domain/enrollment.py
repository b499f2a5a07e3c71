"""One educator working towards one micro-credential version: the enrollment state machine.

Pure: every rule takes ``now`` from the caller (an injectable clock), nothing here does I/O.

    enrolled ─submit─► submitted ─review─► under review ─decision─► earned
      │  ◄─incomplete─┘ (returned incomplete)             ├─► revision requested ─submit─►
      │                                                   │     resubmitted ─review─► ...
      │                                                   └─► not earned
      └─ withdrawn (any time before an outcome) / expired (deadline passed while waiting
         on the educator)

Statuses line up with Open Badges 3.0 ``Result.status`` (``ResultStatusType``) where they
overlap: see :data:`OB3_RESULT_STATUS`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from mc_events.contracts.common import Purpose
from mc_events.contracts.review import MisconductKind
from mc_platform.refusals import Conflict


class EnrollmentStatus(StrEnum):
    ENROLLED = "enrolled"
    SUBMITTED = "submitted"
    RETURNED_INCOMPLETE = "returned_incomplete"
    UNDER_REVIEW = "under_review"
    REVISION_REQUESTED = "revision_requested"
    RESUBMITTED = "resubmitted"
    EARNED = "earned"
    NOT_EARNED = "not_earned"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


ACTIVE: frozenset[EnrollmentStatus] = frozenset(
    {
        EnrollmentStatus.ENROLLED,
        EnrollmentStatus.SUBMITTED,
        EnrollmentStatus.RETURNED_INCOMPLETE,
        EnrollmentStatus.UNDER_REVIEW,
        EnrollmentStatus.REVISION_REQUESTED,
        EnrollmentStatus.RESUBMITTED,
    }
)
"""Statuses of an enrollment that is still open (at most one per educator and MC)."""

WAITING_ON_EDUCATOR: frozenset[EnrollmentStatus] = frozenset(
    {
        EnrollmentStatus.ENROLLED,
        EnrollmentStatus.RETURNED_INCOMPLETE,
        EnrollmentStatus.REVISION_REQUESTED,
    }
)
"""The educator may submit now; the deadline expires these (a submission under review is
decided first)."""

WITH_ASSESSORS: frozenset[EnrollmentStatus] = frozenset(
    {EnrollmentStatus.SUBMITTED, EnrollmentStatus.RESUBMITTED, EnrollmentStatus.UNDER_REVIEW}
)

OB3_RESULT_STATUS: dict[EnrollmentStatus, str] = {
    EnrollmentStatus.ENROLLED: "Enrolled",
    EnrollmentStatus.SUBMITTED: "InProgress",
    EnrollmentStatus.RETURNED_INCOMPLETE: "InProgress",
    EnrollmentStatus.UNDER_REVIEW: "InProgress",
    EnrollmentStatus.REVISION_REQUESTED: "InProgress",
    EnrollmentStatus.RESUBMITTED: "InProgress",
    EnrollmentStatus.EARNED: "Completed",
    EnrollmentStatus.NOT_EARNED: "Failed",
    EnrollmentStatus.WITHDRAWN: "Withdrew",
    EnrollmentStatus.EXPIRED: "Failed",
}
"""Open Badges 3.0 ``ResultStatusType`` for each status (Enrolled, InProgress, Completed,
Failed, Withdrew; OB 3.0 section B.2.3)."""


class Refusal(StrEnum):
    """Why a command on an enrollment was refused: the ``reason`` of the 409 the API answers."""

    NOT_ENROLLABLE = "not_enrollable"
    PURPOSE_NOT_ALLOWED = "purpose_not_allowed"
    ALREADY_ACTIVE = "already_active"
    ALREADY_EARNED = "already_earned"
    IN_COOLDOWN = "in_cooldown"
    DEADLINE_PASSED = "deadline_passed"
    NO_ATTEMPTS_LEFT = "no_attempts_left"
    NOT_ALLOWED_NOW = "not_allowed_now"


class EnrollmentRefused(Conflict):
    """The enrollment's state or the MC's policy refuses the command (409, ``reason`` says
    which rule)."""

    reason: Refusal

    def __init__(self, reason: Refusal, detail: str) -> None:
        super().__init__(detail, reason=reason)


class DecisionOutcome(StrEnum):
    PASSED = "passed"
    REVISION_REQUESTED = "revision_requested"
    NOT_EARNED = "not_earned"


class EndReason(StrEnum):
    """Why an enrollment ended without the credential (mirrors the NotEarned contract)."""

    ATTEMPTS_EXHAUSTED = "attempts_exhausted"
    DEADLINE_PASSED = "deadline_passed"
    ASSESSED_NOT_EARNED = "assessed_not_earned"


@dataclass(frozen=True)
class Policy:
    """The MC version's enrollment policy (from the catalog)."""

    attempt_cap: int
    completion_window: timedelta
    cooldown: timedelta


@dataclass(frozen=True)
class CatalogEntry:
    """What enrollment needs to know of one micro-credential version."""

    micro_credential_id: str
    version: int
    policy: Policy
    allowed_purposes: frozenset[Purpose]
    retired: bool = False


@dataclass(frozen=True)
class DeadlineReminder:
    """A deadline reminder sent: at most one per enrollment and threshold (``days_before``)."""

    enrollment_id: str
    days_before: int
    deadline_at: datetime
    reminded_at: datetime


@dataclass
class Enrollment:
    enrollment_id: str
    educator_id: str
    district_id: str
    micro_credential_id: str
    micro_credential_version: int
    purpose: Purpose
    policy: Policy
    enrolled_at: datetime
    deadline_at: datetime
    status: EnrollmentStatus = EnrollmentStatus.ENROLLED
    attempts_used: int = 0
    closed_at: datetime | None = None
    end_reason: EndReason | None = None
    may_reenroll_from: datetime | None = None
    """Set when the enrollment closes: the earliest time the educator may enroll again."""
    misconduct: MisconductKind | None = None
    """What an approver confirmed in the evidence, when a misconduct decision ended it (the
    end reason stays ``assessed_not_earned``: the NotEarned contract has no misconduct reason)."""
    changes: list[EnrollmentStatus] = field(default_factory=list, compare=False)
    """Statuses entered by commands on this object (the service layer turns them into events)."""

    # -- reading -----------------------------------------------------------------------------

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def attempts_left(self) -> int:
        return max(self.policy.attempt_cap - self.attempts_used, 0)

    @property
    def ob3_result_status(self) -> str:
        return OB3_RESULT_STATUS[self.status]

    def reminder_due(self, now: datetime, days_before: Iterable[int]) -> int | None:
        """The deadline reminder to send at ``now``, as its threshold in days, or None.

        Only while the enrollment waits on the educator before its deadline (never once closed,
        nor while a submission is with the assessors). Of the thresholds already reached it is
        the nearest one: a sweep that comes late sends the 3-day reminder, not a stale 14-day
        one as well. A threshold that fell before the enrollment began never applies (no
        14-day reminder for a 10-day window). Whether it was sent already is not known here:
        the service keeps one row per (enrollment, threshold) under a unique key."""
        if self.status not in WAITING_ON_EDUCATOR or now >= self.deadline_at:
            return None
        reached = [
            days
            for days in days_before
            if self.enrolled_at <= self.deadline_at - timedelta(days=days) <= now
        ]
        return min(reached, default=None)

    # -- commands ----------------------------------------------------------------------------

    def _move(self, to: EnrollmentStatus) -> None:
        self.status = to
        self.changes.append(to)

    def _close(self, to: EnrollmentStatus, now: datetime, *, cooldown: bool) -> None:
        self._move(to)
        self.closed_at = now
        self.may_reenroll_from = now + self.policy.cooldown if cooldown else now

    def _refuse_unless(self, allowed: Iterable[EnrollmentStatus], what: str) -> None:
        if self.status not in allowed:
            raise EnrollmentRefused(
                Refusal.NOT_ALLOWED_NOW, f"cannot {what} an enrollment that is {self.status.value}"
            )

    def check_accepts_evidence(self, now: datetime) -> None:
        """Evidence (an artifact or a submission) is taken only while the enrollment waits on
        the educator, before the deadline, with an attempt left."""
        self._refuse_unless(WAITING_ON_EDUCATOR, "add evidence to")
        if now >= self.deadline_at:
            raise EnrollmentRefused(
                Refusal.DEADLINE_PASSED, f"the deadline was {self.deadline_at.isoformat()}"
            )
        if self.attempts_left == 0:
            raise EnrollmentRefused(Refusal.NO_ATTEMPTS_LEFT, "no attempts left")

    def submit(self, now: datetime, *, complete: bool) -> None:
        """The educator sends evidence. An incomplete submission is returned at once and uses
        no attempt; a complete one uses an attempt and goes to the assessors."""
        self.check_accepts_evidence(now)
        if not complete:
            self._move(EnrollmentStatus.RETURNED_INCOMPLETE)
            return
        revised = self.status is EnrollmentStatus.REVISION_REQUESTED or self.attempts_used > 0
        self.attempts_used += 1
        self._move(EnrollmentStatus.RESUBMITTED if revised else EnrollmentStatus.SUBMITTED)

    def start_review(self) -> None:
        """An assessor took the submission."""
        self._refuse_unless(
            {EnrollmentStatus.SUBMITTED, EnrollmentStatus.RESUBMITTED}, "start reviewing"
        )
        self._move(EnrollmentStatus.UNDER_REVIEW)

    def decide(
        self, outcome: DecisionOutcome, now: datetime, *, misconduct: MisconductKind | None = None
    ) -> None:
        """A review decision on the submission with the assessors. A decision for misconduct
        is not earned and ends the enrollment like any other: the cooldown applies in full."""
        self._refuse_unless(WITH_ASSESSORS, "decide")
        if misconduct is not None and outcome is not DecisionOutcome.NOT_EARNED:
            raise EnrollmentRefused(
                Refusal.NOT_ALLOWED_NOW, "a decision for misconduct is always not_earned"
            )
        if outcome is DecisionOutcome.PASSED:
            self._close(EnrollmentStatus.EARNED, now, cooldown=False)
        elif outcome is DecisionOutcome.NOT_EARNED:
            self.end_reason = EndReason.ASSESSED_NOT_EARNED
            self.misconduct = misconduct
            self._close(EnrollmentStatus.NOT_EARNED, now, cooldown=True)
        elif self.attempts_left == 0:
            self.end_reason = EndReason.ATTEMPTS_EXHAUSTED
            self._close(EnrollmentStatus.NOT_EARNED, now, cooldown=True)
        elif now >= self.deadline_at:
            self.end_reason = EndReason.DEADLINE_PASSED
            self._close(EnrollmentStatus.NOT_EARNED, now, cooldown=True)
        else:
            self._move(EnrollmentStatus.REVISION_REQUESTED)

    def withdraw(self, now: datetime) -> None:
        """The educator leaves before an outcome. After a submission the cooldown applies, so
        withdrawing cannot reset the attempt cap; before any, they may enroll again at once."""
        self._refuse_unless(ACTIVE, "withdraw from")
        self._close(EnrollmentStatus.WITHDRAWN, now, cooldown=self.attempts_used > 0)

    def expire(self, now: datetime) -> None:
        """The deadline passed while the enrollment waited on the educator."""
        self._refuse_unless(WAITING_ON_EDUCATOR, "expire")
        if now < self.deadline_at:
            raise EnrollmentRefused(Refusal.NOT_ALLOWED_NOW, "the deadline has not passed yet")
        self.end_reason = EndReason.DEADLINE_PASSED
        self._close(EnrollmentStatus.EXPIRED, now, cooldown=True)


def enroll(
    *,
    enrollment_id: str,
    educator_id: str,
    district_id: str,
    entry: CatalogEntry | None,
    purpose: Purpose,
    history: Iterable[Enrollment],
    now: datetime,
) -> Enrollment:
    """A new enrollment, if the rules allow it: the version is published (not retired), the
    purpose is one the state allows, the educator has no open enrollment in the MC, has not
    earned it already, and is past the cooldown of their last one."""
    if entry is None or entry.retired:
        raise EnrollmentRefused(Refusal.NOT_ENROLLABLE, "no published version of this MC")
    if purpose not in entry.allowed_purposes:
        allowed = ", ".join(sorted(p.value for p in entry.allowed_purposes))
        raise EnrollmentRefused(
            Refusal.PURPOSE_NOT_ALLOWED, f"{purpose.value} is not allowed; allowed: {allowed}"
        )
    earlier = [e for e in history if e.micro_credential_id == entry.micro_credential_id]
    for previous in earlier:
        if previous.active:
            raise EnrollmentRefused(
                Refusal.ALREADY_ACTIVE, f"already enrolled ({previous.enrollment_id})"
            )
        if previous.status is EnrollmentStatus.EARNED:
            raise EnrollmentRefused(Refusal.ALREADY_EARNED, "this MC was earned already")
    waits = [e.may_reenroll_from for e in earlier if e.may_reenroll_from is not None]
    if waits and max(waits) > now:
        raise EnrollmentRefused(
            Refusal.IN_COOLDOWN, f"enrollment possible again from {max(waits).isoformat()}"
        )
    enrollment = Enrollment(
        enrollment_id=enrollment_id,
        educator_id=educator_id,
        district_id=district_id,
        micro_credential_id=entry.micro_credential_id,
        micro_credential_version=entry.version,
        purpose=purpose,
        policy=entry.policy,
        enrolled_at=now,
        deadline_at=now + entry.policy.completion_window,
    )
    enrollment.changes.append(EnrollmentStatus.ENROLLED)
    return enrollment
