"""The CLR 2.0 bundle and the Ed-Fi Credential view of an educator's records."""

from datetime import UTC, date, datetime

from mc_events.contracts.catalog import StackRule, StackRuleKind
from registry.domain.clr import CLR_V2_CONTEXT, CompletedStack, clr_credential
from registry.domain.licensure import EdFiCredentialSource, edfi_credential
from registry.domain.openbadges import VC_V2_CONTEXT, PublicUrls, identity_hash

URLS = PublicUrls(registry="https://registry.sc.example", evidence="https://e", issuer_name="SCDE")
T0 = datetime(2026, 3, 1, tzinfo=UTC)


def badge(credential_id: str, mc_id: str) -> dict:
    return {
        "id": f"urn:uuid:{credential_id}",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "credentialSubject": {"achievement": {"id": URLS.achievement(mc_id, 1)}},
    }


def stack(credential_ids: tuple[str, ...]) -> CompletedStack:
    return CompletedStack(
        stack_id="questioning",
        stack_version=2,
        name="Questioning Pathway",
        description="",
        rule=StackRule(kind=StackRuleKind.N_OF_M, n=2),
        members=("mc-a", "mc-b", "mc-c"),
        member_credential_ids=credential_ids,
        completed_at=T0,
    )


def test_the_clr_bundles_the_badges_and_links_each_stack_to_its_members():
    doc = clr_credential(
        clr_id="urn:uuid:x",
        educator_id="SC-1",
        salt="s4lt",
        credentials=[("mc-a", badge("c1", "mc-a")), ("mc-b", badge("c2", "mc-b"))],
        stacks=[stack(("c1", "c2"))],
        urls=URLS,
        issued_at=T0,
    )
    assert doc["@context"][:2] == [VC_V2_CONTEXT, CLR_V2_CONTEXT]
    assert doc["type"] == ["VerifiableCredential", "ClrCredential"]
    assert doc["issuer"]["id"] == URLS.issuer
    subject = doc["credentialSubject"]
    assert subject["type"] == ["ClrSubject"]
    assert [vc["id"] for vc in subject["verifiableCredential"]] == ["urn:uuid:c1", "urn:uuid:c2"]
    (program,) = subject["achievement"]
    assert program["achievementType"] == "LearningProgram"
    assert program["id"] == "https://registry.sc.example/stacks/questioning/versions/2"
    assert "any 2 of the 3" in program["criteria"]["narrative"]
    assert subject["association"] == [
        {
            "type": "Association",
            "associationType": "isParentOf",
            "sourceId": program["id"],
            "targetId": URLS.achievement(mc, 1),
        }
        for mc in ("mc-a", "mc-b")
    ]
    # The educator appears only as a salted hash.
    assert "SC-1" not in str(doc)
    assert subject["identifier"][0]["identityHash"] == identity_hash("SC-1", "s4lt")


def test_a_stack_links_only_to_bundled_credentials_of_its_members():
    doc = clr_credential(
        clr_id="urn:uuid:x",
        educator_id="SC-1",
        salt="s",
        # c1 was reissued as c9 (the completion still names c1); mc-z is not a member.
        credentials=[("mc-a", badge("c9", "mc-a")), ("mc-z", badge("c5", "mc-z"))],
        stacks=[stack(("c1", "gone"))],
        urls=URLS,
        issued_at=T0,
    )
    assert [a["targetId"] for a in doc["credentialSubject"]["association"]] == [
        URLS.achievement("mc-a", 1)
    ]


def test_without_stacks_the_clr_has_no_achievements_or_associations():
    doc = clr_credential(
        clr_id="urn:uuid:x",
        educator_id="SC-1",
        salt="s",
        credentials=[("mc-a", badge("c1", "mc-a"))],
        stacks=[],
        urls=URLS,
        issued_at=T0,
    )
    assert "achievement" not in doc["credentialSubject"]
    assert "association" not in doc["credentialSubject"]


def source(**overrides) -> EdFiCredentialSource:
    data = {
        "identifier": "cred-1",
        "field_code": "wait-time",
        "credential_type": "Certification",
        "issued_on": date(2026, 3, 1),
        "expires_on": None,
        "educator_id": "SC-1",
        "namespace": "uri://registry.sc.example",
        "name": "Wait Time",
    }
    data.update(overrides)
    return EdFiCredentialSource(**data)


def test_an_ed_fi_credential_carries_the_descriptors_and_dates_licensure_systems_ingest():
    credential = edfi_credential(source(expires_on=date(2031, 3, 1)), "SC")
    assert credential["credentialIdentifier"] == "cred-1"
    assert credential["stateOfIssueStateAbbreviationDescriptor"] == (
        "uri://ed-fi.org/StateAbbreviationDescriptor#SC"
    )
    assert credential["credentialTypeDescriptor"] == (
        "uri://ed-fi.org/CredentialTypeDescriptor#Certification"
    )
    assert credential["credentialFieldDescriptor"] == (
        "uri://registry.sc.example/CredentialFieldDescriptor#wait-time"
    )
    assert (credential["issuanceDate"], credential["effectiveDate"]) == ("2026-03-01",) * 2
    assert credential["expirationDate"] == "2031-03-01"
    assert credential["credentialEndorsements"] == []
    association = credential["staffCredentialAssociation"]
    assert association["staffReference"] == {"staffUniqueId": "SC-1"}
    assert association["credentialReference"]["credentialIdentifier"] == "cred-1"


def test_an_endorsement_is_an_ed_fi_endorsement_credential_without_expiry():
    credential = edfi_credential(
        source(credential_type="Endorsement", field_code="SC-READ", name="Read to Succeed"),
        "SC",
    )
    assert credential["credentialTypeDescriptor"].endswith("#Endorsement")
    assert credential["credentialEndorsements"] == [{"credentialEndorsement": "Read to Succeed"}]
    assert "expirationDate" not in credential
