"""Awards: turning a passed review decision into the state's record of a credential, and
revoking it.

The registry is the system of record, so it checks the decision against the rubric it approved
rather than trusting the outcome flag: every criterion of that version's rubric has a result,
each achieved level is one of the criterion's levels, and each is at or above the required
level. A credential is only awarded for a version the state approved
(``approved``, or ``retired`` after enrollments had opened).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from mc_events.contracts.common import Credits, CriterionResult, Purpose
from mc_events.contracts.registry import RevocationReason
from mc_events.contracts.review import MisconductKind
from mc_platform.refusals import Conflict
from registry.domain.catalog import MicroCredential

# Namespace of credential ids: one credential per enrollment, so the id is derived from it and
# a duplicate decision for the same enrollment names the same credential.
CREDENTIAL_NAMESPACE = uuid.UUID("0b7b8f5e-8a51-4f0c-9a55-61f0d4c1e1a2")
REISSUE_NAMESPACE = uuid.UUID("5d0c7a43-6f1e-4f58-9f87-3f8e2b1c9a10")


class AwardError(Exception):
    """A decision that can never become an award (the message says why)."""


class NotAwardable(AwardError):
    """The micro-credential version was never approved by the state."""


class InconsistentDecision(AwardError):
    """The decision's results do not satisfy the approved rubric."""


class CredentialStateError(Conflict):
    """The credential's status does not allow this change (409)."""


class CredentialStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    SUPERSEDED = "superseded"
    """Replaced by a reissued credential (same award, new document); revoked in the status
    list so the old document no longer verifies as valid."""


def credential_id_for(enrollment_id: str) -> str:
    return str(uuid.uuid5(CREDENTIAL_NAMESPACE, enrollment_id))


def reissued_id(credential_id: str) -> str:
    """The id of a credential's reissue (one per credential: a reissue can be reissued)."""
    return str(uuid.uuid5(REISSUE_NAMESPACE, credential_id))


def misconduct_reason(kind: MisconductKind, detail: str) -> tuple[RevocationReason, str]:
    """The revocation reason (and detail) for confirmed misconduct of ``kind``."""
    if kind is MisconductKind.PLAGIARISM:
        return RevocationReason.PLAGIARISM, detail
    if kind is MisconductKind.FABRICATED_EVIDENCE:
        return RevocationReason.FABRICATED_EVIDENCE, detail
    words = "identifiable student data in the evidence"
    return RevocationReason.OTHER, f"{words}: {detail}" if detail.strip() else words


@dataclass(frozen=True)
class PassedDecision:
    """What the registry needs from a passed review decision."""

    decision_id: str
    enrollment_id: str
    submission_id: str
    educator_id: str
    district_id: str
    micro_credential_id: str
    micro_credential_version: int
    results: tuple[CriterionResult, ...]
    decided_at: datetime


@dataclass(frozen=True)
class Revocation:
    reason: RevocationReason
    detail: str
    at: datetime
    by: str


@dataclass(frozen=True)
class Suspension:
    reason: str
    at: datetime
    by: str
    until: datetime | None = None


