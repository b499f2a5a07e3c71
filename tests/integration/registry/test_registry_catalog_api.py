"""The catalog over HTTP, on a real database and broker: issuers draft and submit, the state
approves, rejects and retires, catalog events reach the topic, and anyone searches the
approved catalog."""

# The fixtures are imported from registry_it (no conftest.py here: it would shadow the
# ``conftest`` module other integration tests import), so test parameters redefine them.
# ruff: noqa: F811

from __future__ import annotations

import asyncio
from decimal import Decimal

from registry_it import (  # noqa: F401  (actors, registry: fixtures)
    Actors,
    actors,
    events_on,
    mc_spec_data,
    registry,
    stack_spec_data,
)

from mc_devstack.testing import unique_name
from mc_events.contracts.catalog import (
    MicroCredentialPublished,
    MicroCredentialRetired,
    StackPublished,
    StackRetired,
)
from mc_events.contracts.common import Purpose
from mc_events.topics import CATALOG
from mc_platform.auth import Role


async def test_issuer_drafts_state_approves_and_the_published_event_carries_the_definition(
    registry, actors: Actors
):
    client = registry.client
    mc_id = await actors.draft_mc(mc_spec_data())
    assert (await client.get(f"/achievements/{mc_id}")).status_code == 404  # a draft is private

    edited = mc_spec_data(title="Wait Time, Deliberately")
    r = await client.put(
        f"/micro-credentials/{mc_id}/versions/1", json=edited, headers=actors.issuer
    )
    assert r.status_code == 200, r.text
    r = await client.post(f"/micro-credentials/{mc_id}/versions/1/submit", headers=actors.issuer)
    assert r.json()["status"] == "submitted"
    assert (await client.get(f"/achievements/{mc_id}")).status_code == 404  # not yet approved

    r = await client.post(
        f"/micro-credentials/{mc_id}/versions/1/approve",
        json={"reason": "meets the state's quality standards"},
        headers=actors.admin,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["status"], body["enrollable"]) == ("approved", True)
    approval = body["history"][-1]
    assert (approval["action"], approval["actor"], approval["reason"]) == (
        "approve",
        "sea-reviewer",
        "meets the state's quality standards",
    )

    public = (await client.get(f"/achievements/{mc_id}")).json()
    assert public["title"] == "Wait Time, Deliberately"
    assert public["issuer_id"] == actors.issuer_id

    ((_, event),) = await events_on(registry, CATALOG.name, mc_id, at_least=1)
    assert isinstance(event, MicroCredentialPublished)
    assert (event.micro_credential_id, event.micro_credential_version) == (mc_id, 1)
    assert event.issuer_id == actors.issuer_id
    assert event.title == "Wait Time, Deliberately"
    assert [c.required_level_id for c in event.rubric] == ["proficient", "proficient"]
    assert event.credits.value == Decimal("15")
    assert (event.attempt_cap, event.completion_window_days, event.cooldown_days) == (3, 180, 30)
    assert (event.fee.amount_cents, event.fee.payer.value) == (4000, "district")
    assert event.allowed_purposes == (Purpose.LICENSE_RENEWAL, Purpose.CURATED_PD)


async def test_rejection_sends_it_back_to_draft_with_the_reason_and_publishes_nothing(
    registry, actors: Actors
):
    client = registry.client
    mc_id = await actors.draft_mc(mc_spec_data())
    base = f"/micro-credentials/{mc_id}/versions/1"
    await client.post(f"{base}/submit", headers=actors.issuer)

    r = await client.post(f"{base}/reject", json={"reason": ""}, headers=actors.admin)
    assert r.status_code == 422  # a rejection must say why
    r = await client.post(
        f"{base}/reject", json={"reason": "levels are not observable"}, headers=actors.admin
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "draft"
    assert r.json()["history"][-1]["reason"] == "levels are not observable"

    # The issuer sees the reason, fixes the draft, resubmits; the state approves.
    r = await client.get(base, headers=actors.issuer)
    assert r.json()["history"][-1]["reason"] == "levels are not observable"
    await actors.approve_mc(mc_id)
    events = await events_on(registry, CATALOG.name, mc_id, at_least=1)
    assert [type(e) for _, e in events] == [MicroCredentialPublished]


async def test_retirement_emits_the_retired_event_and_leaves_the_public_catalog(
    registry, actors: Actors
):
    client = registry.client
    mc_id = await actors.published_mc(mc_spec_data())
    base = f"/micro-credentials/{mc_id}/versions/1"
    r = await client.post(f"{base}/retire", json={"reason": "superseded"}, headers=actors.admin)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["enrollable"]) == ("retired", False)
    assert (await client.get(f"/achievements/{mc_id}")).status_code == 404

    events = await events_on(registry, CATALOG.name, mc_id, at_least=2)
    assert [type(e) for _, e in events] == [MicroCredentialPublished, MicroCredentialRetired]
    retired = events[1][1]
    assert isinstance(retired, MicroCredentialRetired)
    assert retired.reason == "superseded"


