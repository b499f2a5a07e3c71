"""Awards as pure rules, the Open Badges 3.0 credential they produce (checked against the
official 1EdTech JSON Schema), and the Bitstring status list."""

import json
from datetime import UTC, datetime
from decimal import Decimal

import jsonschema
import pytest

from mc_devstack.samples import mc_spec_data
from mc_events.contracts.common import CriterionResult, Purpose
from mc_events.contracts.registry import RevocationReason
from registry.domain import status_list
from registry.domain.awards import (
    CredentialStateError,
    CredentialStatus,
    InconsistentDecision,
    NotAwardable,
    PassedDecision,
    award,
    choose_purpose,
    credential_id_for,
)
from registry.domain.catalog import MicroCredential, MicroCredentialSpec
from registry.domain.openbadges import (
    PublicUrls,
    StatusEntry,
    identity_hash,
    open_badge_credential,
    status_list_credential,
)
from registry.standards import ob3_achievement_credential_schema

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
URLS = PublicUrls(
    registry="https://creds.state.example",
    evidence="https://evidence.state.example",
    issuer_name="State Dept. of Education",
)


def mc(status: str = "approved", **overrides) -> MicroCredential:
    m = MicroCredential.create(
        "wait-time",
        "provider-a",
        MicroCredentialSpec.model_validate(mc_spec_data(**overrides)),
        "ann",
        T0,
    )
    if status in ("submitted", "approved", "retired"):
        m.submit("ann", T0)
    if status in ("approved", "retired"):
        m.approve("sea", T0)
    if status == "retired":
        m.retire("sea", T0, "old")
    return m


def results(planning: str = "proficient", practice: str = "proficient") -> tuple:
    return (
        CriterionResult(criterion_id="planning", achieved_level_id=planning, met=True),
        CriterionResult(criterion_id="practice", achieved_level_id=practice, met=True),
    )


def decision(**overrides) -> PassedDecision:
    data = {
        "decision_id": "dec-1",
        "enrollment_id": "enr-1",
        "submission_id": "sub-1",
        "educator_id": "SC-123456",
        "district_id": "d-7",
        "micro_credential_id": "wait-time",
        "micro_credential_version": 1,
        "results": results(),
        "decided_at": T0,
    }
    data.update(overrides)
    return PassedDecision(**data)


def test_a_passed_decision_on_an_approved_version_is_awarded():
    a = award(decision(), mc(), Purpose.CURATED_PD)
    assert a.credential_id == credential_id_for("enr-1")
    assert (a.educator_id, a.issuer_id, a.purpose) == (
        "SC-123456",
        "provider-a",
        Purpose.CURATED_PD,
    )
    assert a.credits.value == Decimal("15")
    assert a.awarded_at == T0
    assert a.status is CredentialStatus.ACTIVE


def test_two_decisions_for_one_enrollment_name_the_same_credential():
    first = award(decision(decision_id="dec-1"), mc())
    second = award(decision(decision_id="dec-2"), mc())
    assert first.credential_id == second.credential_id


@pytest.mark.parametrize("status", ["draft", "submitted"])
def test_an_unapproved_micro_credential_cannot_be_awarded(status):
    with pytest.raises(NotAwardable):
        award(decision(), mc(status))


def test_a_retired_version_can_still_be_awarded_to_an_enrollment_opened_before():
    assert award(decision(), mc("retired")).micro_credential_version == 1


def test_a_decision_about_another_version_is_refused():
    with pytest.raises(NotAwardable):
        award(decision(micro_credential_version=2), mc())


@pytest.mark.parametrize(
    "bad",
    [
        results(planning="emerging"),  # below the required level
        results(planning="mastered"),  # not a level of the criterion
        results()[:1],  # a criterion without result
        (*results(), CriterionResult(criterion_id="extra", achieved_level_id="x", met=True)),
    ],
)
def test_results_that_do_not_pass_the_approved_rubric_are_refused(bad):
    with pytest.raises(InconsistentDecision):
        award(decision(results=bad), mc())


def test_the_purpose_is_what_the_educator_enrolled_for_else_license_renewal_else_the_first():
    assert choose_purpose(mc(), Purpose.CURATED_PD) is Purpose.CURATED_PD
    assert choose_purpose(mc(), None) is Purpose.LICENSE_RENEWAL
    assert choose_purpose(mc(), Purpose.PRE_SERVICE) is Purpose.LICENSE_RENEWAL  # not allowed
    only_endorsement = mc(allowed_purposes=["added_endorsement", "curated_pd"])
    assert choose_purpose(only_endorsement, None) is Purpose.ADDED_ENDORSEMENT


def test_revocation_is_permanent():
    a = award(decision(), mc())
    a.revoke(RevocationReason.PLAGIARISM, " copied ", T0, "sea")
    assert a.status is CredentialStatus.REVOKED
    assert a.revocation is not None
    assert a.revocation.detail == "copied"
    with pytest.raises(CredentialStateError):
        a.revoke(RevocationReason.OTHER, "", T0, "sea")


