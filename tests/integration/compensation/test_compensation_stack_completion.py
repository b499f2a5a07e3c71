"""Stack completion through the running service: a per-stack bonus (a ledger entry with basis
stack_completion, caps and budgets as for stipends) and a salary-lane change (append-only lane
history, ``compensation.salary_lane_changed``), each once under redelivery and duplication, and
both taken back once when the registry reverses the completion."""

from __future__ import annotations

import asyncio
import json

from compensation_helpers import (
    completed,
    completion_reversed,
    lane_changes,
    lane_rule,
    ledger,
    outbox_events,
    rows,
    setup_florida,
    stack_bonus_rule,
    teacher,
    wait_for,
    wait_for_educator,
    wait_for_entries,
)

from compensation.domain import ids
from mc_devstack.testing import unique_name
from mc_events.contracts.compensation import (
    SalaryLaneChanged,
    StipendApproved,
    StipendReversed,
)
from mc_platform.auth import Role


async def test_completion_pays_a_bonus_and_moves_the_lane_once_and_reversal_takes_both_back(
    svc, producer
):
    fl = await setup_florida(svc, budget_cents=10_000_000)
    state = svc.auth("sea", Role.STATE_ADMIN)
    admin = svc.auth("admin", Role.DISTRICT_ADMIN, district_id=fl.district_id)
    bonus_id, lane_id = unique_name("fl-stack"), unique_name("lane")
    r = await svc.client.post("/stipend-rules", json=stack_bonus_rule(bonus_id), headers=state)
    assert r.status_code == 201, r.text
    r = await svc.client.post(
        "/salary-lane-rules",
        json=lane_rule(lane_id, lane="MA+15", rank=3, district_id=fl.district_id),
        headers=admin,
    )
    assert r.status_code == 201, r.text
    assert (r.json()["version"], r.json()["lane"]) == (1, "MA+15")

    educator = unique_name("edu")
    await producer.send(teacher(educator, fl.district_id))
    await wait_for_educator(svc, educator)
    completion = completed(educator, fl.district_id)
    event_id = await producer.send(completion)
    await producer.send(completion, event_id=event_id)  # redelivered
    await producer.send(completion)  # duplicated upstream (new event id)
    (bonus,) = await wait_for_entries(svc, educator, 1)
    await wait_for(
        svc, "SELECT count(*) FROM salary_lane_changes WHERE educator_id = :e", 1, e=educator
    )

    assert (bonus.kind, bonus.basis, bonus.amount_cents) == ("approval", "stack_completion", 50_000)
    assert (bonus.rule_id, bonus.stack_completion_id, bonus.credential_id) == (
        bonus_id,
        completion.stack_completion_id,
        None,
    )
    (approved,) = await outbox_events(svc, StipendApproved.ce_type(), educator)
    payload = json.loads(approved.payload)
    assert payload["basis"] == "stack_completion"
    assert payload["stack_completion_id"] == completion.stack_completion_id

    (change,) = await lane_changes(svc, educator)
    assert (change.from_lane, change.to_lane, change.reason) == (None, "MA+15", "stack_completed")
    (announced,) = await outbox_events(svc, SalaryLaneChanged.ce_type(), educator)
    assert announced.event_id == ids.event_id(SalaryLaneChanged.event_type, change.change_id)
    assert json.loads(announced.payload)["to_lane"] == "MA+15"

    # The registry reverses the completion (a member credential was revoked), twice.
    reversal = completion_reversed(completion)
    reversal_id = await producer.send(reversal)
    await producer.send(reversal, event_id=reversal_id)
    await producer.send(reversal)
    await wait_for_entries(svc, educator, 2)
    await wait_for(
        svc, "SELECT count(*) FROM salary_lane_changes WHERE educator_id = :e", 2, e=educator
    )
    await producer.send(completion)  # a late duplicate of the completion grants nothing again
    marker = completed(educator, fl.district_id, stack_id="unrelated-stack")
    await producer.send(marker)  # same key: processed after everything above
    await wait_for_entries(svc, educator, 3)
    await asyncio.sleep(0.3)

    entries = await ledger(svc, educator)
    assert [(e.kind, e.amount_cents) for e in entries] == [
        ("approval", 50_000),
        ("reversal", -50_000),
        ("approval", 50_000),  # the unrelated stack's bonus
    ]
    assert entries[1].reverses_entry_id == bonus.entry_id
    assert entries[1].reason == "stack_completion_reversed"
    (reversed_event,) = await outbox_events(svc, StipendReversed.ce_type(), educator)
    assert json.loads(reversed_event.payload)["reason"] == "stack_completion_reversed"

    first, back = await lane_changes(svc, educator)
    assert (back.from_lane, back.to_lane, back.reason) == (
        "MA+15",
        None,
        "stack_completion_reversed",
    )
    assert back.reverts_change_id == first.change_id
    assert len(await outbox_events(svc, SalaryLaneChanged.ce_type(), educator)) == 2

    # Lane history through the API: the educator sees their own, a district admin theirs.
    me = svc.auth(educator, Role.EDUCATOR, educator_id=educator)
    r = await svc.client.get(f"/educators/{educator}/salary-lane", headers=me)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["current_lanes"] == {fl.district_id: None}
    assert [(c["from_lane"], c["to_lane"]) for c in body["changes"]] == [
        (None, "MA+15"),
        ("MA+15", None),
    ]
    (grant,) = body["grants"]
    assert grant["lane"] == "MA+15"
    assert grant["reversed_at"] is not None
    other = svc.auth("x", Role.EDUCATOR, educator_id="someone-else")
    assert (
        await svc.client.get(f"/educators/{educator}/salary-lane", headers=other)
    ).status_code == 403
    r = await svc.client.get(f"/districts/{fl.district_id}/salary-lane-changes", headers=admin)
    assert [c["change_id"] for c in r.json()] == [first.change_id, back.change_id]
    stranger = svc.auth("y", Role.DISTRICT_ADMIN, district_id="elsewhere")
    assert (
        await svc.client.get(f"/districts/{fl.district_id}/salary-lane-changes", headers=stranger)
    ).status_code == 403
    r = await svc.client.get(
        f"/educators/{educator}/salary-lane", headers=stranger
    )  # a district admin sees only their own district's lanes
    assert r.json()["changes"] == []


