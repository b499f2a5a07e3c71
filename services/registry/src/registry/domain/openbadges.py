"""The Open Badges 3.0 ``OpenBadgeCredential`` (a W3C Verifiable Credential 2.0) of an award.

Shape and field names: 1EdTech Open Badges 3.0. What goes on it is
public (anyone with the link reads it), so:

- the educator appears only as a salted SHA-256 hash of the state educator id
  (``IdentityObject`` with ``identityType: identifier``): a licensure system that knows the id
  and reads the salt can match it; nobody else learns it;
- evidence is a reference to the gated submission in the enrollment service, never the
  artifacts (they hold student work).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from registry.domain import proofs, status_list
from registry.domain.awards import Award
from registry.domain.catalog import MicroCredential

VC_V2_CONTEXT = "https://www.w3.org/ns/credentials/v2"
OB_V3_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
# Needed for the 1EdTechJsonSchemaValidator2019 credentialSchema type (verifiers need it).
OB_EXTENSIONS_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json"
OB_SCHEMA = (
    "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json"
)


@dataclass(frozen=True)
class PublicUrls:
    """Where the registry and the gated evidence are reached from outside."""

    registry: str
    evidence: str
    issuer_name: str

    def _base(self) -> str:
        return self.registry.rstrip("/")

    @property
    def issuer(self) -> str:
        return f"{self._base()}/issuer"

    def provider(self, issuer_id: str) -> str:
        return f"{self._base()}/issuers/{issuer_id}"

    def achievement(self, mc_id: str, version: int) -> str:
        return f"{self._base()}/achievements/{mc_id}/versions/{version}"

    def credential(self, credential_id: str) -> str:
        return f"{self._base()}/credentials/{credential_id}"

    def status_list(self, list_id: str) -> str:
        return f"{self._base()}/status/{list_id}"

    def submission(self, enrollment_id: str, submission_id: str) -> str:
        return (
            f"{self.evidence.rstrip('/')}/enrollments/{enrollment_id}/submissions/{submission_id}"
        )


@dataclass(frozen=True)
class StatusEntry:
    list_id: str
    index: int
    purpose: str = "revocation"


def suspension_entry(revocation: StatusEntry) -> StatusEntry:
    """The suspension bit of a credential whose revocation entry is ``revocation``: the same
    index of the parallel list."""
    if not revocation.list_id.startswith(status_list.REVOCATION_PREFIX):
        raise ValueError(f"not a revocation list: {revocation.list_id}")
    return StatusEntry(
        list_id=status_list.SUSPENSION_PREFIX
        + revocation.list_id.removeprefix(status_list.REVOCATION_PREFIX),
        index=revocation.index,
        purpose=status_list.StatusPurpose.SUSPENSION.value,
    )


def suspension_list_for(urls: PublicUrls, revocation_url: str) -> str | None:
    """The URL of the parallel suspension list of one of this registry's revocation lists."""
    prefix = urls.status_list("")
    list_id = revocation_url.removeprefix(prefix)
    if not revocation_url.startswith(prefix) or not list_id.startswith(
        status_list.REVOCATION_PREFIX
    ):
        return None
    return urls.status_list(
        status_list.SUSPENSION_PREFIX + list_id.removeprefix(status_list.REVOCATION_PREFIX)
    )


def foreign_status_url(document: Mapping[str, Any], urls: PublicUrls) -> str | None:
    """The ``statusListCredential`` of ``document`` when it is not one of this registry's
    lists (None: no status entry, or one of ours)."""
    entry = document.get("credentialStatus")
    if not isinstance(entry, Mapping):
        return None
    url = entry.get("statusListCredential")
    if not isinstance(url, str) or url.startswith(urls.status_list("")):
        return None
    return url


# -- the issuer's keys -------------------------------------------------------------------------


def key_url(urls: PublicUrls, key_id: str) -> str:
    """Where a key's Multikey document is published (the proofs' ``verificationMethod``)."""
    return f"{urls.issuer}/keys/{key_id}"


def key_id_of(urls: PublicUrls, verification_method: str) -> str | None:
    """The key id if ``verification_method`` names one of this registry's keys, else None."""
    prefix = f"{urls.issuer}/keys/"
    if not verification_method.startswith(prefix):
        return None
    key_id = verification_method.removeprefix(prefix)
    return key_id if key_id and "/" not in key_id and "#" not in key_id else None


def multikey(urls: PublicUrls, key_id: str, public_key_multibase: str) -> dict[str, Any]:
    """A key's verification method document (Controlled Identifiers ``Multikey``)."""
    return {
        "@context": [proofs.MULTIKEY_CONTEXT],
        "id": key_url(urls, key_id),
        "type": "Multikey",
        "controller": urls.issuer,
        "publicKeyMultibase": public_key_multibase,
    }


