"""A real award, end to end: a passed review decision becomes a credential in the registry, and
the award and its revocation reach the district's HTTP change feed and its Kafka topics with
the CloudEvent ids the registry published on ``registry.credentials``."""

# Fixtures come from registry_it by name (see test_registry_awards.py).
# ruff: noqa: F811

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from registry_it import (  # noqa: F401  (actors, registry: fixtures)
    Actors,
    actors,
    decided,
    events_on,
    mc_spec_data,
    publish,
    registry,
)

from mc_devstack.testing import RunningService, unique_name
from mc_events import district, kafka
from mc_events.consumer import wait_until
from mc_events.topics import CREDENTIALS
from mc_platform.auth import Role
from registry.domain.awards import credential_id_for


async def feed(registry: RunningService, district_id: str) -> list[dict[str, Any]]:
    headers = registry.auth("da", Role.DISTRICT_ADMIN, district_id=district_id)
    url = f"/districts/{district_id}/awards/changes"
    response = await registry.client.get(url, headers=headers)
    assert response.status_code == 200
    changes: list[dict[str, Any]] = response.json()["changes"]
    return changes


async def test_an_award_and_its_revocation_reach_the_districts_feed_and_topics(
    registry: RunningService, actors: Actors
) -> None:
    lea = unique_name("lea")
    mc_id = await actors.published_mc(mc_spec_data())
    decision = decided(mc_id, district_id=lea)
    await publish(registry, decision)
    credential_id = credential_id_for(decision.enrollment_id)

    async def has(event_type: str) -> bool:
        return any(c["type"] == event_type for c in await feed(registry, lea))

    assert await wait_until(lambda: has("registry.credential_awarded.v1"), 30)
    revoke = await registry.client.post(
        f"/credentials/{credential_id}/revoke",
        json={"reason": "plagiarism"},
        headers=actors.admin,
    )
    assert revoke.status_code == 200, revoke.text
    assert await wait_until(lambda: has("registry.credential_revoked.v1"), 30)
    await asyncio.sleep(1.0)  # let what the revocation causes (credits reversed) commit too
    changes = await feed(registry, lea)
    lifecycle = [c["type"] for c in changes if c["data"].get("credential_id") == credential_id]
    assert lifecycle[0] == "registry.credential_awarded.v1"
    assert "registry.credential_revoked.v1" in lifecycle
    assert {c["data"]["district_id"] for c in changes} == {lea}

    # The same events, ids and order as on registry.credentials (one educator: one key).
    published = await events_on(
        registry, CREDENTIALS.name, decision.educator_id, at_least=len(changes)
    )
    ours = [event_id for event_id, _ in published]
    assert ours == [c["id"] for c in changes]

    settings = registry.definition.settings.kafka
    consumer = kafka.consumer(
        settings,
        district.awards_topic(lea).name,
        district.state_topic(lea).name,
        group_id=unique_name("lea-reader"),
    )
    await consumer.start()
    copies: list[str] = []
    state: dict[str, Any] = {}
    deadline = time.monotonic() + 45
    try:
        while (
            len(copies) < len(ours) or state.get("status") != "revoked"
        ) and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for record in records:
                    if record.topic.endswith(district.STATE_SUFFIX):
                        state = json.loads(record.value)
                    else:
                        copies.append(dict(record.headers)["ce_id"].decode())
    finally:
        await consumer.stop()
    assert copies == ours
    assert (state["credential_id"], state["status"]) == (credential_id, "revoked")
