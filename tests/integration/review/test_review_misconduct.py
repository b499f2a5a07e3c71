"""Misconduct: the assigned assessor flags plagiarism, fabricated evidence or identifiable
student data; the flag goes to an approver free of conflicts, who sees it blind. Confirmed
before a decision: not earned, with the misconduct as the reason. Confirmed after a pass: one
revocation request to the registry. Dismissed: the review continues. Each step is audited."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from review_support import (
    DUE,
    NOW,
    SettableClock,
    approver,
    assessor,
    consumed,
    events_of_type,
    published,
    put_assessor,
    qualified_for,
    registered,
    review_of,
    review_service,
    roster_has,
    scores,
    send,
    submitted,
    uid,
    wait_review,
)

from mc_events.contracts.review import Decided, MisconductKind, RevocationRequested
from mc_platform import audit
from mc_platform.auth import Role


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


PLAGIARISM = {"kind": "plagiarism", "detail": "The reflection matches a published blog post."}


async def _under_review(svc, infra, mc_id: str, **fields):
    (catalog_id,) = await send(infra, published(mc_id, uid("competency")))
    await consumed(svc, catalog_id)
    event = submitted(mc_id, **fields)
    await send(infra, event)
    review = await wait_review(svc, event.submission_id, "in_review")
    return event, review["assignments"][0]["assignment_id"]


async def _trail(svc, educator_id: str) -> list[tuple[str, str]]:
    async with svc.runtime.engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(audit.audit_log.c.actor, audit.audit_log.c.action)
                .where(audit.audit_log.c.chain == f"educator:{educator_id}")
                .order_by(audit.audit_log.c.seq)
            )
        ).all()
        assert await audit.verify(conn) == []
    return [tuple(r) for r in rows]


async def test_confirmed_before_a_decision_is_not_earned_with_the_reason(infra):
    mc_id = uid("mc")
    educator_id, district, school = uid("edu"), uid("lea"), uid("sch")
    identity = registered(educator_id, district, school_id=school).model_copy(
        update={"first_name": uid("Grace"), "last_name": uid("Hopper")}
    )
    async with review_service(infra) as svc:
        (roster_id,) = await send(infra, identity)
        await consumed(svc, roster_id)
        await roster_has(svc, educator_id)
        await put_assessor(svc, "rater", qualifications=qualified_for(mc_id))
        await put_assessor(svc, "bystander", qualifications=qualified_for(uid("other")))
        await put_assessor(svc, "lead", weekly_capacity=0)
        await put_assessor(svc, "lead-same-district", district_id=district, weekly_capacity=0)
        event, assignment_id = await _under_review(
            svc, infra, mc_id, educator_id=educator_id, district_id=district, school_id=school
        )
        path = f"/assignments/{assignment_id}/misconduct"

        # Only the assigned assessor flags, with a known kind and a detail.
        assert (
            await svc.client.post(path, json=PLAGIARISM, headers=assessor(svc, "bystander"))
        ).status_code == 404
        educator = svc.auth(educator_id, Role.EDUCATOR, educator_id=educator_id)
        assert (await svc.client.post(path, json=PLAGIARISM, headers=educator)).status_code == 403
        for bad in ({"kind": "rudeness", "detail": "x"}, {"kind": "plagiarism", "detail": ""}):
            r = await svc.client.post(path, json=bad, headers=assessor(svc, "rater"))
            assert r.status_code == 422, bad
        assert (await review_of(svc, event.submission_id))["status"] == "in_review"

        flagged = await svc.client.post(path, json=PLAGIARISM, headers=assessor(svc, "rater"))
        assert flagged.status_code == 201, flagged.text
        case = flagged.json()
        assert (case["status"], case["kind"]) == ("open", "plagiarism")
        assert (await review_of(svc, event.submission_id))["status"] == "misconduct_hold"
        twice = await svc.client.post(path, json=PLAGIARISM, headers=assessor(svc, "rater"))
        assert twice.status_code == 409
        # On hold: no scoring until an approver rules.
        held = await svc.client.post(
            f"/assignments/{assignment_id}/scores",
            json=scores("l2"),
            headers=assessor(svc, "rater"),
        )
        assert held.status_code == 409

        # Routed to approvers free of conflicts, blind.
        queue = await svc.client.get("/misconduct-cases", headers=approver(svc, "lead"))
        assert queue.status_code == 200
        (view,) = [c for c in queue.json() if c["case_id"] == case["case_id"]]
        assert view["detail"] == PLAGIARISM["detail"]
        assert view["decided_outcome"] is None
        assert [a["requirement_id"] for a in view["artifacts"]] == ["r1"]
        for secret in (identity.first_name, identity.last_name, educator_id, district, school):
            assert secret not in queue.text
        assert "rater" not in queue.text  # who flagged it is not shown either
        for who in ("lead-same-district", "rater"):
            other = await svc.client.get("/misconduct-cases", headers=approver(svc, who))
            assert case["case_id"] not in other.text, who
        assert (
            await svc.client.get("/misconduct-cases", headers=assessor(svc, "lead"))
        ).status_code == 403

        ruling_path = f"/misconduct-cases/{case['case_id']}/ruling"
        confirm = {"confirmed": True, "finding": "Copied word for word."}
        for who in ("rater", "lead-same-district", "not-on-roster"):
            refused = await svc.client.post(ruling_path, json=confirm, headers=approver(svc, who))
            assert refused.status_code == 403, (who, refused.text)
        assert (
            await svc.client.post(
                ruling_path, json={"confirmed": "maybe"}, headers=approver(svc, "lead")
            )
        ).status_code == 422

        ruled = await svc.client.post(ruling_path, json=confirm, headers=approver(svc, "lead"))
        assert ruled.status_code == 200, ruled.text
        assert ruled.json()["effect"] == "not_earned"
        assert ruled.json()["review_status"] == "decided"
        again = await svc.client.post(ruling_path, json=confirm, headers=approver(svc, "lead"))
        assert again.status_code == 409

        review = await review_of(svc, event.submission_id)
        assert (review["status"], review["outcome"]) == ("decided", "not_earned")
        assert [a["status"] for a in review["assignments"]] == ["closed"]
        (stored,) = review["misconduct_cases"]
        assert (stored["status"], stored["effect"]) == ("confirmed", "not_earned")

        (decision,) = await events_of_type(svc, event.enrollment_id, "review.decided")
        decided = Decided.model_validate(decision)
        assert decided.outcome.value == "not_earned"
        assert decided.misconduct == MisconductKind.PLAGIARISM
        assert decided.approver_id == "lead"
        assert decided.assessor_ids == ("rater",)
        assert [r.met for r in decided.results] == [False]
        assert "plagiarism" in decided.results[0].feedback
        assert "Copied word for word." in decided.results[0].feedback
        assert await events_of_type(svc, event.enrollment_id, "review.revocation_requested") == []

        assert await _trail(svc, educator_id) == [
            ("rater", "review.misconduct_flagged"),
            ("lead", "review.decided"),
            ("lead", "review.misconduct_confirmed"),
        ]
        metrics = (await svc.client.get("/metrics")).text
        assert 'review_misconduct_cases_total{step="confirmed"} 1.0' in metrics
        assert 'review_decisions_total{outcome="not_earned"} 1.0' in metrics


async def test_a_dismissed_flag_lets_the_review_continue(infra):
    mc_id = uid("mc")
    clock = SettableClock()
    async with review_service(infra, clock=clock) as svc:
        await put_assessor(svc, "rater", qualifications=qualified_for(mc_id))
        await put_assessor(svc, "lead", weekly_capacity=0)
        event, assignment_id = await _under_review(svc, infra, mc_id)
        assert (await review_of(svc, event.submission_id))["assignments"][0]["due_at"] == iso(DUE)
        flagged = await svc.client.post(
            f"/assignments/{assignment_id}/misconduct",
            json={"kind": "identifiable_student_data", "detail": "A student's name on screen."},
            headers=assessor(svc, "rater"),
        )
        case_id = flagged.json()["case_id"]
        clock.now = NOW + timedelta(days=2)
        ruled = await svc.client.post(
            f"/misconduct-cases/{case_id}/ruling",
            json={"confirmed": False, "finding": "The name is blurred in the video."},
            headers=approver(svc, "lead"),
        )
        assert ruled.status_code == 200, ruled.text
        assert (ruled.json()["effect"], ruled.json()["review_status"]) == (
            "review_continues",
            "in_review",
        )
        review = await review_of(svc, event.submission_id)
        assert review["status"] == "in_review"
        # Two days on hold: the assessor gets those two days back.
        assert review["assignments"][0]["due_at"] == iso(DUE + timedelta(days=2))
        # Dismissed: nothing was decided and nothing was asked of the registry.
        assert await events_of_type(svc, event.enrollment_id, "review.decided") == []
        scored = await svc.client.post(
            f"/assignments/{assignment_id}/scores",
            json=scores("l2"),
            headers=assessor(svc, "rater"),
        )
        assert scored.json()["outcome"] == "passed"
        (decision,) = await events_of_type(svc, event.enrollment_id, "review.decided")
        assert decision["misconduct"] is None
        assert await _trail(svc, event.educator_id) == [
            ("rater", "review.misconduct_flagged"),
            ("lead", "review.misconduct_dismissed"),
            ("rater", "review.decided"),
        ]


async def test_confirmed_after_an_award_requests_one_revocation(infra):
    mc_id = uid("mc")
    async with review_service(infra) as svc:
        await put_assessor(svc, "rater", qualifications=qualified_for(mc_id))
        await put_assessor(svc, "lead", weekly_capacity=0)
        event, assignment_id = await _under_review(svc, infra, mc_id)
        passed = await svc.client.post(
            f"/assignments/{assignment_id}/scores",
            json=scores("l2"),
            headers=assessor(svc, "rater"),
        )
        assert passed.json()["outcome"] == "passed"

        flagged = await svc.client.post(
            f"/assignments/{assignment_id}/misconduct",
            json={"kind": "fabricated_evidence", "detail": "The video is from another school."},
            headers=assessor(svc, "rater"),
        )
        assert flagged.status_code == 201
        # A decided review stays decided while the flag is open.
        assert (await review_of(svc, event.submission_id))["status"] == "decided"
        queue = await svc.client.get("/misconduct-cases", headers=approver(svc, "lead"))
        (view,) = [c for c in queue.json() if c["case_id"] == flagged.json()["case_id"]]
        assert view["decided_outcome"] == "passed"

        path = f"/misconduct-cases/{flagged.json()['case_id']}/ruling"
        body = {"confirmed": True, "finding": "Confirmed with the district."}
        ruled = await svc.client.post(path, json=body, headers=approver(svc, "lead"))
        assert ruled.status_code == 200, ruled.text
        assert ruled.json()["effect"] == "revocation_requested"
        assert (
            await svc.client.post(path, json=body, headers=approver(svc, "lead"))
        ).status_code == 409
        # Once confirmed, the submission cannot be flagged again (no second request).
        refused = await svc.client.post(
            f"/assignments/{assignment_id}/misconduct",
            json=PLAGIARISM,
            headers=assessor(svc, "rater"),
        )
        assert refused.status_code == 409

        (request,) = await events_of_type(svc, event.enrollment_id, "review.revocation_requested")
        revocation = RevocationRequested.model_validate(request)
        assert request["event_id"] == revocation.request_id == ruled.json()["revocation_request_id"]
        assert revocation.submission_id == event.submission_id
        assert revocation.educator_id == event.educator_id
        assert revocation.kind.value == "fabricated_evidence"
        assert revocation.detail == "Confirmed with the district."
        assert revocation.approver_id == "lead"
        # The passing decision stands as it was published; only one decision exists.
        (decision,) = await events_of_type(svc, event.enrollment_id, "review.decided")
        assert decision["outcome"] == "passed"
        review = await review_of(svc, event.submission_id)
        assert (review["status"], review["outcome"]) == ("decided", "passed")
