"""The award pipeline end to end, the four services as separate processes on the
real broker and databases (embedded unless DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS say
otherwise), driven only through their public HTTP APIs and read back from their APIs and the
event streams, never from their tables.

An educator enrolls, submits, is asked for a revision, resubmits and passes; within a bounded
time the registry holds a credential that verifies, renewal credits are posted (when the
registry has its credit ledger), the stipend is on the payments stream and in the district's
payroll export. Then a revocation reverses pay (and credits) and shows in the status list.
"""

from __future__ import annotations

import base64
import gzip
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import jsonschema
import pytest

from mc_devstack.devinfra.common import find_repo_root, run_root
from mc_devstack.pipeline.cluster import Cluster
from mc_devstack.pipeline.driver import Driver, Journey, WorldSpec
from mc_devstack.pipeline.streams import StreamIndex, StreamWatcher
from mc_events.contracts.compensation import PayrollBatchExported
from mc_events.contracts.review import ReviewOutcome
from mc_events.kafka import KafkaSettings
from registry.standards import ob3_achievement_credential_schema

pytestmark = pytest.mark.timeout(420)

WAIT = 60.0
"""Seconds any one effect may take to show up (it takes well under one on an idle machine)."""


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    # Under the repository's .run/ like every test run folder (PostgreSQL's data must not sit
    # in a temp folder that concurrent pytest sessions prune).
    run_dir = run_root(find_repo_root()) / f"e2e-award-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    try:
        with Cluster(run_dir) as running:
            yield running
    finally:
        if not os.environ.get("MC_KEEP_RUN_DIR"):
            shutil.rmtree(run_dir, ignore_errors=True)


@pytest.fixture(scope="module")
async def streams(cluster: Cluster) -> AsyncIterator[StreamWatcher]:
    settings = KafkaSettings(
        bootstrap_servers=cluster.infra.kafka_bootstrap,
        enable_idempotence=cluster.infra.kafka_idempotence,
        fetch_max_wait_ms=20,
    )
    async with StreamWatcher(settings) as watcher:
        yield watcher


@pytest.fixture(scope="module")
async def driver(cluster: Cluster) -> AsyncIterator[Driver]:
    assert cluster.issuer is not None
    async with Driver(cluster.urls, cluster.issuer, retry_for=30) as client:
        yield client


CREDITS_PATH = "/educators/{educator_id}/renewal-credits"


async def renewal_balance(driver: Driver, educator_id: str) -> Decimal:
    """The educator's renewal credits over every certificate cycle, as the registry reports."""
    r = await driver.call(
        "GET", "registry", f"/educators/{educator_id}/renewal-credits", headers=driver.admin
    )
    return sum((Decimal(str(c["renewal_credits"])) for c in r.json()["cycles"]), Decimal(0))


