"""Credentials as compensation sees them: the award a credential id stands for, its status
(suspended, reinstated, revoked), and the reissues that give an award a new credential id.

A credential's stipends are keyed by the **original** credential of its award: a reissue gives
the award a new id (one predecessor each), and every id of the chain is resolved to the first.
Status changes are ordered by the registry's timestamps, not by arrival, and a revocation is
final.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from compensation.domain.rules import Basis

SUSPENDED = "suspended"
REINSTATED = "reinstated"
REVOKED = "revoked"
SUPERSEDED = "superseded"
"""Only in the status history: a revocation of a credential reissued before it was revoked."""


@dataclass(frozen=True)
class CredentialRef:
    credential_id: str
    educator_id: str
    district_id: str

    @property
    def award_key(self) -> str:
        return f"{Basis.CREDENTIAL}:{self.credential_id}"

    def as_original(self, original_credential_id: str) -> CredentialRef:
        """The same award under the original credential of its reissue chain."""
        if original_credential_id == self.credential_id:
            return self
        return CredentialRef(original_credential_id, self.educator_id, self.district_id)


@dataclass(frozen=True)
class CredentialStatus:
    """A credential's status now (a read model, updated in place)."""

    credential_id: str
    educator_id: str
    district_id: str
    status: str
    changed_at: datetime
    reason: str


def changes_status(current: CredentialStatus | None, at: datetime) -> bool:
    """Whether a change stamped ``at`` follows the status we have (a revocation is final, a
    late duplicate or a replay is older than what we have)."""
    return current is None or (current.status != REVOKED and current.changed_at < at)


@dataclass(frozen=True)
class Reissue:
    credential_id: str
    """The new credential."""
    previous_credential_id: str
    educator_id: str
    district_id: str
    enrollment_id: str
    reason: str
    awarded_at: datetime
    reissued_at: datetime