@dataclass
class Award:
    credential_id: str
    enrollment_id: str
    decision_id: str
    submission_id: str
    educator_id: str
    district_id: str
    micro_credential_id: str
    micro_credential_version: int
    issuer_id: str
    achievement_name: str
    purpose: Purpose
    credits: Credits
    results: tuple[CriterionResult, ...]
    awarded_at: datetime
    valid_until: datetime | None = None
    status: CredentialStatus = CredentialStatus.ACTIVE
    revocation: Revocation | None = None
    suspension: Suspension | None = None
    reissued_from: str | None = None
    superseded_by: str | None = None

    def revoke(self, reason: RevocationReason, detail: str, at: datetime, by: str) -> None:
        """Revocation is permanent (a suspension, which is not, is another operation). A
        suspended credential can be revoked; a superseded one is already revoked in its
        status list (its successor is the one to revoke)."""
        if self.status is CredentialStatus.REVOKED:
            raise CredentialStateError("the credential is already revoked")
        if self.status is CredentialStatus.SUPERSEDED:
            raise CredentialStateError(
                f"the credential was reissued as {self.superseded_by}: revoke that one"
            )
        self.status = CredentialStatus.REVOKED
        self.revocation = Revocation(reason=reason, detail=detail.strip(), at=at, by=by)

    def suspend(self, reason: str, at: datetime, by: str, until: datetime | None = None) -> None:
        """Only an active credential can be suspended; it may be reinstated later."""
        if self.status is not CredentialStatus.ACTIVE:
            raise CredentialStateError(f"a {self.status.value} credential cannot be suspended")
        if not reason.strip():
            raise CredentialStateError("a suspension needs a reason")
        if until is not None and until <= at:
            raise CredentialStateError("a suspension cannot end before it starts")
        self.status = CredentialStatus.SUSPENDED
        self.suspension = Suspension(reason=reason.strip(), at=at, by=by, until=until)

    def reinstate(self) -> Suspension:
        """End the suspension; returns the suspension that ended."""
        if self.status is not CredentialStatus.SUSPENDED or self.suspension is None:
            raise CredentialStateError(f"a {self.status.value} credential cannot be reinstated")
        ended = self.suspension
        self.status = CredentialStatus.ACTIVE
        self.suspension = None
        return ended

    def supersede(self, successor_id: str) -> None:
        """Mark as replaced by a reissued credential (only an active one is reissued)."""
        if self.status is not CredentialStatus.ACTIVE:
            raise CredentialStateError(f"a {self.status.value} credential cannot be reissued")
        self.status = CredentialStatus.SUPERSEDED
        self.superseded_by = successor_id


def check_results(mc: MicroCredential, results: tuple[CriterionResult, ...]) -> None:
    """Raise :class:`InconsistentDecision` unless ``results`` pass the approved rubric."""
    by_id = {r.criterion_id: r for r in results}
    if len(by_id) != len(results):
        raise InconsistentDecision("a criterion has more than one result")
    rubric = mc.definition.rubric
    unknown = set(by_id) - {c.id for c in rubric}
    if unknown:
        raise InconsistentDecision(f"results for criteria not in the rubric: {sorted(unknown)}")
    for criterion in rubric:
        result = by_id.get(criterion.id)
        if result is None:
            raise InconsistentDecision(f"no result for criterion {criterion.id}")
        levels = [level.id for level in criterion.levels]
        if result.achieved_level_id not in levels:
            raise InconsistentDecision(
                f"criterion {criterion.id}: {result.achieved_level_id!r} is not one of its levels"
            )
        if levels.index(result.achieved_level_id) < levels.index(criterion.required_level_id):
            raise InconsistentDecision(
                f"criterion {criterion.id}: {result.achieved_level_id!r} is below the required "
                f"{criterion.required_level_id!r}"
            )


def choose_purpose(mc: MicroCredential, enrolled_for: Purpose | None) -> Purpose:
    """What the award counts for: what the educator enrolled for when the registry has seen the
    enrollment; otherwise license renewal if the state allows it (the common case), else the
    first purpose the state allows."""
    allowed = mc.definition.allowed_purposes
    if enrolled_for is not None and enrolled_for in allowed:
        return enrolled_for
    if Purpose.LICENSE_RENEWAL in allowed:
        return Purpose.LICENSE_RENEWAL
    return allowed[0]


def award(
    decision: PassedDecision, mc: MicroCredential, enrolled_for: Purpose | None = None
) -> Award:
    """The award a passed decision earns, or :class:`AwardError`."""
    if (mc.id, mc.version) != (decision.micro_credential_id, decision.micro_credential_version):
        raise NotAwardable("the decision is about another micro-credential version")
    if not mc.awardable:
        raise NotAwardable(
            f"{mc.id} version {mc.version} is {mc.status.value}: only state-approved versions "
            "can be awarded"
        )
    check_results(mc, decision.results)
    return Award(
        credential_id=credential_id_for(decision.enrollment_id),
        enrollment_id=decision.enrollment_id,
        decision_id=decision.decision_id,
        submission_id=decision.submission_id,
        educator_id=decision.educator_id,
        district_id=decision.district_id,
        micro_credential_id=mc.id,
        micro_credential_version=mc.version,
        issuer_id=mc.issuer_id,
        achievement_name=mc.definition.title,
        purpose=choose_purpose(mc, enrolled_for),
        credits=mc.definition.credits,
        results=decision.results,
        awarded_at=decision.decided_at,
    )
