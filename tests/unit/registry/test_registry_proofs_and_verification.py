"""Signing as pure functions: eddsa-rdfc-2022 Data Integrity proofs (reproducing the W3C test
vector), Ed25519 Multikeys, the pinned JSON-LD contexts, the key vault, the verifier's checks
with stub resolvers, and the credential status rules (suspend, reinstate, supersede)."""

import copy
import hashlib
import re
from datetime import UTC, datetime, timedelta

import base58
import jsonschema
import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyld.documentloader.frozen import FrozenDocumentLoader

from mc_devstack.samples import mc_spec_data
from mc_events.contracts.common import CriterionResult
from mc_events.contracts.registry import RevocationReason
from mc_events.contracts.review import MisconductKind
from registry.adapters.signing_keys import KeyConfigurationError, KeyVault
from registry.domain import proofs, status_list, verification
from registry.domain.awards import (
    CredentialStateError,
    CredentialStatus,
    PassedDecision,
    award,
    misconduct_reason,
)
from registry.domain.catalog import MicroCredential, MicroCredentialSpec
from registry.domain.openbadges import (
    PublicUrls,
    StatusEntry,
    open_badge_credential,
    status_list_credential,
    suspension_entry,
)
from registry.domain.verification import Outcome, ResolvedKey, Result
from registry.standards import ob3_achievement_credential_schema

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
URLS = PublicUrls(
    registry="https://creds.state.example",
    evidence="https://evidence.state.example",
    issuer_name="State Dept. of Education",
)
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
METHOD = "https://creds.state.example/issuer/keys/key-1"


def the_award(**award_overrides):
    mc = MicroCredential.create(
        "wait-time", "provider-a", MicroCredentialSpec.model_validate(mc_spec_data()), "ann", T0
    )
    mc.submit("ann", T0)
    mc.approve("sea", T0)
    results = (
        CriterionResult(criterion_id="planning", achieved_level_id="proficient", met=True),
        CriterionResult(criterion_id="practice", achieved_level_id="proficient", met=True),
    )
    decision = PassedDecision(
        decision_id="dec-1",
        enrollment_id="enr-1",
        submission_id="sub-1",
        educator_id="SC-123456",
        district_id="d-7",
        micro_credential_id="wait-time",
        micro_credential_version=1,
        results=results,
        decided_at=T0,
    )
    a = award(decision, mc)
    for name, value in award_overrides.items():
        setattr(a, name, value)
    return a, mc


def unsigned(valid_until: datetime | None = None) -> dict:
    a, mc = the_award(valid_until=valid_until)
    return open_badge_credential(
        a, mc, "Provider A", URLS, StatusEntry("revocation-1", 42), salt="s4lt"
    )


def signed(valid_until: datetime | None = None) -> dict:
    return proofs.sign(unsigned(valid_until), KEY, METHOD, T0)


# -- the pinned contexts ---------------------------------------------------------------------


def test_every_pinned_context_has_the_sha256_its_readme_records():
    readme = (proofs.contexts_dir() / "README.md").read_text()
    for url, name in proofs.PINNED_CONTEXTS.items():
        digest = hashlib.sha256((proofs.contexts_dir() / name).read_bytes()).hexdigest()
        row = next(line for line in readme.splitlines() if f"`{name}`" in line)
        assert f"`{url}`" in row
        assert row.rstrip(" |").endswith(f"`{digest}`"), f"{name} changed: {digest}"


def test_a_context_that_is_not_pinned_is_refused_not_fetched():
    doc = unsigned()
    doc["@context"] = [*doc["@context"], "https://example.org/not-pinned/v1"]
    with pytest.raises(proofs.CanonicalizationError, match="not-pinned"):
        proofs.canonicalize(doc)


# -- eddsa-rdfc-2022 -------------------------------------------------------------------------

