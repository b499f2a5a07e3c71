"""POST /credentials/verify with warm verification memos, on a real broker and database: the
same credential verified again is served from the proof memo, and a revocation shows as
revoked on the very next verification (the status list is read fresh every time)."""

# The fixtures are imported from registry_it (no conftest.py here), so test parameters
# redefine them.
# ruff: noqa: F811

from __future__ import annotations

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
from registry.domain import proof_cache
from registry.domain.awards import credential_id_for


async def verify(svc: RunningService, doc: dict[str, Any]) -> tuple[bool, str]:
    r = await svc.client.post("/credentials/verify", json=doc)
    assert r.status_code == 200, r.text
    return r.json()["verified"], r.json()["status"]


async def test_a_credential_verified_from_the_memo_is_revoked_on_the_next_verification(
    registry: RunningService, actors: Actors
):
    svc = registry
    decision = decided(await actors.published_mc(mc_spec_data()))
    assert await processed(svc, await publish(svc, decision))
    credential_id = credential_id_for(decision.enrollment_id)
    doc = (await svc.client.get(f"/credentials/{credential_id}")).json()

    assert await verify(svc, doc) == (True, "valid")
    hits = proof_cache.VERIFIED_PROOFS.hits
    assert await verify(svc, doc) == (True, "valid")
    assert proof_cache.VERIFIED_PROOFS.hits > hits  # warm: the proof was not checked again

    r = await svc.client.post(
        f"/credentials/{credential_id}/revoke",
        json={"reason": "issued_in_error", "detail": "wrong educator"},
        headers=actors.admin,
    )
    assert r.status_code == 200, r.text
    assert await verify(svc, doc) == (False, "revoked")
    assert await verify(svc, doc) == (False, "revoked")

    tampered = {**doc, "name": doc["name"] + " (copy)"}
    verified, status = await verify(svc, tampered)
    assert (verified, status) == (False, "invalid")
