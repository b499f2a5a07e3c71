"""The 1EdTech Comprehensive Learner Record 2.0 ``ClrCredential`` of one educator (pure).

A CLR bundles the educator's achievement credentials (``credentialSubject.verifiableCredential``:
the Open Badges 3.0 documents exactly as issued, each verifiable on its own) and adds the
stacks the educator completed as achievements of their own (``achievementType:
LearningProgram``), linked to their member micro-credentials by ``association`` entries
(``isParentOf``, stack -> micro-credential; CLR 2.0 ``Association``).

Only valid credentials are bundled (active: not revoked, suspended, superseded or expired),
credentials imported from elsewhere that the state recognised (as their issuer signed them),
and only standing stack completions. The educator appears as a salted hash, as on the badges.
The bundle itself is unsigned: its members carry their own proofs and status entries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mc_events.contracts.catalog import StackRule, StackRuleKind
from registry.domain.openbadges import OB_V3_CONTEXT, VC_V2_CONTEXT, PublicUrls, identity_hash

CLR_V2_CONTEXT = "https://purl.imsglobal.org/spec/clr/v2p0/context-2.0.1.json"
CLR_SCHEMA = (
    "https://purl.imsglobal.org/spec/clr/v2p0/schema/json/clr_v2p0_clrcredential_schema.json"
)


@dataclass(frozen=True)
class CompletedStack:
    stack_id: str
    stack_version: int
    name: str
    description: str
    rule: StackRule
    members: tuple[str, ...]
    member_credential_ids: tuple[str, ...]
    completed_at: datetime


def stack_achievement_id(urls: PublicUrls, stack_id: str, version: int) -> str:
    return f"{urls.registry.rstrip('/')}/stacks/{stack_id}/versions/{version}"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _rule_narrative(rule: StackRule, members: Sequence[str]) -> str:
    if rule.kind is StackRuleKind.ALL_OF:
        return f"Earn all {len(members)} micro-credentials of the stack."
    return f"Earn any {rule.n} of the {len(members)} micro-credentials of the stack."


def clr_credential(
    *,
    clr_id: str,
    educator_id: str,
    salt: str,
    credentials: Sequence[tuple[str, dict[str, Any]]],
    stacks: Sequence[CompletedStack],
    urls: PublicUrls,
    issued_at: datetime,
) -> dict[str, Any]:
    """The ``ClrCredential`` of ``credentials``, ``(micro-credential id, OB3 document)`` of
    each valid credential. A stack is linked to every bundled credential of one of its
    members (a reissued or a second credential of a member is linked as well)."""
    achievements: list[dict[str, Any]] = []
    associations: list[dict[str, Any]] = []
    for stack in stacks:
        stack_id = stack_achievement_id(urls, stack.stack_id, stack.stack_version)
        achievements.append(
            {
                "id": stack_id,
                "type": ["Achievement"],
                "achievementType": "LearningProgram",
                "name": stack.name,
                "description": stack.description or stack.name,
                "criteria": {"narrative": _rule_narrative(stack.rule, stack.members)},
                "version": str(stack.stack_version),
            }
        )
        targets = dict.fromkeys(
            document["credentialSubject"]["achievement"]["id"]
            for mc_id, document in credentials
            if mc_id in stack.members
        )
        associations.extend(
            {
                "type": "Association",
                "associationType": "isParentOf",
                "sourceId": stack_id,
                "targetId": target,
            }
            for target in targets
        )
    subject: dict[str, Any] = {
        "type": ["ClrSubject"],
        "identifier": [
            {
                "type": "IdentityObject",
                "identityType": "identifier",
                "hashed": True,
                "identityHash": identity_hash(educator_id, salt),
                "salt": salt,
            }
        ],
        "verifiableCredential": [document for _, document in credentials],
    }
    if achievements:
        subject["achievement"] = achievements
    if associations:
        subject["association"] = associations
    return {
        "@context": [VC_V2_CONTEXT, CLR_V2_CONTEXT, OB_V3_CONTEXT],
        "id": clr_id,
        "type": ["VerifiableCredential", "ClrCredential"],
        "issuer": {"id": urls.issuer, "type": ["Profile"], "name": urls.issuer_name},
        "name": "Comprehensive Learner Record: educator micro-credentials",
        "validFrom": _iso(issued_at),
        "awardedDate": _iso(issued_at),
        "credentialSubject": subject,
        "credentialSchema": [{"id": CLR_SCHEMA, "type": "1EdTechJsonSchemaValidator2019"}],
    }
