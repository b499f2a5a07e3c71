"""The verification memos (registry.domain.proof_cache): a proof that verified is remembered by
the content it is a function of (document, proof, public key), a JSON-equal copy hits, any
change misses, failures are never remembered, the memo is bounded, and a status change is seen
by the very next verification however warm the memos are."""

import copy
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mc_devstack.samples import mc_spec_data
from mc_events.contracts.common import CriterionResult
from registry.domain import proof_cache, proofs, status_list, verification
from registry.domain.awards import PassedDecision, award
from registry.domain.catalog import MicroCredential, MicroCredentialSpec
from registry.domain.openbadges import (
    PublicUrls,
    StatusEntry,
    open_badge_credential,
    status_list_credential,
)
from registry.domain.verification import Outcome, ResolvedKey, Result

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
URLS = PublicUrls("https://creds.state.example", "https://evidence.state.example", "SDE")
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
METHOD = "https://creds.state.example/issuer/keys/key-1"
INDEX = 42


@pytest.fixture(autouse=True)
def fresh_memos():
    proof_cache.configure(proof_cache.DEFAULT_SIZE)
    yield
    proof_cache.configure(proof_cache.DEFAULT_SIZE)


def credential(educator: str = "SC-123456") -> dict:
    mc = MicroCredential.create(
        "wait-time", "provider-a", MicroCredentialSpec.model_validate(mc_spec_data()), "ann", T0
    )
    mc.submit("ann", T0)
    mc.approve("sea", T0)
    decision = PassedDecision(
        decision_id="dec-1",
        enrollment_id="enr-1",
        submission_id="sub-1",
        educator_id=educator,
        district_id="d-7",
        micro_credential_id="wait-time",
        micro_credential_version=1,
        results=(
            CriterionResult(criterion_id="planning", achieved_level_id="proficient", met=True),
            CriterionResult(criterion_id="practice", achieved_level_id="proficient", met=True),
        ),
        decided_at=T0,
    )
    document = open_badge_credential(
        award(decision, mc), mc, "Provider A", URLS, StatusEntry("revocation-1", INDEX), "s4lt"
    )
    return proofs.sign(document, KEY, METHOD, T0)


def reordered(document: dict) -> dict:
    """A JSON-equal copy whose objects list their keys in reverse order."""

    def flip(value):
        if isinstance(value, dict):
            return {k: flip(value[k]) for k in reversed(list(value))}
        if isinstance(value, list):
            return [flip(v) for v in value]
        return value

    flipped = flip(document)
    assert flipped == document
    assert json.dumps(flipped) != json.dumps(document)
    return flipped


class CountingCanonicalize:
    def __init__(self, monkeypatch) -> None:
        self.calls = 0
        real = proofs.canonicalize

        def counting(document):
            self.calls += 1
            return real(document)

        monkeypatch.setattr(proofs, "canonicalize", counting)


def test_a_verified_proof_is_remembered_and_a_json_equal_copy_is_not_verified_again(
    monkeypatch,
):
    doc = credential()
    proof = doc["proof"][0]
    assert not proofs.verified_before(doc, proof, KEY.public_key())
    counter = CountingCanonicalize(monkeypatch)
    proofs.verify(doc, proof, KEY.public_key())
    assert counter.calls == 2  # the document and the proof options
    assert proofs.verified_before(doc, proof, KEY.public_key())

    copy_of = reordered(doc)
    assert proofs.verified_before(copy_of, copy_of["proof"][0], KEY.public_key())
    proofs.verify(copy_of, copy_of["proof"][0], KEY.public_key())
    assert counter.calls == 2  # served from the memo


@pytest.mark.parametrize(
    "alter",
    [
        lambda d: d["credentialSubject"]["achievement"].__setitem__("name", "Other"),
        lambda d: d.__setitem__("name", d["name"] + " "),
        lambda d: d["proof"][0].__setitem__("created", "2026-03-01T12:00:01Z"),
        lambda d: d["credentialStatus"].__setitem__("statusListIndex", str(INDEX + 1)),
    ],
    ids=["subject", "name", "proof-created", "status-index"],
)
def test_any_change_to_a_remembered_document_is_verified_in_full_and_fails(alter):
    doc = credential()
    proofs.verify(doc, doc["proof"][0], KEY.public_key())
    altered = copy.deepcopy(doc)
    alter(altered)
    assert not proofs.verified_before(altered, altered["proof"][0], KEY.public_key())
    with pytest.raises(proofs.ProofError):
        proofs.verify(altered, altered["proof"][0], KEY.public_key())


