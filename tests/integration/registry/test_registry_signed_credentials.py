"""Signed credentials and their status lifecycle on a real broker and database: awards are
signed (eddsa-rdfc-2022), once, right after the exactly-once award; keys resolve at public
URLs and rotate without invalidating earlier credentials; POST /credentials/verify reports
each check; revocation, suspension/reinstatement, expiry and reissue each show in
verification, the status lists and the event stream; review's revocation requests revoke
exactly once."""

from __future__ import annotations

import asyncio
import copy
import fcntl
import functools
import hashlib
import json
import shutil
import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import base58
import jsonschema
import pytest
import sqlalchemy as sa
from alembic import command
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pyld import jsonld
from pyld.documentloader.frozen import BUNDLED_CONTEXTS, FrozenDocumentLoader
from registry_it import Actors, decided, events_on, mc_spec_data, processed, publish

from mc_devstack.testing import (
    RunningService,
    fresh_database_async,
    running_service,
    unique_name,
)
from mc_events.consumer import wait_until
from mc_events.contracts.registry import (
    CredentialAwarded,
    CredentialReinstated,
    CredentialReissued,
    CredentialRevoked,
    CredentialSuspended,
    RevocationReason,
)
from mc_events.contracts.review import MisconductKind, RevocationRequested
from mc_events.db import execute_core
from mc_events.topics import CREDENTIALS, REVIEWS, dlq_topic
from mc_platform import audit, migrations
from mc_platform.auth import Role
from registry.adapters.tables import credentials, signing_keys
from registry.bootstrap import MIGRATIONS, build
from registry.config import Settings
from registry.domain import proofs
from registry.domain.awards import credential_id_for
from registry.standards import ob3_achievement_credential_schema

ROOT = Path(__file__).resolve().parents[3]
CONTEXTS = ROOT / "services/registry/src/registry/standards/contexts"
INTEROP = ROOT / "services/registry/interop"


