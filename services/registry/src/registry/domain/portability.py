"""Portability (pure): recognising an Open Badges 3.0 credential issued elsewhere by the
state's rules.

An import is checked the way a verifier checks (the 1EdTech verification
steps), with this registry's rules on what follows:

1. **Schema**: the official OB 3.0 AchievementCredential JSON Schema; failing it refuses the
   import.
2. **Proof**: verified offline when every proof's verification method is a ``did:key`` (the
   key is in the identifier and its controller is the DID, which must be the issuer). A
   method that would have to be fetched from the network (an HTTPS URL, ``did:web``...) is not
   resolved at import time: the proof is recorded ``unchecked`` and the import waits
   (``pending_verification``), with no credits. A proof that does not verify refuses it.
3. **Validity and status**: not yet valid or expired refuses it. The issuer's status list
   (``credentialStatus``, a ``BitstringStatusListEntry``) is fetched and checked
   (:mod:`registry.service_layer.issuing`): revoked or suspended refuses the import; a
   list that cannot be read or verified is recorded as ``status_unknown`` (never valid) and
   read again later (the recheck sweep, ``POST /imports/{id}/recheck``).
4. **Recipient**: the credential must name the importing educator, by their state educator
   id (``identityType: identifier``) or their roster email (``emailAddress``), hashed or not.
5. **Recognition** (rules as data, ``recognition_rules``): a rule for the issuer and the
   achievement id, else for the issuer and the achievement name (case-insensitive), names the
   equivalent state micro-credential (optional) and the credits granted. A verified credential
   with a rule is ``recognized`` and posts its credits once; without one ``not_recognized``.
6. **Revocation by the issuer**: when a recheck finds the credential revoked in its issuer's
   list, the import becomes ``revoked`` (once): its credits are reversed, the stacks it no
   longer completes are reversed, and it stops counting anywhere (Ed-Fi view, CLR, stacks).
   A suspension upstream is recorded (``issuer_status``) and reverses nothing: it may be
   lifted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from mc_events.contracts.common import Credits
from mc_platform.refusals import Invalid


class ImportRefused(Invalid):
    """The credential cannot be imported (the message says why; 422)."""


class ProofStatus(StrEnum):
    VERIFIED = "verified"
    UNCHECKED = "unchecked"


class RecognitionStatus(StrEnum):
    RECOGNIZED = "recognized"
    NOT_RECOGNIZED = "not_recognized"
    PENDING_VERIFICATION = "pending_verification"
    REVOKED = "revoked"
    """Its issuer revoked it after it was imported (it counts for nothing any more)."""


class IssuerStatus(StrEnum):
    """What the issuer's status list says of an imported credential, as last read."""

    VALID = "valid"
    REVOKED = "revoked"
    SUSPENDED = "suspended"
    STATUS_UNKNOWN = "status_unknown"
    """The list could not be read, verified or decoded: never taken as valid."""
    NONE = "none"
    """The credential has no status entry (its issuer cannot revoke it)."""


@dataclass(frozen=True)
class ExternalCredential:
    credential_id: str
    issuer_id: str
    achievement_id: str | None
    achievement_name: str


@dataclass(frozen=True)
class RecognitionRule:
    rule_id: str
    external_issuer_id: str
    external_achievement_id: str | None
    achievement_name: str | None
    equivalent_micro_credential_id: str | None
    credits: Credits


def external_credential(document: Mapping[str, Any]) -> ExternalCredential:
    """What an import is about (the schema check has passed)."""
    issuer = document.get("issuer")
    issuer_id = issuer if isinstance(issuer, str) else (issuer or {}).get("id")
    subject = document.get("credentialSubject")
    achievement = subject.get("achievement") if isinstance(subject, Mapping) else None
    if not isinstance(issuer_id, str) or not isinstance(achievement, Mapping):
        raise ImportRefused("the credential names no issuer or no achievement")
    credential_id = document.get("id")
    if not isinstance(credential_id, str) or not credential_id:
        raise ImportRefused("the credential has no id: it cannot be recognised once only")
    achievement_id = achievement.get("id")
    return ExternalCredential(
        credential_id=credential_id,
        issuer_id=issuer_id,
        achievement_id=achievement_id if isinstance(achievement_id, str) else None,
        achievement_name=str(achievement.get("name", "")),
    )


def _identity_hash(value: str, salt: str) -> str:
    return "sha256$" + hashlib.sha256((value + salt).encode()).hexdigest()


def names_recipient(document: Mapping[str, Any], educator_id: str, email: str | None) -> bool:
    """Whether an ``identifier`` of the credential subject is the educator's state id or
    roster email (OB 3.0 ``IdentityObject``, plain or ``sha256$`` hashed with its salt)."""
    subject = document.get("credentialSubject")
    identifiers = subject.get("identifier") if isinstance(subject, Mapping) else None
    if not isinstance(identifiers, list):
        return False
    for identity in identifiers:
        if not isinstance(identity, Mapping):
            continue
        kind = identity.get("identityType")
        candidate = (
            educator_id
            if kind == "identifier"
            else (email.strip().lower() if kind == "emailAddress" and email else None)
        )
        value = identity.get("identityHash")
        if candidate is None or not isinstance(value, str):
            continue
        if identity.get("hashed"):
            salt = identity.get("salt") or ""
            if isinstance(salt, str) and value.lower() == _identity_hash(candidate, salt):
                return True
        elif value.strip().lower() == candidate.lower():
            return True
    return False


def did_key_controller(verification_method: str) -> str | None:
    """The DID of a ``did:key`` verification method (``did:key:z...#z...``), else None."""
    did = verification_method.split("#", 1)[0]
    return did if did.startswith("did:key:z") else None


def find_rule(
    rules: Iterable[RecognitionRule], credential: ExternalCredential
) -> RecognitionRule | None:
    """The rule for the issuer and achievement id, else for the issuer and achievement name."""
    of_issuer = [r for r in rules if r.external_issuer_id == credential.issuer_id]
    for rule in of_issuer:
        if (
            rule.external_achievement_id
            and rule.external_achievement_id == credential.achievement_id
        ):
            return rule
    name = credential.achievement_name.strip().casefold()
    for rule in of_issuer:
        if rule.achievement_name and rule.achievement_name.strip().casefold() == name:
            return rule
    return None


def recognition(proof: ProofStatus, rule: RecognitionRule | None) -> RecognitionStatus:
    if proof is not ProofStatus.VERIFIED:
        return RecognitionStatus.PENDING_VERIFICATION
    return RecognitionStatus.RECOGNIZED if rule else RecognitionStatus.NOT_RECOGNIZED


def validity_window(
    document: Mapping[str, Any], imported_at: datetime
) -> tuple[datetime, datetime | None]:
    """``(when it was earned, its validUntil or None)`` of an imported credential."""
    until = document.get("validUntil")
    try:
        valid_until = (
            datetime.fromisoformat(until.replace("Z", "+00:00")) if isinstance(until, str) else None
        )
    except ValueError:
        valid_until = None
    if valid_until is not None and valid_until.tzinfo is None:
        valid_until = valid_until.replace(tzinfo=UTC)  # the import's check needs a zone
    return earned_on(document, imported_at), valid_until


def earned_on(document: Mapping[str, Any], now: datetime) -> datetime:
    """When an imported credential was earned: its ``awardedDate``, else its ``validFrom``,
    else ``now``."""
    for field in ("awardedDate", "validFrom"):
        value = document.get(field)
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
    return now