def test_another_key_is_not_a_hit():
    doc = credential()
    proofs.verify(doc, doc["proof"][0], KEY.public_key())
    assert not proofs.verified_before(doc, doc["proof"][0], OTHER_KEY.public_key())
    with pytest.raises(proofs.ProofError, match="does not match"):
        proofs.verify(doc, doc["proof"][0], OTHER_KEY.public_key())


def test_a_failing_proof_is_never_remembered(monkeypatch):
    doc = credential()
    doc["name"] = "Tampered"
    counter = CountingCanonicalize(monkeypatch)
    for attempt in (1, 2):
        with pytest.raises(proofs.ProofError):
            proofs.verify(doc, doc["proof"][0], KEY.public_key())
        assert counter.calls == 2 * attempt  # checked in full each time
    assert len(proof_cache.VERIFIED_PROOFS) == 0


def test_size_zero_turns_the_memos_off(monkeypatch):
    proof_cache.configure(0)
    doc = credential()
    counter = CountingCanonicalize(monkeypatch)
    proofs.verify(doc, doc["proof"][0], KEY.public_key())
    proofs.verify(doc, doc["proof"][0], KEY.public_key())
    assert counter.calls == 4
    assert not proofs.verified_before(doc, doc["proof"][0], KEY.public_key())
    assert len(proof_cache.VERIFIED_PROOFS) == len(proof_cache.SCHEMA_RESULTS) == 0


def test_the_memo_is_a_bounded_lru():
    memo: proof_cache.Lru[str, int] = proof_cache.Lru(2)
    memo.put("a", 1)
    memo.put("b", 2)
    assert memo.get("a") == 1  # a is now the most recent
    memo.put("c", 3)
    assert (memo.get("a"), memo.get("b"), memo.get("c")) == (1, None, 3)
    assert len(memo) == 2


def test_values_that_are_not_plain_json_are_not_memoised():
    assert proof_cache.canonical_json({"b": 1, "a": [True, None]}) == b'{"a":[true,null],"b":1}'
    assert proof_cache.canonical_json({"a": Decimal("1.5")}) is None
    assert proof_cache.canonical_json({"a": float("nan")}) is None
    # 1 and 1.0 are different JSON texts: different keys (never wrongly shared).
    assert proof_cache.canonical_json({"a": 1}) != proof_cache.canonical_json({"a": 1.0})
    assert proof_cache.proof_digest({"a": Decimal("1")}, {}, b"k") is None


def test_the_schema_result_is_memoised_by_content():
    doc = credential()
    first = verification.check_schema(doc)
    assert first.result is Result.PASSED
    assert verification.check_schema(reordered(doc)) is first
    broken = copy.deepcopy(doc)
    del broken["issuer"]
    assert verification.check_schema(broken).result is Result.FAILED


def status_doc(list_id: str, purpose: str, set_bits: tuple[int, ...] = ()) -> dict:
    bits = status_list.empty_list()
    for index in set_bits:
        bits = status_list.set_bit(bits, index)
    return proofs.sign(status_list_credential(URLS, list_id, purpose, bits, T0), KEY, METHOD, T0)


async def test_revocation_and_suspension_show_at_once_however_warm_the_memos_are():
    lists = {
        URLS.status_list("revocation-1"): status_doc("revocation-1", "revocation"),
        URLS.status_list("suspension-1"): status_doc("suspension-1", "suspension"),
    }

    async def resolve(method):
        return ResolvedKey(KEY.public_key(), URLS.issuer) if method == METHOD else None

    async def fetch(url):
        return lists.get(url)

    def parallel(url):
        return url.replace("revocation-", "suspension-")

    async def outcome() -> Outcome:
        now = T0 + timedelta(days=1)
        report = await verification.verify_credential(doc, now, resolve, fetch, parallel)
        return report.outcome

    doc = credential()
    assert await outcome() is Outcome.VALID
    hits = proof_cache.VERIFIED_PROOFS.hits
    assert await outcome() is Outcome.VALID
    assert proof_cache.VERIFIED_PROOFS.hits > hits  # the proof came from the memo

    lists[URLS.status_list("suspension-1")] = status_doc("suspension-1", "suspension", (INDEX,))
    assert await outcome() is Outcome.SUSPENDED
    lists[URLS.status_list("suspension-1")] = status_doc("suspension-1", "suspension")
    assert await outcome() is Outcome.VALID
    lists[URLS.status_list("revocation-1")] = status_doc("revocation-1", "revocation", (INDEX,))
    assert await outcome() is Outcome.REVOKED
    assert await outcome() is Outcome.REVOKED