class Clock:
    """The registry's clock in this module: real time unless a test moves it."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


CLOCK = Clock()


@pytest.fixture(scope="module")
async def signer_registry(infra, tmp_path_factory) -> AsyncIterator[RunningService]:
    async with running_service(
        functools.partial(build, clock=CLOCK),
        Settings,
        infra,
        credential_validity_days=365,
        suspension_sweep_interval_seconds=0.2,
    ) as svc:
        yield svc


@pytest.fixture
async def actors(signer_registry) -> Actors:
    actors = Actors(signer_registry)
    await actors.register_issuer()
    return actors


def path(url: str) -> str:
    return urlsplit(url).path


async def awarded(svc: RunningService, actors: Actors) -> tuple[Any, dict[str, Any]]:
    """A passed decision, delivered twice; its (one) credential document."""
    mc_id = await actors.published_mc(mc_spec_data())
    decision = decided(mc_id)
    first = await publish(svc, decision)
    second = await publish(svc, decision)  # the same decision again, as another event
    assert await processed(svc, first, second)
    response = await svc.client.get(f"/credentials/{credential_id_for(decision.enrollment_id)}")
    assert response.status_code == 200, response.text
    return decision, response.json()


async def verify(svc: RunningService, doc: dict[str, Any]) -> dict[str, Any]:
    r = await svc.client.post("/credentials/verify", json=doc)
    assert r.status_code == 200, r.text
    body = dict(r.json())
    body["by_check"] = {c["check"]: c["result"] for c in body["checks"]}
    return body


# -- an independent verifier: pyld + cryptography + base58, no registry code -----------------


def independent_verify(svc_get: dict[str, dict[str, Any]], credential: dict[str, Any]) -> None:
    """The Data Integrity eddsa-rdfc-2022 verification algorithm (vc-di-eddsa 3.3.2-3.3.5),
    written from the spec: contexts from the pinned files only, the key from the documents a
    verifier fetched (``svc_get``: URL -> JSON). Raises AssertionError if it does not verify."""
    documents: dict[str, Any] = {
        "https://www.w3.org/ns/credentials/v2": CONTEXTS / "credentials-v2.jsonld",
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json": CONTEXTS
        / "ob-context-3.0.3.json",
        "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json": CONTEXTS / "ob-extensions.json",
    }
    loader = FrozenDocumentLoader(documents)

    def canon(doc: dict[str, Any]) -> bytes:
        dropped: list[Any] = []
        nquads = jsonld.JsonLdProcessor(on_property_dropped=dropped.append).normalize(
            doc,
            {"algorithm": "URDNA2015", "format": "application/n-quads", "documentLoader": loader},
        )
        assert not dropped, f"undefined terms: {dropped}"
        return str(nquads).encode()

    (proof,) = credential["proof"]
    assert (proof["type"], proof["cryptosuite"]) == ("DataIntegrityProof", "eddsa-rdfc-2022")
    assert proof["proofPurpose"] == "assertionMethod"
    method = svc_get[proof["verificationMethod"]]
    assert method["type"] == "Multikey"
    assert method["id"] == proof["verificationMethod"]
    controller = svc_get[method["controller"]]
    assert proof["verificationMethod"] in controller["assertionMethod"]
    issuer = credential["issuer"]
    assert (issuer if isinstance(issuer, str) else issuer["id"]) == method["controller"]
    raw = base58.b58decode(method["publicKeyMultibase"][1:])
    assert method["publicKeyMultibase"][0] == "z"
    assert raw[:2] == b"\xed\x01"
    public_key = Ed25519PublicKey.from_public_bytes(raw[2:])

    document = {k: v for k, v in credential.items() if k != "proof"}
    config = {k: v for k, v in proof.items() if k != "proofValue"}
    config["@context"] = credential["@context"]
    hash_data = hashlib.sha256(canon(config)).digest() + hashlib.sha256(canon(document)).digest()
    public_key.verify(base58.b58decode(proof["proofValue"][1:]), hash_data)  # raises if bad


async def fetched(svc: RunningService, *urls: str) -> dict[str, dict[str, Any]]:
    found = {}
    for url in urls:
        r = await svc.client.get(path(url))
        assert r.status_code == 200, (url, r.text)
        found[url] = r.json()
    return found


# -- tests -----------------------------------------------------------------------------------


async def test_an_award_is_signed_once_and_verifies_here_and_with_an_independent_verifier(
    signer_registry, actors: Actors
):
    svc = signer_registry
    decision, doc = await awarded(svc, actors)
    async with svc.runtime.sessions() as session:
        count = await execute_core(
            session,
            sa.select(sa.func.count()).where(credentials.c.enrollment_id == decision.enrollment_id),
        )
        assert count.scalar_one() == 1  # two identical decisions: one credential
    jsonschema.validate(doc, ob3_achievement_credential_schema())
    (proof,) = doc["proof"]
    assert (proof["type"], proof["cryptosuite"]) == ("DataIntegrityProof", "eddsa-rdfc-2022")
    assert proof["verificationMethod"].startswith(doc["issuer"]["id"] + "/keys/key-")
    awarded_at = datetime.fromisoformat(doc["awardedDate"])
    assert datetime.fromisoformat(doc["validUntil"]) == awarded_at + timedelta(days=365)

    # The key resolves at its public URL; the issuer profile lists it as an assertion method.
    documents = await fetched(svc, proof["verificationMethod"], doc["issuer"]["id"])
    key = documents[proof["verificationMethod"]]
    assert key["@context"] == ["https://w3id.org/security/multikey/v1"]
    assert key["controller"] == doc["issuer"]["id"]
    assert key["publicKeyMultibase"].startswith("z6Mk")
    assert proof["verificationMethod"] in documents[doc["issuer"]["id"]]["assertionMethod"]

    independent_verify(documents, doc)

    result = await verify(svc, doc)
    assert (result["verified"], result["status"]) == (True, "valid"), result
    assert result["by_check"] == {
        "schema": "passed",
        "proof": "passed",
        "status": "passed",
        "validity": "passed",
    }

    # The status list credential is signed too, and verifies independently.
    listing_url = doc["credentialStatus"]["statusListCredential"]
    listing = (await svc.client.get(path(listing_url))).json()
    assert listing["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert listing["credentialSubject"]["statusPurpose"] == "revocation"
    independent_verify(documents, listing)


async def test_a_tampered_or_foreign_credential_fails_and_bad_input_is_a_clear_4xx(
    signer_registry, actors: Actors
):
    svc = signer_registry
    _, doc = await awarded(svc, actors)
    for tamper in (
        lambda d: d["credentialSubject"].__setitem__("creditsEarned", 150),
        lambda d: d.__setitem__("validUntil", "2099-01-01T00:00:00Z"),
        lambda d: d["credentialSubject"]["achievement"].__setitem__("name", "Other"),
    ):
        forged = copy.deepcopy(doc)
        tamper(forged)
        result = await verify(svc, forged)
        assert result["verified"] is False
        assert result["status"] == "invalid"
        assert result["by_check"]["proof"] == "failed"
        assert result["by_check"]["schema"] == "passed"

    added = copy.deepcopy(doc)
    added["credentialSubject"]["bonusCredits"] = 10  # a term no context defines
    assert (await verify(svc, added))["by_check"]["proof"] == "failed"

    foreign = copy.deepcopy(doc)
    foreign["proof"][0]["verificationMethod"] = "https://elsewhere.example/keys/1"
    result = await verify(svc, foreign)
    detail = next(c["detail"] for c in result["checks"] if c["check"] == "proof")
    assert result["status"] == "invalid"
    assert "cannot be resolved" in detail

    unsigned = {k: v for k, v in doc.items() if k != "proof"}
    assert (await verify(svc, unsigned))["by_check"]["proof"] == "failed"

    # Another issuer's credential signed with a did:key verifies offline (the key is the DID).
    other = Ed25519PrivateKey.generate()
    did = "did:key:" + proofs.public_key_multibase(other.public_key())
    theirs = {**unsigned, "issuer": {"id": did, "type": ["Profile"], "name": "Other State"}}
    theirs = proofs.sign(theirs, other, f"{did}#{did.removeprefix('did:key:')}", datetime.now(UTC))
    assert (await verify(svc, theirs))["by_check"]["proof"] == "passed"

    client = svc.client
    r = await client.post("/credentials/verify", content=b"{not json")
    assert r.status_code == 422
    assert (await client.post("/credentials/verify", json=[doc])).status_code == 422
    big = {**doc, "description": "x" * 300_000}
    assert (await client.post("/credentials/verify", json=big)).status_code == 413


async def test_revoked_then_suspended_credentials_verify_as_such_and_reinstatement_restores_it(
    signer_registry, actors: Actors
):
    svc = signer_registry
    client = svc.client
    decision, doc = await awarded(svc, actors)
    credential_id = credential_id_for(decision.enrollment_id)
    base = f"/credentials/{credential_id}"

    body = {"reason": "under investigation"}
    assert (await client.post(f"{base}/suspend", json=body)).status_code == 401
    educator = svc.auth("e", Role.EDUCATOR, educator_id=decision.educator_id)
    assert (await client.post(f"{base}/suspend", json=body, headers=educator)).status_code == 403
    for bad in ({}, {"reason": ""}, {"reason": "x", "extra": 1}):
        r = await client.post(f"{base}/suspend", json=bad, headers=actors.admin)
        assert r.status_code == 422, bad
    missing = "/credentials/00000000-0000-0000-0000-000000000000/suspend"
    assert (await client.post(missing, json=body, headers=actors.admin)).status_code == 404
    r = await client.post(f"{base}/reinstate", json={}, headers=actors.admin)
    assert r.status_code == 409  # not suspended
    assert (await verify(svc, doc))["status"] == "valid"  # nothing changed

    r = await client.post(f"{base}/suspend", json=body, headers=actors.admin)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "suspended"
    assert (
        await client.post(f"{base}/suspend", json=body, headers=actors.admin)
    ).status_code == 409
    result = await verify(svc, doc)
    assert (result["verified"], result["status"]) == (False, "suspended")

    index = doc["credentialStatus"]["statusListIndex"]
    suspension_url = doc["credentialStatus"]["statusListCredential"].replace(
        "/revocation-", "/suspension-"
    )
    listing = (await client.get(path(suspension_url))).json()
    assert listing["credentialSubject"]["statusPurpose"] == "suspension"

    r = await client.post(f"{base}/reinstate", json={"reason": "cleared"}, headers=actors.admin)
    assert r.status_code == 200, r.text
    assert (await verify(svc, doc))["status"] == "valid"

    # Revocation is permanent and shows as revoked.
    revoke = {"reason": "plagiarism", "detail": "copied reflection"}
    r = await client.post(f"{base}/revoke", json=revoke, headers=actors.admin)
    assert r.status_code == 200, r.text
    result = await verify(svc, doc)
    assert (result["verified"], result["status"]) == (False, "revoked")
    r = await client.post(f"{base}/suspend", json=body, headers=actors.admin)
    assert r.status_code == 409

    events = await events_on(svc, CREDENTIALS.name, decision.educator_id, at_least=4)
    kinds = [type(e) for _, e in events if not type(e).__name__.startswith("Renewal")]
    assert kinds == [
        CredentialAwarded,
        CredentialSuspended,
        CredentialReinstated,
        CredentialRevoked,
    ]
    suspended = next(e for _, e in events if isinstance(e, CredentialSuspended))
    assert (suspended.credential_id, suspended.reason) == (credential_id, "under investigation")
    assert index == doc["credentialStatus"]["statusListIndex"]

    async with svc.runtime.engine.connect() as conn:
        trail = (
            await conn.execute(
                sa.select(audit.audit_log.c.action)
                .where(audit.audit_log.c.chain == f"educator:{decision.educator_id}")
                .order_by(audit.audit_log.c.seq)
            )
        ).scalars()
        assert [a for a in trail if a.startswith("credential.")] == [
            "credential.awarded",
            "credential.suspended",
            "credential.reinstated",
            "credential.revoked",
        ]
        assert await audit.verify(conn) == []


async def test_a_suspension_with_a_planned_end_is_lifted_once_it_passes(
    signer_registry, actors: Actors
):
    svc = signer_registry
    decision, doc = await awarded(svc, actors)
    credential_id = credential_id_for(decision.enrollment_id)
    until = (CLOCK() + timedelta(days=1)).isoformat()
    body = {"reason": "pending inquiry", "until": until}
    r = await svc.client.post(
        f"/credentials/{credential_id}/suspend", json=body, headers=actors.admin
    )
    assert r.status_code == 200, r.text
    naive = {"reason": "x", "until": "2031-01-01T00:00:00"}
    r = await svc.client.post(
        f"/credentials/{credential_id}/suspend", json=naive, headers=actors.admin
    )
    assert r.status_code == 422
    assert (await verify(svc, doc))["status"] == "suspended"

    async def lifted() -> bool:
        return (await verify(svc, doc))["status"] == "valid"

    try:
        CLOCK.offset = timedelta(days=2)  # the sweep in serve notices the planned end
        assert await wait_until(lifted, 20), "the suspension was not lifted"
    finally:
        CLOCK.offset = timedelta()
    events = await events_on(svc, CREDENTIALS.name, decision.educator_id, at_least=3)
    (reinstated,) = [e for _, e in events if isinstance(e, CredentialReinstated)]
    assert reinstated.reason == "the planned end of the suspension passed"
    suspended = next(e for _, e in events if isinstance(e, CredentialSuspended))
    assert suspended.suspended_until == datetime.fromisoformat(until)


async def test_a_credential_past_its_valid_until_verifies_as_expired(
    signer_registry, actors: Actors
):
    svc = signer_registry
    _, doc = await awarded(svc, actors)
    try:
        CLOCK.offset = timedelta(days=366)
        result = await verify(svc, doc)
    finally:
        CLOCK.offset = timedelta()
    assert (result["verified"], result["status"]) == (False, "expired")
    assert result["by_check"] == {
        "schema": "passed",
        "proof": "passed",
        "status": "passed",
        "validity": "expired",
    }


async def test_a_rotated_key_stops_signing_but_what_it_signed_still_verifies(
    signer_registry, actors: Actors
):
    svc = signer_registry
    _, before = await awarded(svc, actors)
    old_method = before["proof"][0]["verificationMethod"]

    assert (await svc.client.post("/issuer/keys/rotate")).status_code == 401
    issuer = svc.auth("ann", Role.ISSUER, issuer_id=actors.issuer_id)
    assert (await svc.client.post("/issuer/keys/rotate", headers=issuer)).status_code == 403
    r = await svc.client.post("/issuer/keys/rotate", headers=actors.admin)
    assert r.status_code == 201, r.text
    new_key = r.json()
    assert new_key["current"] is True
    assert new_key["verification_method"] != old_method

    _, after = await awarded(svc, actors)
    assert after["proof"][0]["verificationMethod"] == new_key["verification_method"]
    for doc in (before, after):
        assert (await verify(svc, doc))["status"] == "valid"
    documents = await fetched(
        svc, old_method, new_key["verification_method"], before["issuer"]["id"]
    )
    assert {old_method, new_key["verification_method"]} <= set(
        documents[before["issuer"]["id"]]["assertionMethod"]
    )
    independent_verify(documents, before)
    independent_verify(documents, after)
    assert (await svc.client.get("/issuer/keys/key-999")).status_code == 404

    async with svc.runtime.engine.connect() as conn:
        rotations = (
            await conn.execute(
                sa.select(audit.audit_log.c.actor, audit.audit_log.c.object_id).where(
                    audit.audit_log.c.action == "signing_key.rotated"
                )
            )
        ).all()
        assert ("sea-reviewer", new_key["key_id"]) in [tuple(r) for r in rotations]
        # The retired key can no longer sign: its private key is gone, its public key stays.
        old_id = old_method.rsplit("/", 1)[1]
        row = (
            await conn.execute(sa.select(signing_keys).where(signing_keys.c.key_id == old_id))
        ).one()
        assert row.private_key_encrypted is None
        assert row.current is False
        assert row.retired_at is not None


async def test_concurrent_rotations_each_make_a_key_and_leave_exactly_one_current(
    signer_registry, actors: Actors
):
    svc = signer_registry
    responses = await asyncio.gather(
        *(svc.client.post("/issuer/keys/rotate", headers=actors.admin) for _ in range(3))
    )
    assert [r.status_code for r in responses] == [201, 201, 201]
    assert len({r.json()["key_id"] for r in responses}) == 3
    async with svc.runtime.sessions() as session:
        rows = (await execute_core(session, sa.select(signing_keys))).all()
    assert sum(row.current for row in rows) == 1
    profile = (await svc.client.get("/issuer")).json()
    assert len(profile["assertionMethod"]) == len(rows)  # every key ever used stays listed


async def test_migration_0005_downgrades_and_upgrades_again(infra):
    url = await fresh_database_async(infra, "registry_migrations")

    def round_trip() -> None:
        migrations.upgrade(MIGRATIONS, url, "0005")
        command.downgrade(migrations.config(MIGRATIONS, url), "0004")
        migrations.upgrade(MIGRATIONS, url, "0005")

    await asyncio.to_thread(round_trip)


async def test_a_reissued_credential_keeps_its_awarded_date_and_supersedes_the_old_one(
    signer_registry, actors: Actors
):
    svc = signer_registry
    client = svc.client
    decision, old = await awarded(svc, actors)
    old_id = credential_id_for(decision.enrollment_id)
    url = f"/credentials/{old_id}/reissue"
    assert (await client.post(url, json={"reason": ""}, headers=actors.admin)).status_code == 422
    past = {"reason": "x", "valid_until": "2020-01-01T00:00:00Z"}
    assert (await client.post(url, json=past, headers=actors.admin)).status_code == 422
    naive = {"reason": "x", "valid_until": "2031-01-01T00:00:00"}
    assert (await client.post(url, json=naive, headers=actors.admin)).status_code == 422
    new_until = "2031-06-30T23:59:59Z"
    body = {"reason": "corrected achievement title", "valid_until": new_until}
    r = await client.post(url, json=body, headers=actors.admin)
    assert r.status_code == 201, r.text
    new_id = r.json()["credential_id"]
    assert new_id != old_id
    new = (await client.get(f"/credentials/{new_id}")).json()
    assert new["awardedDate"] == old["awardedDate"]
    assert new["validUntil"] == new_until
    assert new["id"] == f"urn:uuid:{new_id}"
    assert new["credentialStatus"]["id"] != old["credentialStatus"]["id"]
    assert new["proof"][0]["proofValue"] != old["proof"][0]["proofValue"]

    assert (await verify(svc, new))["status"] == "valid"
    assert (await verify(svc, old))["status"] == "revoked"  # superseded
    assert (await client.get(f"/credentials/{old_id}")).status_code == 200
    assert (await client.post(url, json=body, headers=actors.admin)).status_code == 409
    revoke = {"reason": "plagiarism"}
    r = await client.post(f"/credentials/{old_id}/revoke", json=revoke, headers=actors.admin)
    assert r.status_code == 409

    events = await events_on(svc, CREDENTIALS.name, decision.educator_id, at_least=2)
    reissued = [e for _, e in events if isinstance(e, CredentialReissued)]
    assert len(reissued) == 1
    assert (reissued[0].credential_id, reissued[0].previous_credential_id) == (new_id, old_id)
    assert reissued[0].awarded_at == decision.decided_at
    assert not [e for _, e in events if isinstance(e, CredentialRevoked)]


def revocation_request(
    decision: Any, kind: MisconductKind, **overrides: Any
) -> RevocationRequested:
    data: dict[str, Any] = {
        "request_id": unique_name("req"),
        "enrollment_id": decision.enrollment_id,
        "submission_id": decision.submission_id,
        "educator_id": decision.educator_id,
        "micro_credential_id": decision.micro_credential_id,
        "kind": kind,
        "detail": "student names visible in the video",
        "approver_id": "approver-1",
        "requested_at": datetime(2026, 4, 1, tzinfo=UTC),
    }
    data.update(overrides)
    return RevocationRequested(**data)


async def test_a_revocation_request_from_review_revokes_the_credential_exactly_once(
    signer_registry, actors: Actors
):
    svc = signer_registry
    decision, doc = await awarded(svc, actors)
    request = revocation_request(decision, MisconductKind.IDENTIFIABLE_STUDENT_DATA)
    first = await publish(svc, request)
    again = await publish(svc, request, event_id=first)  # redelivered
    second_case = await publish(
        svc, revocation_request(decision, MisconductKind.PLAGIARISM)
    )  # another confirmed case for the same enrollment
    assert again == first
    assert await processed(svc, first, second_case)

    events = await events_on(svc, CREDENTIALS.name, decision.educator_id, at_least=2)
    revoked = [e for _, e in events if isinstance(e, CredentialRevoked)]
    assert len(revoked) == 1
    assert revoked[0].reason is RevocationReason.OTHER
    assert revoked[0].reason_detail == (
        "identifiable student data in the evidence: student names visible in the video"
    )
    assert (await verify(svc, doc))["status"] == "revoked"

    # Nothing to revoke: the request goes to the dead-letter topic for an operator.
    orphan = decided("no-such-mc")
    orphan_id = await publish(svc, revocation_request(orphan, MisconductKind.PLAGIARISM))
    dead = await events_on(svc, dlq_topic(REVIEWS.name), orphan.enrollment_id, at_least=1)
    assert orphan_id in {event_id for event_id, _ in dead}


async def test_status_list_json_is_stable_between_reads(signer_registry, actors: Actors):
    """Signed once per change: two reads of an unchanged list are the same document."""
    svc = signer_registry
    _, doc = await awarded(svc, actors)
    url = path(doc["credentialStatus"]["statusListCredential"])
    first, second = (await svc.client.get(url)).json(), (await svc.client.get(url)).json()
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)


# -- a standard third-party verifier: Digital Bazaar's VC stack (Node.js), offline ----------


@pytest.fixture(scope="module")
def node_verifier() -> Path:
    """``services/registry/interop`` installed (``npm ci``, pinned by its lock file) under
    ``.run/``; skipped where Node.js or the npm registry is not available."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js/npm not installed: the third-party verifier cannot run")
    target = ROOT / ".run" / "interop-node"
    target.mkdir(parents=True, exist_ok=True)
    lock = (INTEROP / "package-lock.json").read_bytes()
    with (target / ".install.lock").open("w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)  # another test run installing at the same time
        installed = target / "node_modules" / ".package-lock.json"
        for name in ("package.json", "package-lock.json", "verify.mjs"):
            shutil.copyfile(INTEROP / name, target / name)
        stamp = target / "installed.lock"
        if not (installed.exists() and stamp.exists() and stamp.read_bytes() == lock):
            done = subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=target,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            if done.returncode != 0:
                pytest.skip(f"npm ci failed (no registry?): {done.stderr[-500:]}")
            stamp.write_bytes(lock)
    return target


async def test_a_standard_third_party_verifier_accepts_our_credentials_offline(
    signer_registry, actors: Actors, node_verifier: Path
):
    svc = signer_registry
    _, doc = await awarded(svc, actors)
    method = doc["proof"][0]["verificationMethod"]
    listing_url = doc["credentialStatus"]["statusListCredential"]
    documents = await fetched(svc, method, doc["issuer"]["id"], listing_url)
    tampered = copy.deepcopy(doc)
    tampered["credentialSubject"]["creditsEarned"] = 150
    contexts = {url: str(CONTEXTS / name) for url, name in PINNED.items()}
    contexts[DID_V1] = str(BUNDLED_CONTEXTS[DID_V1])
    bundle = {
        "credentials": [doc, documents[listing_url], tampered],
        "documents": {url: documents[url] for url in (method, doc["issuer"]["id"])},
        "contexts": contexts,
    }
    done = subprocess.run(
        ["node", "verify.mjs"],
        cwd=node_verifier,
        input=json.dumps(bundle),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    ours, status_list, forged = json.loads(done.stdout)
    assert ours == {"verified": True, "errors": []}
    assert status_list == {"verified": True, "errors": []}
    assert forged["verified"] is False
    assert "Invalid signature." in forged["errors"]


PINNED = {
    "https://www.w3.org/ns/credentials/v2": "credentials-v2.jsonld",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json": "ob-context-3.0.3.json",
    "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json": "ob-extensions.json",
    "https://w3id.org/security/multikey/v1": "multikey-v1.jsonld",
}
DID_V1 = "https://www.w3.org/ns/did/v1"