def status_bit(status_list: dict[str, Any], index: int) -> bool:
    """Bit ``index`` of a Bitstring Status List credential (multibase base64url, gzip)."""
    encoded = status_list["credentialSubject"]["encodedList"]
    assert encoded.startswith("u"), "multibase base64url without padding"
    raw = encoded[1:]
    bits = gzip.decompress(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    return bool(bits[index // 8] >> (7 - index % 8) & 1)


async def test_an_educator_earns_after_a_revision_is_paid_and_a_revocation_reverses_it(
    cluster: Cluster, streams: StreamWatcher, driver: Driver
):
    world = await driver.seed(WorldSpec(districts=2, educators=2, assessors=2))
    educator = world.educators[0]
    journey = Journey(educator)

    # -- the educator's story, through enrollment and review ------------------------------
    await driver.earn(world, journey, revision=True, within=WAIT)
    assert [outcome for _, outcome in journey.decisions] == [
        ReviewOutcome.REVISION_REQUESTED,
        ReviewOutcome.PASSED,
    ]
    await driver.wait_status(journey, "earned", WAIT)
    enrollment_id = journey.enrollment_id
    assert enrollment_id is not None

    decisions = await streams.wait_for(
        lambda ix: len(ix.decisions[enrollment_id]) >= 2 and ix.decisions[enrollment_id],
        WAIT,
        "both review decisions on review.reviews",
    )
    assert [d.outcome for d in decisions] == [
        ReviewOutcome.REVISION_REQUESTED,
        ReviewOutcome.PASSED,
    ]
    assert decisions[1].decision_id == journey.decisions[1][0]

    # -- the registry: one credential, public, valid OB 3.0, verifiable ------------------
    awards = await streams.wait_for(
        lambda ix: ix.awards.get(enrollment_id), WAIT, "CredentialAwarded on registry.credentials"
    )
    assert len(awards) == 1, "one credential per passed review"
    award = awards[0]
    assert award.educator_id == educator.educator_id
    assert award.district_id == educator.district_id
    assert award.decision_id == decisions[1].decision_id
    credential_id = award.credential_id

    document = await driver.credential(credential_id)
    assert "OpenBadgeCredential" in document["type"]
    assert document["credentialSubject"]["achievement"]["name"] == "Wait Time After Questioning"
    jsonschema.validate(document, ob3_achievement_credential_schema())
    registry_paths = await driver.openapi_paths("registry")
    if "/credentials/verify" in registry_paths:
        r = await driver.call(
            "POST", "registry", "/credentials/verify", headers={}, json=document, expect=(200,)
        )
        assert r.json()["verified"] is True, r.json()

    # -- compensation: the stipend on the stream, the ledger and the payroll export ------
    stipends = await streams.wait_for(
        lambda ix: ix.stipends.get(credential_id), WAIT, "StipendApproved on payments"
    )
    assert len(stipends) == 1, "one stipend per award"
    stipend = stipends[0]
    assert stipend.amount_cents == world.stipend_cents
    assert stipend.district_id == educator.district_id
    ledger = await driver.educator_stipends(educator.educator_id)
    assert ledger["balance_cents"] == world.stipend_cents
    assert [e["entry_id"] for e in ledger["entries"]] == [stipend.ledger_entry_id]

    today = datetime.now(UTC).date()
    export = await driver.payroll_export(
        educator.district_id, f"PP-{world.tag}-1", str(today - timedelta(days=13)), str(today)
    )
    lines = [e for e in export["entries"] if e["educator_id"] == educator.educator_id]
    assert [(e["idempotency_key"], e["amount_cents"]) for e in lines] == [
        (stipend.ledger_entry_id, world.stipend_cents)
    ]
    exported: PayrollBatchExported = await streams.wait_for(
        lambda ix: ix.batches.get(export["batch_id"]), WAIT, "PayrollBatchExported on payroll"
    )
    assert exported.total_cents == export["total_cents"] == world.stipend_cents

    # -- renewal credits, where the registry keeps the ledger ----------------------------
    credits_tracked = CREDITS_PATH in registry_paths
    if credits_tracked:
        postings = await streams.wait_for(
            lambda ix: ix.credit_postings.get(credential_id), WAIT, "RenewalCreditsPosted"
        )
        assert len(postings) == 1
        assert postings[0].renewal_credits > 0
        assert await renewal_balance(driver, educator.educator_id) == postings[0].renewal_credits

    # -- revocation: status list bit set, stipend clawed back (and credits reversed) ----
    await driver.revoke(credential_id)
    revoked = await streams.wait_for(
        lambda ix: ix.revocations.get(credential_id), WAIT, "CredentialRevoked"
    )
    assert len(revoked) == 1
    reversals = await streams.wait_for(
        lambda ix: ix.reversals.get(credential_id), WAIT, "StipendReversed on payments"
    )
    assert len(reversals) == 1
    assert reversals[0].original_entry_id == stipend.ledger_entry_id
    assert reversals[0].amount_cents == -world.stipend_cents
    ledger = await driver.educator_stipends(educator.educator_id)
    assert ledger["balance_cents"] == 0

    entry = (await driver.credential(credential_id))["credentialStatus"]
    entries = entry if isinstance(entry, list) else [entry]
    revocation_entry = next(e for e in entries if e["statusPurpose"] == "revocation")
    list_url = revocation_entry["statusListCredential"]
    r = await driver.client.get(list_url)
    assert r.status_code == 200, r.text
    assert status_bit(r.json(), int(revocation_entry["statusListIndex"])), "revoked bit set"

    # The next pay period's export carries the clawback as its own negative line.
    clawback = await driver.payroll_export(
        educator.district_id,
        f"PP-{world.tag}-2",
        str(today + timedelta(days=1)),
        str(today + timedelta(days=14)),
    )
    assert [
        (e["idempotency_key"], e["amount_cents"])
        for e in clawback["entries"]
        if e["educator_id"] == educator.educator_id
    ] == [(reversals[0].reversal_entry_id, -world.stipend_cents)]

    if credits_tracked:
        postings = await streams.wait_for(
            lambda ix: (
                len(ix.credit_postings[credential_id]) >= 2 and ix.credit_postings[credential_id]
            ),
            WAIT,
            "the reversing RenewalCreditsPosted",
        )
        assert sum(p.renewal_credits for p in postings) == 0
        assert postings[1].reverses_entry_id == postings[0].ledger_entry_id
        assert await renewal_balance(driver, educator.educator_id) == 0
    if "/credentials/verify" in registry_paths:
        r = await driver.call(
            "POST",
            "registry",
            "/credentials/verify",
            headers={},
            json=await driver.credential(credential_id),
            expect=(200,),
        )
        assert r.json()["verified"] is False, "a revoked credential no longer verifies"

    # -- exactly once, after everything had time to be redelivered ---------------------
    index: StreamIndex = streams.index
    assert len(index.awards[enrollment_id]) == 1
    assert len(index.stipends[credential_id]) == 1
    assert len(index.revocations[credential_id]) == 1
    assert len(index.reversals[credential_id]) == 1
    assert not index.deferrals.get(credential_id)
    # Nothing dead-lettered, nothing undecodable.
    assert not index.dead_letters, index.dead_letters[:3]
    assert index.undecodable == 0
