"""POST /credentials/verify/batch: up to 100 credentials in one request, each reported exactly
as POST /credentials/verify reports it, in the order sent (this registry's own credentials and
another issuer's mixed); a body that is not a batch gets a 422 that says why."""

# The fixtures are imported from registry_it (no conftest.py here), so test parameters
# redefine them.
# ruff: noqa: F811

from __future__ import annotations

import copy
from typing import Any

from registry_it import (  # noqa: F401  (actors, registry: fixtures)
    Actors,
    actors,
    decided,
    mc_spec_data,
    processed,
    publish,
    registry,
)

from mc_devstack.testing import RunningService
from registry.domain.awards import credential_id_for
from registry.entrypoints.api.credentials import MAX_BATCH


async def _awarded(svc: RunningService, actors: Actors, mc: Any) -> tuple[str, dict[str, Any]]:
    decision = decided(mc)
    assert await processed(svc, await publish(svc, decision))
    credential_id = credential_id_for(decision.enrollment_id)
    return credential_id, (await svc.client.get(f"/credentials/{credential_id}")).json()


async def _one_by_one(svc: RunningService, documents: list[Any]) -> list[Any]:
    answers = []
    for document in documents:
        r = await svc.client.post("/credentials/verify", json=document)
        assert r.status_code == 200, r.text
        answers.append(r.json())
    return answers


async def test_a_batch_reports_each_credential_as_a_single_verification_does_in_order(
    registry: RunningService, actors: Actors
):
    svc = registry
    mc = await actors.published_mc(mc_spec_data())
    _, valid = await _awarded(svc, actors, mc)
    revoked_id, revoked = await _awarded(svc, actors, mc)
    r = await svc.client.post(
        f"/credentials/{revoked_id}/revoke",
        json={"reason": "issued_in_error", "detail": "wrong educator"},
        headers=actors.admin,
    )
    assert r.status_code == 200, r.text
    tampered = {**valid, "name": valid["name"] + " (copy)"}
    elsewhere = copy.deepcopy(valid)  # names another issuer's list: read apart, never valid
    elsewhere["credentialStatus"]["statusListCredential"] = "https://elsewhere.example/status/1"
    documents = [valid, tampered, revoked, elsewhere, valid]

    r = await svc.client.post("/credentials/verify/batch", json={"credentials": documents})
    assert r.status_code == 200, r.text
    results = r.json()["results"]

    assert [(x["verified"], x["status"]) for x in results] == [
        (True, "valid"),
        (False, "invalid"),
        (False, "revoked"),
        (False, "invalid"),
        (True, "valid"),
    ]
    assert results == await _one_by_one(svc, documents)


async def test_a_body_that_is_not_a_batch_gets_a_422_saying_why(
    registry: RunningService, actors: Actors
):
    svc = registry
    cases = {
        "not JSON": b"{nope",
        "a list": b"[]",
        "no credentials": b'{"documents": []}',
        "empty": b'{"credentials": []}',
        "too many": b'{"credentials": [' + b",".join([b"{}"] * (MAX_BATCH + 1)) + b"]}",
        "not objects": b'{"credentials": [{}, 3, "x"]}',
    }
    details = {}
    for case, body in cases.items():
        r = await svc.client.post(
            "/credentials/verify/batch",
            content=body,
            headers={"content-type": "application/json"},
        )
        assert r.status_code == 422, (case, r.text)
        details[case] = r.json()["detail"]
    assert "not JSON" in details["not JSON"]
    assert all("1 to 100 credentials" in details[c] for c in ("a list", "empty", "too many"))
    assert details["not objects"] == "a credential is a JSON object: not so at [1, 2]"