# W3C vc-di-eddsa test vector (TestVectors/eddsa-rdfc-2022/signedDataInt.json, keyPair.json).
SPEC_PRIVATE_KEY = "z3u2en7t5LR2WtQH5PfFqMqwVHBeXouLzo6haApm8XHqvjxq"
SPEC_PUBLIC_KEY = "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
SPEC_PROOF_VALUE = (
    "z21EVs3eXERqTn4acNHT9viboqgzUaQ3kTmhPT3eA8qrVPE7CrQq78WkzctnMX5W4CrzcKnHw8V6dvy5pgWYCU5e9"
)
SPEC_CREDENTIAL = {
    "@context": [
        "https://www.w3.org/ns/credentials/v2",
        "https://www.w3.org/ns/credentials/examples/v2",
    ],
    "id": "urn:uuid:58172aac-d8ba-11ed-83dd-0b3aef56cc33",
    "type": ["VerifiableCredential", "AlumniCredential"],
    "name": "Alumni Credential",
    "description": "A minimum viable example of an Alumni Credential.",
    "issuer": "https://vc.example/issuers/5678",
    "validFrom": "2023-01-01T00:00:00Z",
    "credentialSubject": {"id": "did:example:abcdefgh", "alumniOf": "The School of Examples"},
}


def test_signing_reproduces_the_w3c_eddsa_rdfc_2022_test_vector(monkeypatch):
    documents = dict(proofs.document_loader().documents)
    documents["https://www.w3.org/ns/credentials/examples/v2"] = {
        "@context": {"@vocab": "https://www.w3.org/ns/credentials/examples#"}
    }
    monkeypatch.setattr(proofs, "document_loader", lambda: FrozenDocumentLoader(documents))
    raw = base58.b58decode(SPEC_PRIVATE_KEY[1:])
    assert raw[:2] == b"\x80\x26"  # multicodec ed25519-priv
    key = Ed25519PrivateKey.from_private_bytes(raw[2:])
    assert proofs.public_key_multibase(key.public_key()) == SPEC_PUBLIC_KEY

    method = f"https://vc.example/issuers/5678#{SPEC_PUBLIC_KEY}"
    doc = proofs.sign(SPEC_CREDENTIAL, key, method, datetime(2023, 2, 24, 23, 36, 38, tzinfo=UTC))

    assert doc["proof"] == [
        {
            "type": "DataIntegrityProof",
            "cryptosuite": "eddsa-rdfc-2022",
            "created": "2023-02-24T23:36:38Z",
            "verificationMethod": method,
            "proofPurpose": "assertionMethod",
            "proofValue": SPEC_PROOF_VALUE,
        }
    ]
    proofs.verify(doc, doc["proof"][0], proofs.public_key_from_multibase(SPEC_PUBLIC_KEY))


def test_a_signed_credential_has_one_data_integrity_proof_and_still_matches_the_ob3_schema():
    doc = signed()
    jsonschema.validate(doc, ob3_achievement_credential_schema())
    (proof,) = doc["proof"]
    assert proof["type"] == "DataIntegrityProof"
    assert proof["cryptosuite"] == "eddsa-rdfc-2022"
    assert proof["verificationMethod"] == METHOD
    assert re.fullmatch(r"z[1-9A-HJ-NP-Za-km-z]{80,90}", proof["proofValue"])
    proofs.verify(doc, proof, KEY.public_key())


@pytest.mark.parametrize(
    "tamper",
    [
        lambda d: d.__setitem__("name", "Something Else"),
        lambda d: d["credentialSubject"].__setitem__("creditsEarned", 150),
        lambda d: d.__setitem__("validFrom", "2020-01-01T00:00:00Z"),
        lambda d: d["credentialStatus"].__setitem__("statusListIndex", "43"),
        lambda d: d["proof"][0].__setitem__("created", "2020-01-01T00:00:00Z"),
        lambda d: d["issuer"].__setitem__("id", "https://evil.example/issuer"),
    ],
    ids=["name", "credits", "validFrom", "status-index", "proof-created", "issuer"],
)
def test_any_change_to_a_signed_credential_breaks_its_proof(tamper):
    doc = copy.deepcopy(signed())
    tamper(doc)
    with pytest.raises(proofs.ProofError, match="does not match"):
        proofs.verify(doc, doc["proof"][0], KEY.public_key())


def test_a_property_no_context_defines_is_an_error_not_silently_dropped():
    doc = signed()
    doc["credentialSubject"]["extraClaim"] = "undefined terms would not be signed"
    with pytest.raises(proofs.CanonicalizationError, match="extraClaim"):
        proofs.verify(doc, doc["proof"][0], KEY.public_key())