def issuer_profile(urls: PublicUrls, keys: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """The issuer's OB 3.0 ``Profile``, also its controller document: every key (``(key id,
    public key multibase)``) it ever signed with, current or rotated out, is an
    ``assertionMethod``."""
    methods = [
        {k: v for k, v in multikey(urls, key_id, public).items() if k != "@context"}
        for key_id, public in keys
    ]
    return {
        # The DID v1 context defines assertionMethod / verificationMethod / controller, which
        # verifiers read from a controller document in JSON-LD safe mode.
        "@context": [VC_V2_CONTEXT, OB_V3_CONTEXT, proofs.DID_V1_CONTEXT, proofs.MULTIKEY_CONTEXT],
        "id": urls.issuer,
        "type": ["Profile"],
        "name": urls.issuer_name,
        "verificationMethod": methods,
        "assertionMethod": [m["id"] for m in methods],
    }


def identity_hash(educator_id: str, salt: str) -> str:
    """OB 3.0 ``IdentityHash``: ``sha256$`` + hex of SHA-256(identifier + salt)."""
    return "sha256$" + hashlib.sha256((educator_id + salt).encode()).hexdigest()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _number(value: Decimal) -> int | float:
    # OB 3.0 credits are JSON numbers; they are stored as Decimal and only turned into a
    # number here, at the edge (an integral amount stays an integer).
    return int(value) if value == value.to_integral_value() else float(value)


def criterion_uri(achievement_id: str, criterion_id: str) -> str:
    return f"{achievement_id}#criterion-{criterion_id}"


def level_uri(achievement_id: str, criterion_id: str, level_id: str) -> str:
    return f"{achievement_id}#criterion-{criterion_id}-level-{level_id}"


def achievement(mc: MicroCredential, provider_name: str, urls: PublicUrls) -> dict[str, Any]:
    """The OB 3.0 ``Achievement`` of one approved micro-credential version."""
    spec = mc.definition
    achievement_id = urls.achievement(mc.id, mc.version)
    narrative = spec.criteria_narrative or "Submit: " + "; ".join(
        f"{r.prompt} ({r.kind.value}{', required' if r.required else ''})"
        for r in spec.evidence_requirements
    )
    return {
        "id": achievement_id,
        "type": ["Achievement"],
        "achievementType": "MicroCredential",
        "name": spec.title,
        "description": spec.description or spec.competency,
        "criteria": {"narrative": f"{spec.competency}\n\n{narrative}"},
        "creditsAvailable": _number(spec.credits.value),
        "version": str(mc.version),
        "creator": {
            "id": urls.provider(mc.issuer_id),
            "type": ["Profile"],
            "name": provider_name,
        },
        "resultDescription": [
            {
                "id": criterion_uri(achievement_id, criterion.id),
                "type": ["ResultDescription"],
                "name": criterion.name,
                "resultType": "RubricCriterionLevel",
                "requiredLevel": level_uri(
                    achievement_id, criterion.id, criterion.required_level_id
                ),
                "rubricCriterionLevel": [
                    {
                        "id": level_uri(achievement_id, criterion.id, level.id),
                        "type": ["RubricCriterionLevel"],
                        "name": level.name,
                    }
                    for level in criterion.levels
                ],
            }
            for criterion in spec.rubric
        ],
    }


def open_badge_credential(
    award: Award,
    mc: MicroCredential,
    provider_name: str,
    urls: PublicUrls,
    status: StatusEntry,
    salt: str,
) -> dict[str, Any]:
    """The unsigned ``OpenBadgeCredential`` of ``award`` (a proof is added by signing)."""
    achievement_doc = achievement(mc, provider_name, urls)
    achievement_id = achievement_doc["id"]
    status_list = urls.status_list(status.list_id)
    credential: dict[str, Any] = {
        "@context": [VC_V2_CONTEXT, OB_V3_CONTEXT, OB_EXTENSIONS_CONTEXT],
        "id": f"urn:uuid:{award.credential_id}",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": urls.issuer, "type": ["Profile"], "name": urls.issuer_name},
        "validFrom": _iso(award.awarded_at),
        "awardedDate": _iso(award.awarded_at),
        "name": award.achievement_name,
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "identifier": [
                {
                    "type": "IdentityObject",
                    "identityType": "identifier",
                    "hashed": True,
                    "identityHash": identity_hash(award.educator_id, salt),
                    "salt": salt,
                }
            ],
            "achievement": achievement_doc,
            "result": [
                {
                    "type": ["Result"],
                    "resultDescription": criterion_uri(achievement_id, result.criterion_id),
                    "achievedLevel": level_uri(
                        achievement_id, result.criterion_id, result.achieved_level_id
                    ),
                }
                for result in award.results
            ],
            "creditsEarned": _number(award.credits.value),
        },
        "evidence": [
            {
                "id": urls.submission(award.enrollment_id, award.submission_id),
                "type": ["Evidence"],
                "name": "Assessed evidence (access restricted)",
                "description": "The evidence the assessors scored; it holds student work and "
                "is only available to authorised reviewers.",
            }
        ],
        "credentialSchema": [{"id": OB_SCHEMA, "type": "1EdTechJsonSchemaValidator2019"}],
        "credentialStatus": {
            "id": f"{status_list}#{status.index}",
            "type": "BitstringStatusListEntry",
            "statusPurpose": status.purpose,
            "statusListIndex": str(status.index),
            "statusListCredential": status_list,
        },
    }
    if award.valid_until is not None:
        credential["validUntil"] = _iso(award.valid_until)
    return credential


def status_list_credential(
    urls: PublicUrls, list_id: str, purpose: str, bits: bytes, updated_at: datetime
) -> dict[str, Any]:
    """The ``BitstringStatusListCredential`` a verifier fetches from ``statusListCredential``.

    Unsigned here: the registry signs it when it serves it
    (:func:`registry.service_layer.credentials.signed_status_list`).
    """
    list_url = urls.status_list(list_id)
    return {
        "@context": [VC_V2_CONTEXT],
        "id": list_url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": urls.issuer,
        "validFrom": _iso(updated_at),
        "credentialSubject": {
            "id": f"{list_url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": purpose,
            "encodedList": status_list.encode(bits),
        },
    }