async def test_lane_rules_are_versioned_scoped_and_validated(svc):
    fl = await setup_florida(svc, budget_cents=0)
    state = svc.auth("sea", Role.STATE_ADMIN)
    rule_id = unique_name("lane")
    r = await svc.client.post(
        "/salary-lane-rules", json=lane_rule(rule_id, lane="BA+15", rank=1), headers=state
    )
    assert r.status_code == 201, r.text
    r = await svc.client.post(
        "/salary-lane-rules", json=lane_rule(rule_id, lane="BA+30", rank=2), headers=state
    )
    assert r.json()["version"] == 2
    r = await svc.client.get(f"/salary-lane-rules/{rule_id}", headers=state)
    assert [(v["version"], v["lane"]) for v in r.json()] == [(1, "BA+15"), (2, "BA+30")]

    own = svc.auth("own", Role.DISTRICT_ADMIN, district_id=fl.district_id)
    # A district cannot take over a statewide rule, nor publish for another district.
    r = await svc.client.post(
        "/salary-lane-rules",
        json=lane_rule(rule_id, lane="X", rank=1, district_id=fl.district_id),
        headers=own,
    )
    assert r.status_code == 409
    r = await svc.client.post(
        "/salary-lane-rules",
        json=lane_rule(unique_name("lane"), lane="X", rank=1, district_id="elsewhere"),
        headers=own,
    )
    assert r.status_code == 403
    bad = [
        lane_rule(unique_name("lane"), lane="X", rank=0),
        lane_rule(unique_name("lane"), lane="X", rank=1.5),
        lane_rule(unique_name("lane"), lane=None, rank=1, stack_ids=[]),
        lane_rule(unique_name("lane"), lane="X", rank=1, effective_from="2020-01-01T00:00:00"),
        {**lane_rule(unique_name("lane"), lane="X", rank=1), "surprise": True},
    ]
    for body in bad:
        r = await svc.client.post("/salary-lane-rules", json=body, headers=state)
        assert r.status_code == 422, (body, r.text)
    assert len(await rows(svc, "SELECT 1 FROM salary_lane_rules")) == 2
    educator = svc.auth("t", Role.EDUCATOR, educator_id="t")
    r = await svc.client.post(
        "/salary-lane-rules",
        json=lane_rule(unique_name("lane"), lane="X", rank=1),
        headers=educator,
    )
    assert r.status_code == 403
