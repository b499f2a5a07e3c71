"""Object-level access: a caller with the right role but another educator's, assessor's,
issuer's or district's object is refused (404 where even the existence of the object is private,
403 where the id is not secret), the owner is not, and a refused request changes nothing.

Objects are made through the APIs; what only arrives by event (the catalog in enrollment, a
submission in review) is recorded through the same service-layer functions the consumers call.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from security_support import MC_SPEC, STACK_SPEC, fresh

from mc_devstack.testing import RunningService
from mc_events.contracts.catalog import MicroCredentialPublished
from mc_events.contracts.common import (
    Credits,
    CreditUnit,
    EvidenceKind,
    EvidenceRequirement,
    Fee,
    FeePayer,
    Level,
    Purpose,
    RubricCriterion,
)
from mc_events.contracts.enrollment import ArtifactRef, EvidenceSubmitted
from mc_platform.auth import Role

NOW = datetime.now(UTC)


def catalog_entry(mc_id: str, kind: EvidenceKind = EvidenceKind.LINK) -> MicroCredentialPublished:
    return MicroCredentialPublished(
        micro_credential_id=mc_id,
        micro_credential_version=1,
        issuer_id="sec-iss",
        issuer_name="Issuer",
        title="Wait time",
        competency="Uses wait time",
        description="",
        evidence_requirements=(
            EvidenceRequirement(id="r1", kind=kind, prompt="Show it", required=True),
        ),
        rubric=(
            RubricCriterion(
                id="c1",
                name="Wait",
                levels=(Level(id="l1", name="Low"), Level(id="l2", name="High")),
                required_level_id="l2",
            ),
        ),
        credits=Credits(value=Decimal("10"), unit=CreditUnit.RENEWAL_CREDITS),
        attempt_cap=3,
        completion_window_days=90,
        cooldown_days=30,
        fee=Fee(amount_cents=4000, payer=FeePayer.DISTRICT),
        allowed_purposes=(Purpose.LICENSE_RENEWAL,),
        approved_at=NOW - timedelta(days=10),
    )


def ok(response: Any, *codes: int) -> dict[str, Any]:
    assert response.status_code in (codes or (200, 201)), response.text
    body: dict[str, Any] = response.json()
    return body


# -- enrollment: enrollments, evidence, artifacts, roster records ----------------------------


async def test_an_educator_reaches_only_their_own_enrollments_evidence_and_record(services):
    from enrollment.service_layer.enrollments import record_published
    from enrollment.service_layer.unit_of_work import UnitOfWork

    svc: RunningService = services["enrollment"]
    state = svc.auth("sea", Role.STATE_ADMIN)
    district_a, district_b = fresh("lea-a"), fresh("lea-b")
    alice, bob = fresh("ed-alice"), fresh("ed-bob")
    roster = "educator_id,first_name,last_name,email,district_id,role\n" + "".join(
        f"{who},Ada,Lovelace,{who}@x.example,{district},teacher\n"
        for who, district in ((alice, district_a), (bob, district_b))
    )
    ok(
        await svc.client.post(
            "/roster/imports",
            files={"file": ("staff.csv", roster.encode(), "text/csv")},
            headers=state,
        )
    )
    mc_id = fresh("mc")
    async with svc.runtime.sessions() as session:
        await record_published(UnitOfWork.joining(session), catalog_entry(mc_id))
        await session.commit()

    as_alice = svc.auth(alice, Role.EDUCATOR, educator_id=alice, district_id=district_a)
    as_bob = svc.auth(bob, Role.EDUCATOR, educator_id=bob, district_id=district_b)
    enrollment = ok(
        await svc.client.post(
            "/enrollments",
            json={"educator_id": alice, "micro_credential_id": mc_id, "purpose": "license_renewal"},
            headers=as_alice,
        )
    )
    eid = enrollment["enrollment_id"]
    link = f"/enrollments/{eid}/evidence/r1/link"
    artifact = ok(
        await svc.client.post(link, json={"url": "https://x.example/v"}, headers=as_alice)
    )

    # Bob cannot enroll Alice, and Alice's enrollment does not exist for him.
    refused = await svc.client.post(
        "/enrollments",
        json={"educator_id": alice, "micro_credential_id": mc_id, "purpose": "license_renewal"},
        headers=as_bob,
    )
    assert refused.status_code == 403
    attempts = [
        ("POST", f"/enrollments/{eid}/withdraw", {"json": {"reason": "not mine"}}),
        ("POST", link, {"json": {"url": "https://evil.example/"}}),
        ("POST", f"/enrollments/{eid}/evidence/r1/reflection", {"json": {"text": "x"}}),
        ("POST", f"/enrollments/{eid}/submissions", {"headers": {"Idempotency-Key": "b1"}}),
        ("GET", f"/enrollments/{eid}/submissions", {}),
        (
            "POST",
            f"/uploads/enrollments/{eid}/evidence/r1",
            {"content": b"x", "headers": {"Content-Type": "text/uri-list"}},
        ),
        ("GET", f"/artifacts/{artifact['artifact_id']}/content", {}),
        ("GET", f"/roster/educators/{alice}", {}),
    ]
    for method, url, extra in attempts:
        headers = {**as_bob, **extra.pop("headers", {})}
        response = await svc.client.request(method, url, headers=headers, **extra)
        assert response.status_code == 404, f"{method} {url}: {response.text}"

    # Neither a district admin of another district nor an unassigned assessor sees them.
    other_admin = svc.auth("da-b", Role.DISTRICT_ADMIN, district_id=district_b)
    assert (
        await svc.client.get(f"/roster/educators/{alice}", headers=other_admin)
    ).status_code == 404
    stranger = svc.auth("as-x", Role.ASSESSOR, assessor_id=fresh("as"))
    content = f"/artifacts/{artifact['artifact_id']}/content"
    assert (await svc.client.get(content, headers=stranger)).status_code == 404

    # The owners and the state do; nothing Bob sent changed Alice's enrollment.
    own_admin = svc.auth("da-a", Role.DISTRICT_ADMIN, district_id=district_a)
    ok(await svc.client.get(f"/roster/educators/{alice}", headers=own_admin))
    ok(await svc.client.get(f"/roster/educators/{alice}", headers=as_alice))
    assert (await svc.client.get(content, headers=as_alice)).status_code == 200
    assert (await svc.client.get(content, headers=state)).status_code == 200
    mine = (await svc.client.get("/enrollments/me", headers=as_alice)).json()
    assert [(e["enrollment_id"], e["status"]) for e in mine] == [(eid, enrollment["status"])]
    assert (await svc.client.get(f"/enrollments/{eid}/submissions", headers=as_alice)).json() == []
    assert (await svc.client.get("/enrollments/me", headers=as_bob)).json() == []


# -- review: assessor records, calibrations, assignments -------------------------------------


async def test_an_assessor_reaches_only_their_own_record_calibrations_and_assignments(services):
    from review.service_layer.assignment import AssignmentPolicy, on_evidence_submitted
    from review.service_layer.read_models import record_published
    from review.service_layer.unit_of_work import UnitOfWork

    svc: RunningService = services["review"]
    state = svc.auth("sea", Role.STATE_ADMIN)
    mc_id = fresh("mc")
    ann, ben = fresh("as-ann"), fresh("as-ben")
    for assessor, mcs in ((ann, [mc_id]), (ben, [])):
        body = {
            "district_id": fresh("lea-far"),
            "qualifications": [{"kind": "micro_credential", "id": m} for m in mcs],
            "calibration_status": "calibrated",
            "weekly_capacity": 5,
        }
        ok(await svc.client.put(f"/assessors/{assessor}", json=body, headers=state))
    submission = EvidenceSubmitted(
        enrollment_id=fresh("enr"),
        submission_id=fresh("sub"),
        attempt=1,
        educator_id=fresh("edu"),
        district_id=fresh("lea-home"),
        school_id=None,
        supervisor_id=None,
        micro_credential_id=mc_id,
        micro_credential_version=1,
        artifacts=(
            ArtifactRef(
                artifact_id=fresh("art"),
                requirement_id="r1",
                kind=EvidenceKind.VIDEO,
                content_type="video/mp4",
                size_bytes=10,
                sha256="0" * 64,
                uri="evidence://x",
            ),
        ),
        submitted_at=NOW - timedelta(hours=1),
        deadline_at=NOW + timedelta(days=60),
    )
    async with UnitOfWork(svc.runtime.sessions) as uow:
        await record_published(uow, catalog_entry(mc_id, EvidenceKind.VIDEO))
        assigned = await on_evidence_submitted(uow, submission, AssignmentPolicy(), NOW)
        await uow.commit()
    assert [a.assessor_id for a in assigned] == [ann]

    as_ann = svc.auth(ann, Role.ASSESSOR, assessor_id=ann)
    as_ben = svc.auth(ben, Role.ASSESSOR, assessor_id=ben)
    (assignment,) = (await svc.client.get("/assignments", headers=as_ann)).json()
    assert (await svc.client.get("/assignments", headers=as_ben)).json() == []

    for url in (f"/assessors/{ann}", f"/assessors/{ann}/calibrations"):
        assert (await svc.client.get(url, headers=as_ben)).status_code == 404, url
        assert (await svc.client.get(url, headers=as_ann)).status_code == 200, url
    scores = {"scores": [{"criterion_id": "c1", "level_id": "l2"}]}
    url = f"/assignments/{assignment['assignment_id']}/scores"
    refused = await svc.client.post(url, json=scores, headers=as_ben)
    assert refused.status_code == 404, refused.text

    (unchanged,) = (await svc.client.get("/assignments", headers=as_ann)).json()
    assert unchanged["scores"] is None
    assert unchanged["status"] == assignment["status"]


# -- registry: an issuer's catalog entries ---------------------------------------------------


async def test_an_issuer_reaches_only_their_own_catalog_entries(services):
    svc: RunningService = services["registry"]
    state = svc.auth("sea", Role.STATE_ADMIN)
    acme, brio = fresh("acme"), fresh("brio")
    for issuer in (acme, brio):
        ok(
            await svc.client.post(
                "/issuers", json={"issuer_id": issuer, "name": issuer}, headers=state
            )
        )
    as_acme = svc.auth("acme-author", Role.ISSUER, issuer_id=acme)
    as_brio = svc.auth("brio-author", Role.ISSUER, issuer_id=brio)

    mc = ok(await svc.client.post("/micro-credentials", json=MC_SPEC, headers=as_acme))
    mc_url = f"/micro-credentials/{mc['id']}/versions/1"
    ok(await svc.client.post(f"{mc_url}/submit", headers=as_acme))
    ok(await svc.client.post(f"{mc_url}/approve", json={"reason": "ok"}, headers=state))
    stack_spec = {**STACK_SPEC, "member_micro_credential_ids": [mc["id"]]}
    stack = ok(await svc.client.post("/stacks", json=stack_spec, headers=as_acme))
    stack_url = f"/stacks/{stack['id']}/versions/1"

    edited = {**MC_SPEC, "title": "Taken over"}
    attempts = [
        ("GET", mc_url, None),
        ("PUT", mc_url, edited),
        ("POST", f"/micro-credentials/{mc['id']}/versions", None),
        ("GET", stack_url, None),
        ("PUT", stack_url, {**stack_spec, "name": "Taken over"}),
        ("POST", f"{stack_url}/submit", None),
    ]
    for method, url, body in attempts:
        response = await svc.client.request(method, url, json=body, headers=as_brio)
        assert response.status_code == 403, f"{method} {url}: {response.text}"
    listed = (await svc.client.get("/micro-credentials", headers=as_brio)).json()
    assert mc["id"] not in {m["id"] for m in listed}

    mine = ok(await svc.client.get(mc_url, headers=as_acme))
    assert (mine["status"], mine["definition"]["title"]) == ("approved", MC_SPEC["title"])
    own_stack = ok(await svc.client.get(stack_url, headers=as_acme))
    assert (own_stack["status"], own_stack["definition"]["name"]) == ("draft", STACK_SPEC["name"])
    versions = await svc.client.get(f"/micro-credentials/{mc['id']}/versions/2", headers=state)
    assert versions.status_code == 404


# -- compensation: district data, payroll batches, rules, an educator's stipends -------------


async def test_a_district_reaches_only_its_own_budgets_batches_reports_and_rules(services):
    svc: RunningService = services["compensation"]
    state = svc.auth("sea", Role.STATE_ADMIN)
    leon, duval = fresh("leon"), fresh("duval")
    for district in (leon, duval):
        ok(await svc.client.put(f"/districts/{district}", json={"state": "FL"}, headers=state))
    leon_admin = svc.auth("leon-admin", Role.DISTRICT_ADMIN, district_id=leon)
    leon_payroll = svc.auth("leon-payroll", Role.PAYROLL_SYSTEM, district_id=leon)
    duval_admin = svc.auth("duval-admin", Role.DISTRICT_ADMIN, district_id=duval)
    duval_payroll = svc.auth("duval-payroll", Role.PAYROLL_SYSTEM, district_id=duval)

    period = {
        "pay_period_id": "2026-PP01",
        "pay_period_start": "2026-01-01",
        "pay_period_end": "2026-01-14",
    }
    batch = ok(
        await svc.client.post(
            f"/districts/{leon}/payroll-batches", json=period, headers=leon_payroll
        )
    )
    rule = {
        "rule_id": fresh("leon-rule"),
        "name": "Leon stipend",
        "state": "FL",
        "district_id": leon,
        "kind": "per_credential",
        "amount_cents": 15_000,
        "funding_source": "leon-fund",
        "effective_from": "2020-01-01T00:00:00Z",
    }
    ok(await svc.client.post("/stipend-rules", json=rule, headers=leon_admin))
    lane_rule = {
        "rule_id": fresh("leon-lane"),
        "name": "Leon lane",
        "state": "FL",
        "district_id": leon,
        "lane": "MA+15",
        "rank": 2,
        "effective_from": "2020-01-01T00:00:00Z",
    }
    ok(await svc.client.post("/salary-lane-rules", json=lane_rule, headers=leon_admin))
    funds = {"funding_source": "leon-fund", "amount_cents": 5000}

    batch_url = f"/payroll-batches/{batch['batch_id']}"
    ack = {"idempotency_key": batch["idempotency_key"], "status": "accepted"}
    attempts: list[tuple[dict[str, str], str, str, Any]] = [
        (duval_payroll, "GET", batch_url, None),
        (duval_payroll, "GET", f"{batch_url}/export.csv", None),
        (duval_payroll, "GET", f"{batch_url}/export.json", None),
        (duval_payroll, "POST", f"{batch_url}/acknowledgement", ack),
        (duval_admin, "GET", batch_url, None),
        (duval_payroll, "POST", f"/districts/{leon}/payroll-batches", period),
        (duval_admin, "POST", f"/districts/{leon}/budgets/2026/allocations", funds),
        (duval_admin, "GET", f"/districts/{leon}/budgets/2026?funding_source=leon-fund", None),
        (duval_admin, "GET", f"/districts/{leon}/reports/2026", None),
        (duval_payroll, "GET", f"/districts/{leon}/payments/2026", None),
        (duval_admin, "GET", f"/stipend-rules/{rule['rule_id']}", None),
        (duval_admin, "POST", "/stipend-rules", {**rule, "amount_cents": 1}),
        (duval_admin, "GET", f"/salary-lane-rules/{lane_rule['rule_id']}", None),
        (duval_admin, "POST", "/salary-lane-rules", {**lane_rule, "rank": 1}),
        (duval_payroll, "GET", f"/districts/{leon}/salary-lane-changes", None),
    ]
    for headers, method, url, body in attempts:
        response = await svc.client.request(method, url, json=body, headers=headers)
        assert response.status_code == 403, f"{method} {url}: {response.text}"

    assert ok(await svc.client.get(batch_url, headers=leon_payroll))["status"] == batch["status"]
    budget = await svc.client.get(
        f"/districts/{leon}/budgets/2026?funding_source=leon-fund", headers=leon_admin
    )
    assert ok(budget)["allocated_cents"] == 0
    (version,) = ok(await svc.client.get(f"/stipend-rules/{rule['rule_id']}", headers=leon_admin))
    assert version["amount_cents"] == 15_000
    ok(await svc.client.get(f"/districts/{leon}/reports/2026", headers=leon_admin))
    (lane,) = ok(
        await svc.client.get(f"/salary-lane-rules/{lane_rule['rule_id']}", headers=leon_admin)
    )
    assert lane["rank"] == 2


async def test_an_educator_reads_only_their_own_stipends_and_salary_lane(services):
    svc: RunningService = services["compensation"]
    alice, bob = fresh("ed-alice"), fresh("ed-bob")
    as_bob = svc.auth(bob, Role.EDUCATOR, educator_id=bob)
    for record in ("stipends", "salary-lane"):
        refused = await svc.client.get(f"/educators/{alice}/{record}", headers=as_bob)
        assert refused.status_code == 403, refused.text
        own = await svc.client.get(f"/educators/{bob}/{record}", headers=as_bob)
        assert ok(own)["educator_id"] == bob


async def test_an_educator_reaches_only_their_own_licensure_records(services):
    svc: RunningService = services["registry"]
    alice, bob = fresh("ed-alice"), fresh("ed-bob")
    as_bob = svc.auth(bob, Role.EDUCATOR, educator_id=bob, district_id=fresh("lea"))
    for record in ("renewal-credits", "ed-fi/credentials", "clr", "imports", "stacks"):
        refused = await svc.client.get(f"/educators/{alice}/{record}", headers=as_bob)
        assert refused.status_code == 403, f"{record}: {refused.text}"
        own = await svc.client.get(f"/educators/{bob}/{record}", headers=as_bob)
        assert own.status_code not in (401, 403), f"{record}: {own.text}"
    credential = {"credential": {"type": ["VerifiableCredential", "OpenBadgeCredential"]}}
    refused = await svc.client.post(f"/educators/{alice}/imports", json=credential, headers=as_bob)
    assert refused.status_code == 403, refused.text
    state = svc.auth("sea", Role.STATE_ADMIN)
    assert (await svc.client.get(f"/educators/{alice}/imports", headers=state)).json() == []


async def test_a_district_reads_only_its_own_award_feed(services):
    svc: RunningService = services["registry"]
    leon, duval = fresh("leon"), fresh("duval")
    duval_admin = svc.auth("duval-admin", Role.DISTRICT_ADMIN, district_id=duval)
    refused = await svc.client.get(f"/districts/{leon}/awards/changes", headers=duval_admin)
    assert refused.status_code == 403, refused.text
    own = await svc.client.get(f"/districts/{duval}/awards/changes", headers=duval_admin)
    assert own.status_code == 200, own.text
    assert own.json()["district_id"] == duval