# -- the Open Badges 3.0 credential ------------------------------------------------------------


def credential(**overrides) -> dict:
    a = award(decision(results=results(planning="exemplary")), mc(**overrides))
    return open_badge_credential(
        a, mc(**overrides), "Provider A", URLS, StatusEntry("revocation-1", 94567), salt="s4lt"
    )


def test_the_credential_validates_against_the_official_ob3_schema():
    schema = ob3_achievement_credential_schema()
    jsonschema.validate(credential(), schema)
    jsonschema.validate(credential(credits={"value": "1.5", "unit": "ceu"}), schema)


def test_the_credential_is_an_open_badge_micro_credential_issued_by_the_state():
    doc = credential()
    assert doc["@context"][:2] == [
        "https://www.w3.org/ns/credentials/v2",
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
    ]
    assert doc["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert doc["id"] == f"urn:uuid:{credential_id_for('enr-1')}"
    assert doc["issuer"]["id"] == "https://creds.state.example/issuer"
    assert doc["validFrom"] == doc["awardedDate"] == "2026-03-01T12:00:00Z"
    achievement = doc["credentialSubject"]["achievement"]
    assert achievement["achievementType"] == "MicroCredential"
    assert achievement["id"] == "https://creds.state.example/achievements/wait-time/versions/1"
    assert achievement["creator"]["id"] == "https://creds.state.example/issuers/provider-a"
    assert "Submit a lesson plan" in achievement["criteria"]["narrative"]
    assert achievement["creditsAvailable"] == 15
    assert doc["credentialSubject"]["creditsEarned"] == 15


def test_result_descriptions_come_from_the_rubric_and_results_name_the_achieved_levels():
    doc = credential()
    achievement = doc["credentialSubject"]["achievement"]
    descriptions = {rd["id"]: rd for rd in achievement["resultDescription"]}
    assert len(descriptions) == 2
    for result in doc["credentialSubject"]["result"]:
        rd = descriptions[result["resultDescription"]]
        assert rd["resultType"] == "RubricCriterionLevel"
        level_ids = [level["id"] for level in rd["rubricCriterionLevel"]]
        assert result["achievedLevel"] in level_ids
        assert rd["requiredLevel"] in level_ids
    planning = next(
        r for r in doc["credentialSubject"]["result"] if "planning" in r["achievedLevel"]
    )
    assert planning["achievedLevel"].endswith("#criterion-planning-level-exemplary")


def test_the_educator_appears_only_as_a_salted_hash_of_the_state_educator_id():
    doc = credential()
    assert "SC-123456" not in json.dumps(doc)
    (identity,) = doc["credentialSubject"]["identifier"]
    assert identity["identityType"] == "identifier"
    assert identity["hashed"] is True
    assert identity["identityHash"] == identity_hash("SC-123456", identity["salt"])


def test_evidence_is_a_reference_to_the_gated_submission_not_the_artifacts():
    (evidence,) = credential()["evidence"]
    assert evidence["id"] == "https://evidence.state.example/enrollments/enr-1/submissions/sub-1"
    assert set(evidence) == {"id", "type", "name", "description"}


def test_the_status_entry_points_at_the_allocated_index_of_the_revocation_list():
    status = credential()["credentialStatus"]
    assert status == {
        "id": "https://creds.state.example/status/revocation-1#94567",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": "94567",
        "statusListCredential": "https://creds.state.example/status/revocation-1",
    }


# -- the Bitstring status list -----------------------------------------------------------------


def test_status_list_index_zero_is_the_left_most_bit():
    bits = status_list.set_bit(status_list.empty_list(), 0)
    assert bits[0] == 0x80
    bits = status_list.set_bit(bits, 9)
    assert bits[1] == 0x40
    assert status_list.get_bit(bits, 9)
    assert not status_list.get_bit(bits, 8)
    assert not status_list.get_bit(status_list.set_bit(bits, 9, False), 9)


def test_a_status_list_holds_at_least_131072_bits_and_round_trips_through_its_encoding():
    bits = status_list.set_bit(status_list.empty_list(), 131_071)
    assert len(bits) * 8 == 131_072
    encoded = status_list.encode(bits)
    assert encoded.startswith("u")
    assert status_list.decode(encoded) == bits
    with pytest.raises(IndexError):
        status_list.set_bit(bits, 131_072)


def test_the_status_list_credential_carries_the_encoded_bits_at_its_public_url():
    bits = status_list.set_bit(status_list.empty_list(), 94567)
    doc = status_list_credential(URLS, "revocation-1", "revocation", bits, T0)
    assert doc["id"] == "https://creds.state.example/status/revocation-1"
    assert doc["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    subject = doc["credentialSubject"]
    assert (subject["type"], subject["statusPurpose"]) == ("BitstringStatusList", "revocation")
    assert status_list.get_bit(status_list.decode(subject["encodedList"]), 94567)
