"""Blind scoring: an assessor sees only their own assignments and nobody's identity, scores
each criterion with a level and feedback, and the decision (with per-criterion results) is
published; raters who disagree send the submission to an approver, whose levels decide."""

from __future__ import annotations

import sqlalchemy as sa
from review_support import (
    consumed,
    outbox_events,
    published,
    put_assessor,
    qualified_for,
    registered,
    review_service,
    roster_has,
    send,
    submitted,
    uid,
    wait_review,
)

from mc_events.consumer import wait_until
from mc_platform import audit
from mc_platform.auth import Role


def assessor(svc, assessor_id: str):
    return svc.auth(f"user-{assessor_id}", Role.ASSESSOR, assessor_id=assessor_id)


def approver(svc, assessor_id: str):
    return svc.auth(f"user-{assessor_id}", Role.APPROVER, assessor_id=assessor_id)


def scores(level: str, feedback: str = "") -> dict:
    return {"scores": [{"criterion_id": "c1", "level_id": level, "feedback": feedback}]}


async def decision_of(svc, enrollment_id: str) -> dict:
    async def decided() -> bool:
        rows = await outbox_events(svc, enrollment_id)
        return any("decision_id" in r and r["published"] for r in rows)

    assert await wait_until(decided, 30)
    (decision,) = [r for r in await outbox_events(svc, enrollment_id) if "decision_id" in r]
    return decision


async def test_assessor_view_is_blind_and_scores_decide_a_pass(infra):
    mc_id, competency = uid("mc"), uid("competency")
    educator_id, district, school = uid("edu"), uid("lea"), uid("sch")
    identity = registered(educator_id, district, school_id=school).model_copy(
        update={
            "first_name": uid("Grace"),
            "last_name": uid("Hopper"),
            "email": f"{uid('grace')}@district.example",
        }
    )
    async with review_service(infra) as svc:
        (catalog_id, roster_id) = await send(infra, published(mc_id, competency), identity)
        await consumed(svc, catalog_id, roster_id)
        await roster_has(svc, educator_id)
        await put_assessor(svc, "rater", qualifications=qualified_for(mc_id))
        await put_assessor(svc, "bystander", qualifications=qualified_for(uid("other")))
        event = submitted(mc_id, educator_id=educator_id, district_id=district, school_id=school)
        await send(infra, event)
        await wait_review(svc, event.submission_id, "in_review")

        r = await svc.client.get("/assignments", headers=assessor(svc, "rater"))
        assert r.status_code == 200
        (view,) = r.json()
        for secret in (
            identity.first_name,
            identity.last_name,
            identity.email,
            district,
            school,
            educator_id,
        ):
            assert secret not in r.text
        assert view["rubric"] == [
            {"id": "c1", "level_ids": ["l1", "l2"], "required_level_id": "l2"}
        ]
        assert [a["requirement_id"] for a in view["artifacts"]] == ["r1"]
        assert view["status"] == "open"

        # Only one's own assignments, and only one's own to score.
        assert (
            await svc.client.get("/assignments", headers=assessor(svc, "bystander"))
        ).json() == []
        path = f"/assignments/{view['assignment_id']}/scores"
        assert (
            await svc.client.post(path, json=scores("l2"), headers=assessor(svc, "bystander"))
        ).status_code == 404
        educator = svc.auth(educator_id, Role.EDUCATOR, educator_id=educator_id)
        assert (await svc.client.get("/assignments", headers=educator)).status_code == 403

        # Scores that do not fit the rubric are refused and change nothing.
        bad = await svc.client.post(path, json=scores("l9"), headers=assessor(svc, "rater"))
        assert bad.status_code == 422
        missing = await svc.client.post(
            path,
            json={"scores": [{"criterion_id": "c7", "level_id": "l2"}]},
            headers=assessor(svc, "rater"),
        )
        assert missing.status_code == 422
        again = await svc.client.get("/assignments", headers=assessor(svc, "rater"))
        assert again.json()[0]["status"] == "open"

        ok = await svc.client.post(
            path, json=scores("l2", "Clear wait time."), headers=assessor(svc, "rater")
        )
        assert ok.status_code == 200, ok.text
        assert ok.json()["review_status"] == "decided"
        assert ok.json()["outcome"] == "passed"
        twice = await svc.client.post(path, json=scores("l2"), headers=assessor(svc, "rater"))
        assert twice.status_code == 409

        metrics = (await svc.client.get("/metrics")).text
        assert 'review_decisions_total{outcome="passed"} 1.0' in metrics
        assert "review_time_to_decision_seconds_count 1.0" in metrics

        decision = await decision_of(svc, event.enrollment_id)
        assert decision["outcome"] == "passed"
        assert decision["educator_id"] == educator_id
        assert decision["district_id"] == district
        assert decision["assessor_ids"] == ["rater"]
        assert decision["approver_id"] is None
        assert decision["results"] == [
            {
                "criterion_id": "c1",
                "achieved_level_id": "l2",
                "met": True,
                "feedback": "Clear wait time.",
            }
        ]