async def test_a_new_version_is_a_draft_while_the_catalog_keeps_the_approved_one(
    registry, actors: Actors
):
    client = registry.client
    mc_id = await actors.published_mc(mc_spec_data())
    r = await client.post(f"/micro-credentials/{mc_id}/versions", headers=actors.issuer)
    assert r.status_code == 201, r.text
    assert (r.json()["version"], r.json()["status"]) == (2, "draft")
    # Only one open version at a time.
    r = await client.post(f"/micro-credentials/{mc_id}/versions", headers=actors.issuer)
    assert r.status_code == 409

    await client.put(
        f"/micro-credentials/{mc_id}/versions/2",
        json=mc_spec_data(title="Wait Time v2"),
        headers=actors.issuer,
    )
    public = (await client.get(f"/achievements/{mc_id}")).json()
    assert (public["version"], public["title"]) == (1, "Wait Time After Questioning")

    await actors.approve_mc(mc_id, version=2)
    public = (await client.get(f"/achievements/{mc_id}")).json()
    assert (public["version"], public["title"]) == (2, "Wait Time v2")
    events = await events_on(registry, CATALOG.name, mc_id, at_least=2)
    versions = [
        e.micro_credential_version for _, e in events if isinstance(e, MicroCredentialPublished)
    ]
    assert versions == [1, 2]


async def test_catalog_writes_need_a_token_and_the_right_role(registry, actors: Actors):
    client = registry.client
    spec = mc_spec_data()
    assert (await client.post("/micro-credentials", json=spec)).status_code == 401
    educator = registry.auth("eve", Role.EDUCATOR, educator_id="ed-1")
    assert (await client.post("/micro-credentials", json=spec, headers=educator)).status_code == 403
    r = await client.post(
        "/issuers", json={"issuer_id": "rogue", "name": "x"}, headers=actors.issuer
    )
    assert r.status_code == 403

    mc_id = await actors.draft_mc(spec)
    base = f"/micro-credentials/{mc_id}/versions/1"
    await client.post(f"{base}/submit", headers=actors.issuer)
    # An issuer cannot approve, not even their own entry.
    r = await client.post(f"{base}/approve", json={}, headers=actors.issuer)
    assert r.status_code == 403
    r = await client.get(base, headers=actors.issuer)
    assert r.json()["status"] == "submitted"


async def test_an_issuer_acts_only_on_its_own_entries(registry, actors: Actors):
    client = registry.client
    mc_id = await actors.draft_mc(mc_spec_data())
    other_id = await actors.register_issuer(unique_name("prov"))
    other = registry.auth("bob", Role.ISSUER, issuer_id=other_id)
    base = f"/micro-credentials/{mc_id}/versions/1"
    assert (
        await client.put(base, json=mc_spec_data(title="Hijack"), headers=other)
    ).status_code == 403
    assert (await client.post(f"{base}/submit", headers=other)).status_code == 403
    assert (await client.get(base, headers=other)).status_code == 403
    listing = (await client.get("/micro-credentials", headers=other)).json()
    assert mc_id not in [item["id"] for item in listing]
    r = await client.get(base, headers=actors.issuer)
    assert (r.json()["status"], r.json()["definition"]["title"]) == (
        "draft",
        "Wait Time After Questioning",
    )
    # An issuer id the state never registered cannot create anything.
    stranger = registry.auth("sam", Role.ISSUER, issuer_id="not-registered")
    r = await client.post("/micro-credentials", json=mc_spec_data(), headers=stranger)
    assert r.status_code == 403


async def test_bad_definitions_and_out_of_order_steps_are_refused_and_change_nothing(
    registry, actors: Actors
):
    client = registry.client
    for bad in (
        mc_spec_data(rubric=[]),
        mc_spec_data(attempt_cap=0),
        mc_spec_data(fee={"amount_cents": 19.99, "payer": "educator"}),
        mc_spec_data(allowed_purposes=["world_domination"]),
        {"title": "only a title"},
    ):
        r = await client.post("/micro-credentials", json=bad, headers=actors.issuer)
        assert r.status_code == 422, bad
    listing = (await client.get("/micro-credentials", headers=actors.issuer)).json()
    assert listing == []

    mc_id = await actors.draft_mc(mc_spec_data())
    base = f"/micro-credentials/{mc_id}/versions/1"
    assert (await client.post(f"{base}/approve", json={}, headers=actors.admin)).status_code == 409
    assert (
        await client.post(f"{base}/retire", json={"reason": "x"}, headers=actors.admin)
    ).status_code == 409
    assert (
        await client.post(
            "/micro-credentials/nope/versions/1/approve", json={}, headers=actors.admin
        )
    ).status_code == 404
    r = await client.get(base, headers=actors.admin)
    assert r.json()["status"] == "draft"
    assert [h["action"] for h in r.json()["history"]] == ["create"]
    r = await client.post(
        "/micro-credentials", json={**mc_spec_data(), "id": mc_id}, headers=actors.issuer
    )
    assert r.status_code == 409