def test_another_key_does_not_verify():
    doc = signed()
    other = Ed25519PrivateKey.generate().public_key()
    with pytest.raises(proofs.ProofError):
        proofs.verify(doc, doc["proof"][0], other)


def test_multikeys_round_trip_and_only_ed25519_keys_are_accepted():
    encoded = proofs.public_key_multibase(KEY.public_key())
    assert encoded.startswith("z6Mk")
    assert proofs.public_key_from_multibase(encoded).public_bytes_raw() == (
        KEY.public_key().public_bytes_raw()
    )
    for bad in ("u" + encoded[1:], "z" + base58.b58encode(b"\x12\x00" + bytes(32)).decode()):
        with pytest.raises(proofs.ProofError):
            proofs.public_key_from_multibase(bad)


# -- the key vault ---------------------------------------------------------------------------


def test_private_keys_are_sealed_under_the_kek_and_only_that_kek_unseals_them():
    vault = KeyVault(bytes(32))
    key = Ed25519PrivateKey.generate()
    sealed = vault.seal("key-1", key)
    assert key.private_bytes_raw() not in sealed
    fresh = KeyVault(bytes(32))
    unsealed = fresh.unseal("key-1", vault.kek_id, sealed)
    assert unsealed.private_bytes_raw() == key.private_bytes_raw()
    with pytest.raises(KeyConfigurationError, match="sealed with"):
        KeyVault(b"\x01" * 32).unseal("key-1", vault.kek_id, sealed)
    with pytest.raises(InvalidTag):  # AES-GCM: the key id is authenticated data
        KeyVault(bytes(32)).unseal("key-2", vault.kek_id, sealed)


def test_the_kek_comes_from_settings_or_a_file_and_must_be_32_bytes(tmp_path):
    text = "A" * 43  # 32 zero bytes, base64 without padding
    assert KeyVault.from_settings(text, None).kek_id == KeyVault(bytes(32)).kek_id
    secret = tmp_path / "kek"
    secret.write_text(text + "=\n")
    assert KeyVault.from_settings(None, str(secret)).kek_id == KeyVault(bytes(32)).kek_id
    assert KeyVault.from_settings(None, None).development
    with pytest.raises(KeyConfigurationError):
        KeyVault.from_settings("c2hvcnQ=", None)
    with pytest.raises(KeyConfigurationError):
        KeyVault.from_settings(None, str(tmp_path / "missing"))


# -- verification with stub resolvers --------------------------------------------------------


def status_doc(list_id: str, purpose: str, set_bits: tuple[int, ...] = ()) -> dict:
    bits = status_list.empty_list()
    for index in set_bits:
        bits = status_list.set_bit(bits, index)
    return proofs.sign(status_list_credential(URLS, list_id, purpose, bits, T0), KEY, METHOD, T0)


async def run_verify(doc, *, lists=None, now=T0 + timedelta(days=1), keys=None):
    lists = (
        lists
        if lists is not None
        else {
            URLS.status_list("revocation-1"): status_doc("revocation-1", "revocation"),
            URLS.status_list("suspension-1"): status_doc("suspension-1", "suspension"),
        }
    )
    keys = keys if keys is not None else {METHOD: ResolvedKey(KEY.public_key(), URLS.issuer)}

    async def resolve(method):
        return keys.get(method)

    async def fetch(url):
        return lists.get(url)

    def parallel(url):
        return url.replace("revocation-", "suspension-")

    return await verification.verify_credential(doc, now, resolve, fetch, parallel)


def results_of(report) -> dict[str, Result]:
    return {c.check: c.result for c in report.checks}


async def test_a_signed_active_credential_verifies_with_every_check_passed():
    report = await run_verify(signed())
    assert results_of(report) == dict.fromkeys(
        ("schema", "proof", "status", "validity"), Result.PASSED
    )
    assert report.verified
    assert report.outcome is Outcome.VALID


