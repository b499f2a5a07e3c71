"""Awards on a real broker and database: review decisions arrive on ``review.reviews``, the
registry records exactly one credential per enrollment, emits ``credential_awarded``, serves
the Open Badges 3.0 document, and revokes it through the status list."""

# The fixtures are imported from registry_it (no conftest.py here: it would shadow the
# ``conftest`` module other integration tests import), so test parameters redefine them.
# ruff: noqa: F811

from __future__ import annotations

from urllib.parse import urlsplit

import jsonschema
import sqlalchemy as sa
from registry_it import (  # noqa: F401  (actors, registry: fixtures)
    Actors,
    actors,
    decided,
    enrolled,
    events_on,
    mc_spec_data,
    processed,
    publish,
    registry,
    results,
)

from mc_events.consumer import wait_until
from mc_events.contracts.common import Purpose
from mc_events.contracts.registry import (
    CredentialAwarded,
    CredentialRevoked,
    RenewalCreditsPosted,
)
from mc_events.contracts.review import ReviewOutcome
from mc_events.db import execute_core
from mc_events.storage import outbox
from mc_events.topics import CREDENTIALS, REVIEWS, dlq_topic
from mc_platform import audit
from mc_platform.auth import Role
from registry.adapters.tables import credentials
from registry.domain import status_list
from registry.domain.awards import credential_id_for
from registry.standards import ob3_achievement_credential_schema


async def credential_doc(registry, enrollment_id: str) -> dict:
    url = f"/credentials/{credential_id_for(enrollment_id)}"

    async def ready() -> bool:
        return (await registry.client.get(url)).status_code == 200

    assert await wait_until(ready, 20), "no credential was recorded"
    return dict((await registry.client.get(url)).json())


async def credentials_for(registry, enrollment_id: str) -> int:
    async with registry.runtime.sessions() as session:
        rows = await execute_core(
            session,
            sa.select(sa.func.count()).where(credentials.c.enrollment_id == enrollment_id),
        )
        return int(rows.scalar_one())


async def test_a_passed_decision_becomes_a_valid_open_badge_and_a_credential_awarded_event(
    registry, actors: Actors
):
    mc_id = await actors.published_mc(mc_spec_data())
    decision = decided(mc_id, results=results(planning="exemplary"))
    # Enrolment comes months before the decision: the registry has recorded it by then.
    assert await processed(
        registry, await publish(registry, enrolled(decision, Purpose.CURATED_PD))
    )
    assert await processed(registry, await publish(registry, decision))

    doc = await credential_doc(registry, decision.enrollment_id)
    jsonschema.validate(doc, ob3_achievement_credential_schema())
    subject = doc["credentialSubject"]
    assert subject["achievement"]["achievementType"] == "MicroCredential"
    assert subject["achievement"]["creator"]["name"] == "Provider"
    assert subject["creditsEarned"] == 15
    assert any(r["achievedLevel"].endswith("level-exemplary") for r in subject["result"])
    assert decision.educator_id not in str(doc)
    assert doc["evidence"][0]["id"].endswith(
        f"/enrollments/{decision.enrollment_id}/submissions/{decision.submission_id}"
    )
    assert doc["credentialStatus"]["type"] == "BitstringStatusListEntry"

    # The issuer and achievement URLs on the credential resolve to public documents.
    profile = (await registry.client.get("/issuer")).json()
    assert profile["id"] == doc["issuer"]["id"]
    assert profile["type"] == ["Profile"]
    achievement_path = urlsplit(subject["achievement"]["id"]).path
    achievement = (await registry.client.get(achievement_path)).json()
    assert (achievement["id"], achievement["version"]) == (mc_id, 1)

    ((_, event),) = await events_on(registry, CREDENTIALS.name, decision.educator_id, at_least=1)
    assert isinstance(event, CredentialAwarded)
    assert event.credential_id == credential_id_for(decision.enrollment_id)
    assert (event.enrollment_id, event.decision_id) == (
        decision.enrollment_id,
        decision.decision_id,
    )
    assert event.purpose is Purpose.CURATED_PD  # what the educator enrolled for
    assert (event.issuer_id, event.achievement_name) == (
        actors.issuer_id,
        "Wait Time After Questioning",
    )
    assert str(event.credential_url).endswith(f"/credentials/{event.credential_id}")
    assert event.results == decision.results
    assert event.awarded_at == decision.decided_at


async def test_a_redelivered_or_duplicated_decision_changes_nothing(registry, actors: Actors):
    mc_id = await actors.published_mc(mc_spec_data())
    decision = decided(mc_id)
    first = await publish(registry, decision)
    redelivered = await publish(registry, decision, event_id=first)  # same event again
    # A second passing decision for the same enrollment (another event, another decision id).
    second = await publish(
        registry,
        decided(mc_id, enrollment_id=decision.enrollment_id, educator_id=decision.educator_id),
    )
    assert redelivered == first
    assert await processed(registry, first, second)

    assert await credentials_for(registry, decision.enrollment_id) == 1
    async with registry.runtime.sessions() as session:
        outgoing = await execute_core(
            session,
            sa.select(outbox.c.event_type).where(outbox.c.partition_key == decision.educator_id),
        )
        # One award, and its renewal credits posted once (licensure, 0006).
        assert sorted(row.event_type for row in outgoing) == sorted(
            [CredentialAwarded.ce_type(), RenewalCreditsPosted.ce_type()]
        )
    events = await events_on(registry, CREDENTIALS.name, decision.educator_id, at_least=2)
    assert [type(e) for _, e in events] == [CredentialAwarded, RenewalCreditsPosted]
    awarded = events[0][1]
    assert isinstance(awarded, CredentialAwarded)
    assert awarded.decision_id == decision.decision_id  # the first decision won
    # Without an enrollment on record, the award counts for license renewal (allowed here).
    assert awarded.purpose is Purpose.LICENSE_RENEWAL