async def test_disagreeing_raters_send_the_submission_to_an_approver_who_decides(infra):
    mc_id = uid("mc")
    async with review_service(infra, raters_per_submission=2) as svc:
        (catalog_id,) = await send(infra, published(mc_id, uid("competency")))
        await consumed(svc, catalog_id)
        for name in ("r1", "r2"):
            await put_assessor(svc, name, qualifications=qualified_for(mc_id))
        await put_assessor(svc, "lead", weekly_capacity=0)
        await put_assessor(svc, "lead-same-district", district_id="lea-home", weekly_capacity=0)
        event = submitted(mc_id, district_id="lea-home")
        await send(infra, event)
        review = await wait_review(svc, event.submission_id, "in_review")
        by_rater = {a["assessor_id"]: a["assignment_id"] for a in review["assignments"]}

        first = await svc.client.post(
            f"/assignments/{by_rater['r1']}/scores",
            json=scores("l2", "Met."),
            headers=assessor(svc, "r1"),
        )
        assert first.json() == {"review_status": "in_review", "decision_id": None, "outcome": None}
        second = await svc.client.post(
            f"/assignments/{by_rater['r2']}/scores",
            json=scores("l1", "Not yet."),
            headers=assessor(svc, "r2"),
        )
        assert second.json()["review_status"] == "awaiting_approver"

        queue = await svc.client.get("/approvals", headers=approver(svc, "lead"))
        (item,) = [q for q in queue.json() if q["submission_id"] == event.submission_id]
        assert sorted(r["assessor_id"] for r in item["ratings"]) == ["r1", "r2"]
        assert "lea-home" not in queue.text
        assert event.educator_id not in queue.text
        assert (await svc.client.get("/approvals", headers=assessor(svc, "r1"))).status_code == 403

        path = f"/approvals/{event.submission_id}"
        for who in ("r1", "lead-same-district", "not-on-roster"):
            refused = await svc.client.post(path, json=scores("l2"), headers=approver(svc, who))
            assert refused.status_code == 403, (who, refused.text)

        decided = await svc.client.post(
            path, json=scores("l1", "Lengthen the pause."), headers=approver(svc, "lead")
        )
        assert decided.status_code == 200, decided.text
        assert decided.json()["outcome"] == "revision_requested"
        late = await svc.client.post(path, json=scores("l2"), headers=approver(svc, "lead"))
        assert late.status_code == 409
        metrics = (await svc.client.get("/metrics")).text
        assert "review_rater_disagreements_total 1.0" in metrics
        assert 'review_decisions_total{outcome="revision_requested"} 1.0' in metrics

        decision = await decision_of(svc, event.enrollment_id)
        assert decision["outcome"] == "revision_requested"
        assert decision["approver_id"] == "lead"
        assert sorted(decision["assessor_ids"]) == ["r1", "r2"]
        assert decision["results"][0]["met"] is False
        assert decision["results"][0]["feedback"] == "Lengthen the pause."

        # The decision is on the educator's tamper-evident trail, attributed to the approver.
        async with svc.runtime.engine.connect() as conn:
            trail = (
                await conn.execute(
                    sa.select(
                        audit.audit_log.c.actor,
                        audit.audit_log.c.action,
                        audit.audit_log.c.object_id,
                    ).where(audit.audit_log.c.chain == f"educator:{event.educator_id}")
                )
            ).all()
            assert [tuple(row) for row in trail] == [
                ("lead", "review.decided", event.submission_id)
            ]
            assert await audit.verify(conn) == []