async def test_set_status_bits_read_as_revoked_or_suspended():
    revoked = {
        URLS.status_list("revocation-1"): status_doc("revocation-1", "revocation", (42,)),
        URLS.status_list("suspension-1"): status_doc("suspension-1", "suspension", (42,)),
    }
    report = await run_verify(signed(), lists=revoked)
    assert report.outcome is Outcome.REVOKED
    assert not report.verified
    suspended = {
        URLS.status_list("revocation-1"): status_doc("revocation-1", "revocation", (41, 43)),
        URLS.status_list("suspension-1"): status_doc("suspension-1", "suspension", (42,)),
    }
    assert (await run_verify(signed(), lists=suspended)).outcome is Outcome.SUSPENDED


async def test_a_status_list_that_cannot_be_read_or_trusted_makes_the_status_unknown():
    unreadable = await run_verify(signed(), lists={})
    assert results_of(unreadable)["status"] is Result.UNKNOWN
    assert unreadable.outcome is Outcome.STATUS_UNKNOWN
    assert not unreadable.verified

    forged = status_doc("revocation-1", "revocation")
    forged["credentialSubject"]["encodedList"] = status_list.encode(status_list.empty_list()[:-1])
    lists = {
        URLS.status_list("revocation-1"): forged,
        URLS.status_list("suspension-1"): status_doc("suspension-1", "suspension"),
    }
    report = await run_verify(signed(), lists=lists)
    assert results_of(report)["status"] is Result.UNKNOWN
    assert "does not verify" in next(c.detail for c in report.checks if c.check == "status")

    no_suspension_list = {
        URLS.status_list("revocation-1"): status_doc("revocation-1", "revocation")
    }
    report = await run_verify(signed(), lists=no_suspension_list)
    assert report.outcome is Outcome.STATUS_UNKNOWN


async def test_the_validity_window_is_checked():
    doc = signed(valid_until=T0 + timedelta(days=30))
    assert (await run_verify(doc, now=T0 + timedelta(days=29))).outcome is Outcome.VALID
    assert (await run_verify(doc, now=T0 + timedelta(days=30))).outcome is Outcome.EXPIRED
    assert (await run_verify(doc, now=T0 - timedelta(seconds=1))).outcome is (Outcome.NOT_YET_VALID)


async def test_tampering_an_unknown_key_or_another_controller_fail_the_proof():
    doc = signed()
    doc["name"] = "Forged"
    assert results_of(await run_verify(doc))["proof"] is Result.FAILED

    foreign = proofs.sign(unsigned(), KEY, "https://elsewhere.example/keys/1", T0)
    report = await run_verify(foreign)
    assert results_of(report)["proof"] is Result.FAILED
    assert "cannot be resolved" in report.checks[1].detail

    other_controller = {METHOD: ResolvedKey(KEY.public_key(), "https://other.example/issuer")}
    report = await run_verify(signed(), keys=other_controller)
    assert results_of(report)["proof"] is Result.FAILED
    assert report.outcome is Outcome.INVALID

    unsigned_doc = unsigned()
    assert results_of(await run_verify(unsigned_doc))["proof"] is Result.FAILED


async def test_a_document_that_is_not_an_ob3_credential_fails_the_schema_check():
    doc = signed()
    del doc["credentialSubject"]["achievement"]
    report = await run_verify(doc)
    assert results_of(report)["schema"] is Result.FAILED
    assert report.outcome is Outcome.INVALID
    report = await run_verify({"hello": "world"})
    assert report.outcome is Outcome.INVALID


# -- status rules ----------------------------------------------------------------------------


def test_suspension_is_reversible_and_revocation_and_reissue_are_not():
    a, _ = the_award()
    a.suspend("investigation", T0, "sea")
    assert a.status is CredentialStatus.SUSPENDED
    with pytest.raises(CredentialStateError):
        a.suspend("again", T0, "sea")
    with pytest.raises(CredentialStateError):
        a.supersede("new")  # a suspended credential is not reissued
    ended = a.reinstate()
    assert ended.reason == "investigation"
    assert a.status is CredentialStatus.ACTIVE
    with pytest.raises(CredentialStateError):
        a.reinstate()
    with pytest.raises(CredentialStateError):
        a.suspend("   ", T0, "sea")
    with pytest.raises(CredentialStateError):
        a.suspend("x", T0, "sea", until=T0)

    a.supersede("new-id")
    assert (a.status, a.superseded_by) == (CredentialStatus.SUPERSEDED, "new-id")
    with pytest.raises(CredentialStateError, match="new-id"):
        a.revoke(RevocationReason.PLAGIARISM, "", T0, "sea")

    b, _ = the_award()
    b.suspend("investigation", T0, "sea")
    b.revoke(RevocationReason.FABRICATED_EVIDENCE, "confirmed", T0, "sea")
    assert b.status is CredentialStatus.REVOKED
    with pytest.raises(CredentialStateError):
        b.reinstate()