async def test_a_stack_is_published_only_once_its_members_are_approved(registry, actors: Actors):
    client = registry.client
    a = await actors.published_mc(mc_spec_data(title="Member A"))
    b = await actors.draft_mc(mc_spec_data(title="Member B"))
    spec = stack_spec_data([a, b], rule={"kind": "n_of_m", "n": 1})
    r = await client.post("/stacks", json=spec, headers=actors.issuer)
    assert r.status_code == 201, r.text
    stack_id = r.json()["id"]
    base = f"/stacks/{stack_id}/versions/1"
    assert (await client.post(f"{base}/submit", headers=actors.issuer)).status_code == 200
    r = await client.post(f"{base}/approve", json={}, headers=actors.admin)
    assert r.status_code == 409
    assert b in r.json()["detail"]

    await actors.approve_mc(b)
    r = await client.post(f"{base}/approve", json={}, headers=actors.admin)
    assert r.status_code == 200, r.text
    public = (await client.get(f"/stacks/{stack_id}")).json()
    assert (public["version"], public["member_micro_credential_ids"]) == (1, [a, b])
    assert "history" not in public  # who reviewed it stays private
    history = (await client.get(f"{base}", headers=actors.issuer)).json()["history"]
    assert [h["action"] for h in history] == ["create", "submit", "approve"]
    detail = (await client.get(f"/achievements/{a}")).json()
    assert [s["id"] for s in detail["stacks"]] == [stack_id]

    r = await client.post(f"{base}/retire", json={"reason": "closed"}, headers=actors.admin)
    assert r.status_code == 200
    events = await events_on(registry, CATALOG.name, stack_id, at_least=2)
    assert [type(e) for _, e in events] == [StackPublished, StackRetired]
    published = events[0][1]
    assert isinstance(published, StackPublished)
    assert published.member_micro_credential_ids == (a, b)
    assert published.rule.n == 1
    assert published.grants[0].code == "lead-questioning"
    assert (await client.get(f"/stacks/{stack_id}")).status_code == 404


async def test_public_search_filters_and_pages_the_approved_catalog(registry, actors: Actors):
    client = registry.client
    mine = {"issuer": actors.issuer_id}
    renewal = await actors.published_mc(
        mc_spec_data(
            title="Alpha Feedback",
            competency="Gives timely formative feedback",
            allowed_purposes=["license_renewal"],
        )
    )
    endorsement = await actors.published_mc(
        mc_spec_data(
            title="Beta Phonics",
            competency="Teaches systematic phonics",
            description="Early literacy routines",
            allowed_purposes=["added_endorsement"],
        )
    )
    both = await actors.published_mc(
        mc_spec_data(
            title="Gamma Questioning",
            competency="Asks higher-order questions",
            allowed_purposes=["license_renewal", "added_endorsement"],
        )
    )
    await actors.draft_mc(mc_spec_data(title="Delta Draft"))  # never shown
    stack = (
        await client.post(
            "/stacks", json=stack_spec_data([endorsement, both]), headers=actors.issuer
        )
    ).json()["id"]
    await client.post(f"/stacks/{stack}/versions/1/submit", headers=actors.issuer)
    await client.post(f"/stacks/{stack}/versions/1/approve", json={}, headers=actors.admin)

    async def ids(**params) -> list[str]:
        r = await client.get("/achievements", params={**mine, **params})
        assert r.status_code == 200, r.text
        return [item["id"] for item in r.json()["items"]]

    assert await ids() == [renewal, endorsement, both]  # ordered by title, drafts hidden
    assert await ids(purpose="license_renewal") == [renewal, both]
    assert await ids(purpose="added_endorsement") == [endorsement, both]
    assert await ids(competency="PHONICS") == [endorsement]
    assert await ids(q="literacy") == [endorsement]
    assert await ids(q="questions") == [both]  # stemmed full-text search
    assert await ids(stack=stack) == [endorsement, both]
    assert await ids(stack=stack, purpose="license_renewal") == [both]
    assert await ids(issuer="nobody-at-all") == []

    page = (await client.get("/achievements", params={**mine, "page_size": 2})).json()
    assert (page["total"], len(page["items"])) == (3, 2)
    page2 = (await client.get("/achievements", params={**mine, "page_size": 2, "page": 2})).json()
    assert [i["id"] for i in page2["items"]] == [both]
    assert (await client.get("/achievements", params={"page_size": 101})).status_code == 422
    assert (await client.get("/achievements", params={"page": 0})).status_code == 422
    assert (await client.get("/achievements", params={"purpose": "bogus"})).status_code == 422


async def test_two_simultaneous_approvals_publish_once(registry, actors: Actors):
    client = registry.client
    mc_id = await actors.draft_mc(mc_spec_data())
    base = f"/micro-credentials/{mc_id}/versions/1"
    await client.post(f"{base}/submit", headers=actors.issuer)
    first, second = await asyncio.gather(
        client.post(f"{base}/approve", json={}, headers=actors.admin),
        client.post(f"{base}/approve", json={}, headers=actors.admin),
    )
    assert sorted([first.status_code, second.status_code]) == [200, 409]
    events = await events_on(registry, CATALOG.name, mc_id, at_least=1)
    assert [type(e) for _, e in events] == [MicroCredentialPublished]
