"""Credentials (registry service, topic ``registry.credentials``, key = state educator id).

The registry is the system of record for awards. Keying by educator keeps one educator's
awards, revocations, stack completions and credit postings in order, which is what licensure
and payroll need: a revocation never overtakes the award it revokes.

Each event that undoes something (revocation, suspension, negative credit posting) carries
enough for a consumer to reverse its own effects without looking anything up.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import ClassVar, Self

from pydantic import AwareDatetime, Field, HttpUrl, model_validator

from mc_events.contracts.base import Event
from mc_events.contracts.common import (
    Credits,
    CreditUnit,
    CriterionResult,
    Grant,
    Id,
    Purpose,
)
from mc_events.topics import CREDENTIALS


class RevocationReason(StrEnum):
    """Why a credential was revoked."""

    PLAGIARISM = "plagiarism"
    FABRICATED_EVIDENCE = "fabricated_evidence"
    ISSUED_IN_ERROR = "issued_in_error"
    OTHER = "other"


class CreditPostingReason(StrEnum):
    """Why a renewal-credit ledger entry was posted."""

    AWARD = "award"
    REVOCATION = "revocation"
    SUSPENSION = "suspension"
    REINSTATEMENT = "reinstatement"
    CORRECTION = "correction"


# Postings that take credits away; they point at the entry they reverse.
_REVERSING_REASONS = frozenset({CreditPostingReason.REVOCATION, CreditPostingReason.SUSPENSION})


class _CredentialRef(Event):
    """Identifies one awarded credential and whose it is (abstract: not an event itself)."""

    topic: ClassVar[str] = CREDENTIALS.name
    key_field: ClassVar[str] = "educator_id"

    credential_id: Id
    educator_id: Id = Field(description="The state educator id.")
    district_id: Id = Field(description="The educator's district at the time of the event.")
    micro_credential_id: Id
    micro_credential_version: int = Field(ge=1)


class CredentialAwarded(_CredentialRef):
    """A micro-credential was awarded: the registry recorded and issued the credential.

    Emitted by the registry service after it turns a ``passed`` review decision into a
    credential (the system-of-record entry and a signed Open Badges 3.0 credential). Licensure
    posts the credits; compensation applies stipend rules; the registry itself checks stacks.
    """

    event_type: ClassVar[str] = "registry.credential_awarded"

    enrollment_id: Id
    decision_id: Id = Field(description="The review decision the award is based on.")
    issuer_id: Id
    achievement_name: str = Field(description="The micro-credential's title, as on the badge.")
    purpose: Purpose = Field(description="What the educator enrolled for.")
    credits: Credits = Field(description="Credits earned (Open Badges ``creditsEarned``).")
    awarded_at: AwareDatetime
    valid_until: AwareDatetime | None = Field(
        default=None, description="When the credential expires; None: it does not."
    )
    credential_url: HttpUrl = Field(
        description="Where the signed Open Badges credential can be fetched and verified."
    )
    results: tuple[CriterionResult, ...] = Field(
        min_length=1, description="Per-criterion results (Open Badges ``result``)."
    )


class CredentialRevoked(_CredentialRef):
    """A credential was revoked (misconduct or error); this is permanent.

    Emitted by the registry service when the state revokes a credential and sets its status
    list bit. Consumers reverse what the award caused: renewal credits come off (a negative
    :class:`RenewalCreditsPosted` follows), stipends are clawed back.
    """

    event_type: ClassVar[str] = "registry.credential_revoked"

    enrollment_id: Id
    reason: RevocationReason
    reason_detail: str = Field(default="", description="Explanation, in words.")
    revoked_at: AwareDatetime


class CredentialSuspended(_CredentialRef):
    """A credential was suspended; it may be reinstated.

    Emitted by the registry service when the state suspends a credential (e.g. during a
    misconduct investigation) and sets its suspension status bit. While suspended the
    credential does not verify as valid.
    """

    event_type: ClassVar[str] = "registry.credential_suspended"

    reason: str
    suspended_at: AwareDatetime
    suspended_until: AwareDatetime | None = Field(
        default=None, description="Planned end of the suspension; None: until reinstated."
    )


class CredentialReinstated(_CredentialRef):
    """A suspended credential was reinstated and is valid again.

    Emitted by the registry service when a suspension ends (lifted by the state, or its
    planned end passed) and the suspension status bit is cleared.
    """

    event_type: ClassVar[str] = "registry.credential_reinstated"

    reason: str = ""
    reinstated_at: AwareDatetime


class CredentialReissued(_CredentialRef):
    """A credential was reissued: a new document (new id, new proof) for the same award.

    Emitted by the registry service when the state reissues a credential (to correct it, or
    to move it to a new key or validity). ``credential_id`` is the new credential; the old
    one is superseded and set revoked in its status list. The award itself is unchanged (same
    enrollment, same ``awarded_at``): consumers move their reference to the new id and undo
    nothing.
    """

    event_type: ClassVar[str] = "registry.credential_reissued"

    enrollment_id: Id
    previous_credential_id: Id = Field(description="The credential this one supersedes.")
    reason: str = Field(description="Why it was reissued, in words.")
    awarded_at: AwareDatetime = Field(description="Unchanged from the original award.")
    valid_until: AwareDatetime | None = Field(
        default=None, description="When the new credential expires; None: it does not."
    )
    credential_url: HttpUrl = Field(description="Where the new signed credential is fetched.")
    reissued_at: AwareDatetime


class StackCompleted(Event):
    """An educator completed a stack and earned what it grants.

    Emitted by the registry service when an award (or a newly published stack version) makes
    the educator's valid credentials satisfy a stack's rule. Compensation applies salary-lane
    and stipend rules; licensure records designations and endorsements.
    """

    event_type: ClassVar[str] = "registry.stack_completed"
    topic: ClassVar[str] = CREDENTIALS.name
    key_field: ClassVar[str] = "educator_id"

    stack_completion_id: Id
    stack_id: Id
    stack_version: int = Field(ge=1)
    stack_name: str
    educator_id: Id = Field(description="The state educator id.")
    district_id: Id
    grants: tuple[Grant, ...]
    member_credential_ids: tuple[Id, ...] = Field(
        min_length=1, description="The credentials that satisfied the rule."
    )
    completed_at: AwareDatetime


class StackCompletionReversed(Event):
    """A stack completion no longer holds: a member credential was revoked.

    Emitted by the registry service, once per completion, when a revocation leaves the
    educator's valid credentials short of the stack's rule. Consumers undo what the
    completion caused (salary-lane change, bonus, designation, endorsement eligibility).
    """

    event_type: ClassVar[str] = "registry.stack_completion_reversed"
    topic: ClassVar[str] = CREDENTIALS.name
    key_field: ClassVar[str] = "educator_id"

    stack_completion_id: Id = Field(description="The completion this reverses.")
    stack_id: Id
    stack_version: int = Field(ge=1)
    educator_id: Id = Field(description="The state educator id.")
    district_id: Id
    grants: tuple[Grant, ...] = Field(description="What the completion had granted.")
    revoked_credential_id: Id = Field(description="The revocation that broke the stack.")
    reversed_at: AwareDatetime


class RenewalCreditsPosted(Event):
    """An entry was posted to an educator's renewal-credit ledger.

    Emitted by the registry service when an award earns credits towards license renewal
    (positive amounts) and when a revocation or suspension takes them back (negative amounts,
    pointing at the entry they reverse). The sum of an educator's entries for a certificate
    cycle is the renewal credit balance of that cycle.
    """

    event_type: ClassVar[str] = "registry.renewal_credits_posted"
    topic: ClassVar[str] = CREDENTIALS.name
    key_field: ClassVar[str] = "educator_id"

    ledger_entry_id: Id
    educator_id: Id = Field(description="The state educator id.")
    district_id: Id
    credential_id: Id
    credits: Decimal = Field(description="Signed amount in the credential's own unit.")
    unit: CreditUnit = Field(description="The unit of ``credits``.")
    renewal_credits: Decimal = Field(
        description="Signed amount converted into the state's renewal credits."
    )
    certificate_cycle: str = Field(
        description="The certificate cycle the credits count for, e.g. '2025-2030'."
    )
    reason: CreditPostingReason
    reverses_entry_id: Id | None = Field(
        default=None, description="For a reversal: the ledger entry it reverses."
    )
    posted_at: AwareDatetime

    @model_validator(mode="after")
    def _sign_matches_reason(self) -> Self:
        if (self.credits < 0) != (self.renewal_credits < 0):
            raise ValueError("credits and renewal_credits must have the same sign")
        reversing = self.reason in _REVERSING_REASONS
        if reversing and (self.renewal_credits > 0 or self.reverses_entry_id is None):
            raise ValueError(f"a {self.reason} posting is negative and names the entry it reverses")
        if self.reason is CreditPostingReason.AWARD and self.renewal_credits < 0:
            raise ValueError("an award posting cannot be negative")
        return self


class EndorsementEligible(Event):
    """An educator became eligible for a license endorsement.

    Emitted by the registry service when the educator's credentials (typically a completed
    stack approved for an endorsement) meet the state's endorsement rule. The licensure
    system adds the endorsement; this event does not grant it by itself.
    """

    event_type: ClassVar[str] = "registry.endorsement_eligible"
    topic: ClassVar[str] = CREDENTIALS.name
    key_field: ClassVar[str] = "educator_id"

    eligibility_id: Id
    educator_id: Id = Field(description="The state educator id.")
    district_id: Id
    endorsement_code: Id = Field(description="The state's code for the endorsement.")
    endorsement_name: str
    stack_id: Id | None = Field(default=None, description="The stack that qualifies, if any.")
    stack_completion_id: Id | None = None
    credential_ids: tuple[Id, ...] = Field(
        min_length=1, description="The credentials the eligibility rests on."
    )
    determined_at: AwareDatetime


__all__ = [
    "CredentialAwarded",
    "CredentialReinstated",
    "CredentialReissued",
    "CredentialRevoked",
    "CredentialSuspended",
    "CreditPostingReason",
    "EndorsementEligible",
    "RenewalCreditsPosted",
    "RevocationReason",
    "StackCompleted",
    "StackCompletionReversed",
]