def test_the_suspension_bit_is_the_same_index_of_the_parallel_list():
    assert suspension_entry(StatusEntry("revocation-3", 17)) == StatusEntry(
        "suspension-3", 17, "suspension"
    )
    with pytest.raises(ValueError, match="not a revocation list"):
        suspension_entry(StatusEntry("suspension-3", 17, "suspension"))


def test_misconduct_maps_to_a_revocation_reason():
    assert misconduct_reason(MisconductKind.PLAGIARISM, "copied") == (
        RevocationReason.PLAGIARISM,
        "copied",
    )
    assert misconduct_reason(MisconductKind.FABRICATED_EVIDENCE, "")[0] is (
        RevocationReason.FABRICATED_EVIDENCE
    )
    reason, detail = misconduct_reason(MisconductKind.IDENTIFIABLE_STUDENT_DATA, "names shown")
    assert reason is RevocationReason.OTHER
    assert detail == "identifiable student data in the evidence: names shown"
    assert misconduct_reason(MisconductKind.IDENTIFIABLE_STUDENT_DATA, "")[1] == (
        "identifiable student data in the evidence"
    )


@pytest.mark.parametrize(
    "poison",
    [
        lambda d: d["credentialSubject"].__setitem__("id", "_:b0"),
        lambda d: d.__setitem__("evidence", [{"type": ["Evidence"]} for _ in range(2500)]),
        lambda d: d.__setitem__("evidence", [_nested(60)]),
    ],
    ids=["blank-node-id", "too-many-objects", "too-deep"],
)
async def test_documents_that_could_make_canonicalization_explode_are_refused(poison):
    doc = signed()
    poison(doc)
    report = await run_verify(doc)
    assert results_of(report)["proof"] is Result.FAILED
    assert report.outcome is Outcome.INVALID


def _nested(depth: int) -> dict:
    node: dict = {"type": ["Evidence"]}
    for _ in range(depth):
        node = {"type": ["Evidence"], "narrative": node}
    return node


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
_fields = st.sampled_from(
    ["@context", "type", "issuer", "proof", "credentialStatus", "validFrom", "validUntil", "id"]
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changes=st.dictionaries(_fields, _json, max_size=4))
async def test_verification_reports_on_any_json_and_never_raises_or_says_valid_for_junk(changes):
    doc = {**signed(), **changes}
    report = await run_verify(doc)
    assert {c.check for c in report.checks} == {"schema", "proof", "status", "validity"}
    if changes and any(signed().get(k) != v for k, v in changes.items()):
        assert report.outcome is not Outcome.VALID


async def test_a_did_key_verification_method_resolves_offline_and_must_be_the_issuer():
    other = Ed25519PrivateKey.generate()
    encoded = proofs.public_key_multibase(other.public_key())
    did = f"did:key:{encoded}"
    resolved = verification.did_key(f"{did}#{encoded}")
    assert resolved is not None
    assert resolved.controller == did
    assert verification.did_key(f"{did}#{'z6Mk' + encoded[4:-1]}x") is None
    assert verification.did_key("https://example.org/keys/1") is None

    doc = unsigned()
    doc["issuer"] = {"id": did, "type": ["Profile"], "name": "Another State"}
    doc = proofs.sign(doc, other, f"{did}#{encoded}", T0)
    report = await run_verify(doc, keys={f"{did}#{encoded}": resolved})
    assert results_of(report)["proof"] is Result.PASSED
    doc["issuer"]["id"] = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
    assert results_of(await run_verify(doc, keys={f"{did}#{encoded}": resolved}))["proof"] is (
        Result.FAILED
    )