async def test_only_passed_decisions_are_awarded(registry, actors: Actors):
    mc_id = await actors.published_mc(mc_spec_data())
    decision = decided(
        mc_id, outcome=ReviewOutcome.REVISION_REQUESTED, results=results(planning="emerging")
    )
    assert await processed(registry, await publish(registry, decision))
    assert await credentials_for(registry, decision.enrollment_id) == 0


async def test_a_decision_for_an_unknown_or_unapproved_micro_credential_is_dead_lettered(
    registry, actors: Actors
):
    draft_id = await actors.draft_mc(mc_spec_data())  # never approved
    unknown = decided("no-such-micro-credential")
    unapproved = decided(draft_id)
    ids = {await publish(registry, unknown), await publish(registry, unapproved)}

    for decision in (unknown, unapproved):
        dead = await events_on(
            registry, dlq_topic(REVIEWS.name), decision.enrollment_id, at_least=1
        )
        assert {event_id for event_id, _ in dead} & ids
        assert await credentials_for(registry, decision.enrollment_id) == 0
    assert (
        await registry.client.get(f"/credentials/{credential_id_for(unapproved.enrollment_id)}")
    ).status_code == 404


async def test_state_admin_revokes_a_credential_which_flips_its_status_bit(
    registry, actors: Actors
):
    mc_id = await actors.published_mc(mc_spec_data())
    decision = decided(mc_id)
    await publish(registry, decision)
    doc = await credential_doc(registry, decision.enrollment_id)
    credential_id = credential_id_for(decision.enrollment_id)
    index = int(doc["credentialStatus"]["statusListIndex"])

    url = f"/credentials/{credential_id}/revoke"
    body = {"reason": "plagiarism", "detail": "reflection copied from a published source"}
    client = registry.client
    assert (await client.post(url, json=body)).status_code == 401
    educator = registry.auth("e", Role.EDUCATOR, educator_id=decision.educator_id)
    assert (await client.post(url, json=body, headers=educator)).status_code == 403
    bad = {"reason": "bad vibes"}
    assert (await client.post(url, json=bad, headers=actors.admin)).status_code == 422
    missing = "/credentials/00000000-0000-0000-0000-000000000000/revoke"
    assert (await client.post(missing, json=body, headers=actors.admin)).status_code == 404

    status_url = urlsplit(doc["credentialStatus"]["statusListCredential"]).path

    async def revoked_bit() -> bool:
        listing = (await client.get(status_url)).json()
        assert listing["credentialSubject"]["statusPurpose"] == "revocation"
        return status_list.get_bit(
            status_list.decode(listing["credentialSubject"]["encodedList"]), index
        )

    assert not await revoked_bit()

    r = await client.post(url, json=body, headers=actors.admin)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["reason"]) == ("revoked", "plagiarism")
    assert (await client.post(url, json=body, headers=actors.admin)).status_code == 409

    assert await revoked_bit()  # the public status list now says revoked

    found = await events_on(registry, CREDENTIALS.name, decision.educator_id, at_least=4)
    # Renewal-credit postings (the award's, then its reversal) ride the same key.
    events = [(i, e) for i, e in found if not isinstance(e, RenewalCreditsPosted)]
    assert [type(e) for _, e in events] == [CredentialAwarded, CredentialRevoked]
    revoked = events[1][1]
    assert isinstance(revoked, CredentialRevoked)
    assert (revoked.credential_id, revoked.reason_detail) == (
        credential_id,
        "reflection copied from a published source",
    )
    # The document stays public: verifiers learn the revocation from the status list.
    assert (await client.get(f"/credentials/{credential_id}")).status_code == 200


async def test_each_award_gets_its_own_status_list_index(registry, actors: Actors):
    mc_id = await actors.published_mc(mc_spec_data())
    first, second = decided(mc_id), decided(mc_id)
    await publish(registry, first)
    await publish(registry, second)
    a = await credential_doc(registry, first.enrollment_id)
    b = await credential_doc(registry, second.enrollment_id)
    assert a["credentialStatus"]["id"] != b["credentialStatus"]["id"]


async def test_award_and_revocation_are_on_the_educators_tamper_evident_trail(
    registry, actors: Actors
):
    mc_id = await actors.published_mc(mc_spec_data())
    decision = decided(mc_id)
    await publish(registry, decision)
    await credential_doc(registry, decision.enrollment_id)
    credential_id = credential_id_for(decision.enrollment_id)
    body = {"reason": "plagiarism", "detail": "copied reflection"}
    revoke = await registry.client.post(
        f"/credentials/{credential_id}/revoke", json=body, headers=actors.admin
    )
    assert revoke.status_code == 200, revoke.text

    async with registry.runtime.engine.connect() as conn:
        trail = (
            await conn.execute(
                sa.select(audit.audit_log.c.action, audit.audit_log.c.object_id)
                .where(audit.audit_log.c.chain == f"educator:{decision.educator_id}")
                .order_by(audit.audit_log.c.seq)
            )
        ).all()
        assert [tuple(row) for row in trail] == [
            ("credential.awarded", credential_id),
            ("credential.revoked", credential_id),
        ]
        approvals = (
            await conn.execute(
                sa.select(sa.func.count())
                .select_from(audit.audit_log)
                .where(audit.audit_log.c.action == "catalog.approved")
            )
        ).scalar_one()
        assert approvals >= 1
        assert await audit.verify(conn) == []
