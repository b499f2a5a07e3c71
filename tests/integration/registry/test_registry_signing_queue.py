"""Awards are signed after they commit: the award and its ``credential_awarded`` event never wait
on signing; the signer worker (or the first reader) adds the proof, exactly once, and whatever
anyone reads is signed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from registry_it import Actors, decided, events_on, mc_spec_data, processed, publish

from mc_devstack.testing import RunningService, running_service
from mc_events.contracts.registry import CredentialAwarded
from mc_events.db import execute_core
from mc_events.topics import CREDENTIALS
from registry.adapters.tables import credentials
from registry.bootstrap import build
from registry.config import Settings
from registry.domain.awards import credential_id_for
from registry.service_layer.credentials import sign_backlog
from registry.service_layer.issuing import Issuance, sign_awaiting
from registry.service_layer.unit_of_work import UnitOfWork


@pytest.fixture(scope="module")
async def paused_signer(infra, tmp_path_factory) -> AsyncIterator[RunningService]:
    """The signer worker runs once at start-up, then not again during these tests: what is
    signed, the tests sign (as the worker would) or readers sign."""
    async with running_service(
        build,
        Settings,
        infra,
        signing_interval_seconds=3600,
    ) as svc:
        yield svc


@pytest.fixture
async def actors(paused_signer) -> Actors:
    actors = Actors(paused_signer)
    await actors.register_issuer()
    return actors


async def award(svc: RunningService, actors: Actors) -> tuple[str, str]:
    """A passed decision through the consumer: (credential id, educator id)."""
    mc_id = await actors.published_mc(mc_spec_data())
    decision = decided(mc_id)
    assert await processed(svc, await publish(svc, decision))
    return credential_id_for(decision.enrollment_id), decision.educator_id


async def stored(svc: RunningService, credential_id: str) -> tuple[dict[str, Any], Any]:
    async with svc.runtime.sessions() as session:
        row = (
            await execute_core(
                session,
                sa.select(credentials.c.document, credentials.c.signed_at).where(
                    credentials.c.credential_id == credential_id
                ),
            )
        ).one()
    return row.document, row.signed_at


def worker_pass(svc: RunningService) -> Awaitable[int]:
    """One pass of the signer worker's job, as ``serve`` runs it (same issuer key vault: the
    development one these services use)."""
    return sign_backlog(UnitOfWork(svc.runtime.sessions), issuance_of(svc), now, 2)


def issuance_of(svc: RunningService) -> Issuance:
    """The service's issuance, with a key vault of its own (the same development KEK)."""
    issuance = svc.definition.issuance  # type: ignore[attr-defined]
    assert isinstance(issuance, Issuance)
    return Issuance(issuance.urls)


def now() -> datetime:
    return datetime.now(UTC)


async def test_the_award_and_its_event_commit_without_a_signature_and_the_worker_signs_later(
    paused_signer, actors
):
    svc = paused_signer
    credential_id, educator_id = await award(svc, actors)

    document, signed_at = await stored(svc, credential_id)
    assert signed_at is None
    assert "proof" not in document
    events = await events_on(svc, CREDENTIALS.name, educator_id, at_least=1)
    assert any(
        isinstance(e, CredentialAwarded) and e.credential_id == credential_id for _, e in events
    )

    assert await worker_pass(svc) >= 1
    document, signed_at = await stored(svc, credential_id)
    assert signed_at is not None
    assert len(document["proof"]) == 1
    assert await worker_pass(svc) == 0  # nothing left: a second pass signs nothing again

    verified = await svc.client.post("/credentials/verify", json=document)
    assert verified.json()["verified"] is True, verified.text


async def test_a_reader_gets_a_signed_credential_even_before_the_worker_ran(paused_signer, actors):
    svc = paused_signer
    credential_id, _educator_id = await award(svc, actors)

    r = await svc.client.get(f"/credentials/{credential_id}")
    assert r.status_code == 200
    served = r.json()
    assert len(served["proof"]) == 1
    assert (await svc.client.post("/credentials/verify", json=served)).json()["verified"] is True
    document, signed_at = await stored(svc, credential_id)
    assert signed_at is not None
    assert document == served
    assert await worker_pass(svc) == 0

    again = await svc.client.get(f"/credentials/{credential_id}")
    assert again.json() == served  # read twice: the same proof, not a second signature


async def test_signer_and_readers_racing_sign_each_credential_exactly_once(paused_signer, actors):
    svc = paused_signer
    awarded = [await award(svc, actors) for _ in range(4)]

    async def read(credential_id: str) -> dict[str, Any]:
        r = await svc.client.get(f"/credentials/{credential_id}")
        assert r.status_code == 200, r.text
        return dict(r.json())

    reads = [read(cid) for cid, _ in awarded for _ in range(2)]
    results = await asyncio.gather(worker_pass(svc), worker_pass(svc), *reads)
    served = results[2:]
    for credential_id, _ in awarded:
        document, signed_at = await stored(svc, credential_id)
        assert signed_at is not None
        assert len(document["proof"]) == 1
        copies = [d for d in served if d["id"] == document["id"]]
        assert copies
        assert all(d == document for d in copies)


async def test_a_signing_transaction_that_fails_leaves_the_credential_waiting(
    paused_signer, actors
):
    svc = paused_signer
    credential_id, _ = await award(svc, actors)

    async def sign_then_crash() -> None:
        async with UnitOfWork(svc.runtime.sessions) as uow:
            signed = await sign_awaiting(uow, issuance_of(svc), now(), credential_id=credential_id)
            assert signed == 1
            raise RuntimeError("crash before commit")

    with pytest.raises(RuntimeError, match="crash"):
        await sign_then_crash()
    _document, signed_at = await stored(svc, credential_id)
    assert signed_at is None  # rolled back with the transaction: still in the queue
    assert await worker_pass(svc) >= 1
    document, signed_at = await stored(svc, credential_id)
    assert signed_at is not None
    assert len(document["proof"]) == 1
