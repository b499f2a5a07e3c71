"""Recognising credentials issued elsewhere: rule matching, recipient, did:key, outcome."""

from decimal import Decimal

import pytest

from mc_events.contracts.common import Credits, CreditUnit
from registry.domain.openbadges import identity_hash
from registry.domain.portability import (
    ExternalCredential,
    ImportRefused,
    ProofStatus,
    RecognitionRule,
    RecognitionStatus,
    did_key_controller,
    external_credential,
    find_rule,
    names_recipient,
    recognition,
)

ISSUER = "did:key:z6MkExample"
CEU = Credits(value=Decimal(1), unit=CreditUnit.CEU)


def rule(rule_id: str, *, achievement_id: str | None = None, name: str | None = None):
    return RecognitionRule(rule_id, ISSUER, achievement_id, name, None, CEU)


def credential(achievement_id: str | None = "https://x/a/1", name: str = "Exit Tickets"):
    return ExternalCredential("urn:uuid:1", ISSUER, achievement_id, name)


def test_a_rule_for_the_achievement_id_wins_over_one_for_its_name():
    rules = [rule("by-name", name="exit tickets"), rule("by-id", achievement_id="https://x/a/1")]
    assert find_rule(rules, credential()).rule_id == "by-id"


def test_a_name_rule_matches_case_insensitively_and_only_for_its_issuer():
    assert find_rule([rule("n", name="  EXIT tickets ")], credential(None)).rule_id == "n"
    other = RecognitionRule("o", "did:key:zOther", None, "Exit Tickets", None, CEU)
    assert find_rule([other], credential()) is None


def test_without_a_matching_rule_nothing_is_recognised():
    assert find_rule([rule("r", achievement_id="https://x/a/2")], credential()) is None


@pytest.mark.parametrize(
    ("proof", "has_rule", "expected"),
    [
        (ProofStatus.VERIFIED, True, RecognitionStatus.RECOGNIZED),
        (ProofStatus.VERIFIED, False, RecognitionStatus.NOT_RECOGNIZED),
        (ProofStatus.UNCHECKED, True, RecognitionStatus.PENDING_VERIFICATION),
        (ProofStatus.UNCHECKED, False, RecognitionStatus.PENDING_VERIFICATION),
    ],
)
def test_only_a_verified_credential_with_a_rule_is_recognised(proof, has_rule, expected):
    assert recognition(proof, rule("r", name="x") if has_rule else None) is expected


def subject(*identities: dict) -> dict:
    return {"credentialSubject": {"identifier": list(identities)}}


def test_the_recipient_is_the_educator_by_hashed_state_id_or_roster_email():
    hashed_id = {
        "identityType": "identifier",
        "hashed": True,
        "identityHash": identity_hash("SC-1", "salt"),
        "salt": "salt",
    }
    assert names_recipient(subject(hashed_id), "SC-1", None)
    assert not names_recipient(subject(hashed_id), "SC-2", None)
    email = {
        "identityType": "emailAddress",
        "hashed": True,
        "identityHash": identity_hash("ada@example.org", "s"),
        "salt": "s",
    }
    assert names_recipient(subject(email), "SC-1", "Ada@Example.org ")
    assert not names_recipient(subject(email), "SC-1", None)  # no email on the roster
    plain = {"identityType": "emailAddress", "hashed": False, "identityHash": "ada@example.org"}
    assert names_recipient(subject(plain), "SC-1", "ada@example.org")
    assert not names_recipient({"credentialSubject": {}}, "SC-1", "ada@example.org")


def test_only_did_key_methods_resolve_offline():
    assert did_key_controller("did:key:z6MkAbc#z6MkAbc") == "did:key:z6MkAbc"
    assert did_key_controller("did:web:other.example#key-1") is None
    assert did_key_controller("https://other.example/keys/1") is None


def test_a_credential_without_id_or_achievement_cannot_be_imported():
    doc = {"issuer": {"id": ISSUER}, "credentialSubject": {"achievement": {"name": "A"}}}
    with pytest.raises(ImportRefused, match="no id"):
        external_credential(doc)
    with pytest.raises(ImportRefused, match="no issuer or no achievement"):
        external_credential({"id": "urn:x", "issuer": ISSUER, "credentialSubject": {}})
    found = external_credential({**doc, "id": "urn:uuid:9"})
    assert (found.issuer_id, found.achievement_id, found.achievement_name) == (ISSUER, None, "A")
