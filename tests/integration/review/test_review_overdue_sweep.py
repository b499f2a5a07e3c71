"""Assignments past their SLA due date: the overdue sweep releases them and reassigns the
submission to another eligible assessor (never the same one), and ``review.assignment_escalated``
is emitted exactly once per overdue assignment, across repeated, concurrent and crashed sweeps.
The sweep runs in ``serve`` every interval (with an off switch), from an operator route, and
once from the command line. Time is injected."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import timedelta

from review_support import (
    DUE,
    NOW,
    SettableClock,
    admin,
    assessor,
    consumed,
    events_of_type,
    published,
    put_assessor,
    qualified_for,
    review_of,
    review_service,
    scores,
    send,
    submitted,
    uid,
    wait_review,
)

from mc_events.consumer import wait_until
from review.entrypoints.scheduler import ReviewScheduler
from review.metrics import ReviewMetrics
from review.service_layer.assignment import policy_of
from review.service_layer.overdue import sweep_batch
from review.service_layer.unit_of_work import UnitOfWork

AFTER_DUE = DUE + timedelta(minutes=1)


async def _assigned_submission(svc, infra, mc_id: str, **fields):
    (catalog_id,) = await send(infra, published(mc_id, uid("competency")))
    await consumed(svc, catalog_id)
    event = submitted(mc_id, district_id="lea-home", **fields)
    await send(infra, event)
    await wait_review(svc, event.submission_id, "in_review")
    return event


async def _sweep(svc) -> dict:
    r = await svc.client.post("/reviews/sweep-overdue", headers=admin(svc))
    assert r.status_code == 200, r.text
    return r.json()


async def test_an_overdue_assignment_is_reassigned_to_someone_else_and_escalated_once(infra):
    mc_id = uid("mc")
    clock = SettableClock()
    async with review_service(infra, clock=clock) as svc:
        await put_assessor(svc, "a-slow", qualifications=qualified_for(mc_id))
        event = await _assigned_submission(svc, infra, mc_id)
        await put_assessor(svc, "b-spare", qualifications=qualified_for(mc_id))
        (first,) = (await review_of(svc, event.submission_id))["assignments"]
        assert first["assessor_id"] == "a-slow"

        # Due, not overdue: nothing happens.
        clock.now = DUE
        assert (await _sweep(svc))["overdue"] == 0

        clock.now = AFTER_DUE
        assert await _sweep(svc) == {
            "overdue": 1,
            "reassigned": 1,
            "escalated": 1,
            "needs_state_admin": 0,
            "skipped": False,
        }
        review = await review_of(svc, event.submission_id)
        assert review["status"] == "in_review"
        old, new = review["assignments"]
        assert (old["assessor_id"], old["status"]) == ("a-slow", "released")
        assert (new["assessor_id"], new["status"], new["slot"]) == ("b-spare", "open", 1)
        assert new["assigned_at"] == AFTER_DUE.isoformat().replace("+00:00", "Z")
        assert new["due_at"].startswith("2026-03-16T15:01:00")  # five business days on
        (escalation,) = review["escalations"]
        assert escalation["assignment_id"] == old["assignment_id"]
        assert escalation["outcome"] == "reassigned"
        assert escalation["reassigned_to"] == "b-spare"

        # Sweeping again, later, changes nothing and emits nothing.
        clock.now = AFTER_DUE + timedelta(days=1)
        assert (await _sweep(svc))["escalated"] == 0
        assert (await review_of(svc, event.submission_id))["assignments"] == review["assignments"]

        assigned = await events_of_type(svc, event.enrollment_id, "review.assigned")
        assert [e["assessor_id"] for e in assigned] == ["a-slow", "b-spare"]
        assert assigned[1]["assignment_id"] == new["assignment_id"]
        (escalated,) = await events_of_type(svc, event.enrollment_id, "review.assignment_escalated")
        assert escalated["event_id"] == escalation["escalation_id"]
        assert escalated["overdue_assignment_id"] == old["assignment_id"]
        assert escalated["overdue_assessor_id"] == "a-slow"
        assert escalated["outcome"] == "reassigned"
        assert escalated["reassigned_assignment_id"] == new["assignment_id"]
        assert escalated["reassigned_to"] == "b-spare"

        async def published() -> bool:
            rows = await events_of_type(svc, event.enrollment_id, "review.assignment_escalated")
            return all(r["published"] for r in rows)

        assert await wait_until(published, 30)

        # The released assessor can no longer score it; the new one decides.
        late = await svc.client.post(
            f"/assignments/{old['assignment_id']}/scores",
            json=scores("l2"),
            headers=assessor(svc, "a-slow"),
        )
        assert late.status_code == 409
        ok = await svc.client.post(
            f"/assignments/{new['assignment_id']}/scores",
            json=scores("l2"),
            headers=assessor(svc, "b-spare"),
        )
        assert ok.json()["outcome"] == "passed"
        metrics = (await svc.client.get("/metrics")).text
        assert 'review_escalations_total{outcome="reassigned"} 1.0' in metrics


async def test_with_nobody_else_eligible_it_needs_a_state_admin_then_is_reassigned_later(infra):
    mc_id = uid("mc")
    clock = SettableClock()
    async with review_service(infra, clock=clock) as svc:
        await put_assessor(svc, "a-only", qualifications=qualified_for(mc_id))
        event = await _assigned_submission(svc, infra, mc_id)
        # Not eligible, each for a reason: conflict, capacity, calibration, qualification.
        await put_assessor(
            svc, "b-conflict", district_id="lea-home", qualifications=qualified_for(mc_id)
        )
        await put_assessor(svc, "c-full", weekly_capacity=0, qualifications=qualified_for(mc_id))
        await put_assessor(
            svc,
            "d-uncalibrated",
            calibration_status="needs_recalibration",
            qualifications=qualified_for(mc_id),
        )
        await put_assessor(svc, "e-unqualified", qualifications=qualified_for(uid("other")))

        clock.now = AFTER_DUE
        result = await _sweep(svc)
        assert (result["escalated"], result["needs_state_admin"], result["reassigned"]) == (1, 1, 0)
        review = await review_of(svc, event.submission_id)
        (kept,) = review["assignments"]
        assert (kept["assessor_id"], kept["status"]) == ("a-only", "open")
        (escalation,) = review["escalations"]
        assert escalation["outcome"] == "needs_state_admin"
        assert escalation["reassigned_to"] is None

        # Sweeps keep trying without escalating again.
        for _ in range(2):
            again = await _sweep(svc)
            assert (again["overdue"], again["escalated"], again["reassigned"]) == (1, 0, 0)

        # A state admin makes someone eligible: the next sweep reassigns, still one escalation.
        await put_assessor(svc, "c-full", weekly_capacity=5, qualifications=qualified_for(mc_id))
        later = await _sweep(svc)
        assert (later["reassigned"], later["escalated"]) == (1, 0)
        review = await review_of(svc, event.submission_id)
        assert [(a["assessor_id"], a["status"]) for a in review["assignments"]] == [
            ("a-only", "released"),
            ("c-full", "open"),
        ]
        (escalation,) = review["escalations"]
        assert escalation["reassigned_to"] == "c-full"
        # The release is on the stream too, once, under the same escalation.
        first, late = await events_of_type(svc, event.enrollment_id, "review.assignment_escalated")
        assert first["outcome"] == "needs_state_admin"
        assert (late["outcome"], late["reassigned_to"]) == ("reassigned", "c-full")
        assert late["escalation_id"] == first["escalation_id"]
        assert late["overdue_assignment_id"] == kept["assignment_id"]
        assert (await _sweep(svc))["reassigned"] == 0
        assert (
            len(await events_of_type(svc, event.enrollment_id, "review.assignment_escalated")) == 2
        )
        assigned = await events_of_type(svc, event.enrollment_id, "review.assigned")
        assert [e["assessor_id"] for e in assigned] == ["a-only", "c-full"]


async def test_double_rating_never_reassigns_to_the_other_rater(infra):
    mc_id = uid("mc")
    clock = SettableClock()
    async with review_service(infra, clock=clock, raters_per_submission=2) as svc:
        for name in ("r1", "r2"):
            await put_assessor(svc, name, qualifications=qualified_for(mc_id))
        event = await _assigned_submission(svc, infra, mc_id)
        review = await review_of(svc, event.submission_id)
        by_rater = {a["assessor_id"]: a["assignment_id"] for a in review["assignments"]}
        ok = await svc.client.post(
            f"/assignments/{by_rater['r1']}/scores", json=scores("l2"), headers=assessor(svc, "r1")
        )
        assert ok.json()["review_status"] == "in_review"

        clock.now = AFTER_DUE
        # r1 has capacity, but rated it already: r2's overdue slot has nobody to go to.
        assert (await _sweep(svc))["needs_state_admin"] == 1
        await put_assessor(svc, "r3", qualifications=qualified_for(mc_id))
        assert (await _sweep(svc))["reassigned"] == 1
        review = await review_of(svc, event.submission_id)
        assert [(a["slot"], a["assessor_id"], a["status"]) for a in review["assignments"]] == [
            (1, "r1", "scored"),
            (2, "r2", "released"),
            (2, "r3", "open"),
        ]


async def test_concurrent_and_crashed_sweeps_escalate_exactly_once(infra):
    mc_id = uid("mc")
    clock = SettableClock()
    async with review_service(infra, clock=clock) as svc:
        for name in ("a", "b", "c", "d"):
            await put_assessor(svc, name, qualifications=qualified_for(mc_id))
        events = [await _assigned_submission(svc, infra, mc_id) for _ in range(3)]
        clock.now = AFTER_DUE
        settings = svc.definition.settings

        # A sweep that dies before its commit leaves no trace.
        async with UnitOfWork(svc.runtime.sessions) as uow:
            crashed = await sweep_batch(uow, policy_of(settings), clock(), 100)
            assert crashed.escalated == 3
            # no commit: the transaction rolls back as if the process had been killed
        for event in events:
            review = await review_of(svc, event.submission_id)
            assert review["escalations"] == []
            assert [a["status"] for a in review["assignments"]] == ["open"]

        # Replicas sweeping at once: every overdue assignment is escalated once in total.
        runner = ReviewScheduler(settings, ReviewMetrics.of(svc.definition.registry), clock)
        results = await asyncio.gather(
            *(runner.sweep_once(UnitOfWork(svc.runtime.sessions)) for _ in range(4))
        )
        assert sum(r.escalated for r in results) == 3
        assert sum(r.reassigned for r in results) == 3
        for event in events:
            assert len(await events_of_type(svc, event.enrollment_id, "review.assigned")) == 2
            assert (
                len(await events_of_type(svc, event.enrollment_id, "review.assignment_escalated"))
                == 1
            )
        # Nobody took more than their weekly capacity, and nobody got a submission back.
        for event in events:
            review = await review_of(svc, event.submission_id)
            holders = [a["assessor_id"] for a in review["assignments"]]
            assert len(set(holders)) == len(holders) == 2


async def test_the_scheduler_sweeps_by_itself_unless_switched_off(infra):
    mc_id = uid("mc")
    clock = SettableClock()
    async with review_service(
        infra, clock=clock, sweep_interval_seconds=0.1, overdue_sweep_enabled=False
    ) as svc:
        await put_assessor(svc, "a", qualifications=qualified_for(mc_id))
        await put_assessor(svc, "b", qualifications=qualified_for(mc_id))
        event = await _assigned_submission(svc, infra, mc_id)
        clock.now = AFTER_DUE
        await asyncio.sleep(0.5)
        assert (await review_of(svc, event.submission_id))["escalations"] == []
        # The research gauges are refreshed all the same.
        assert (
            'review_queue_depth{status="in_review"} 1.0' in (await svc.client.get("/metrics")).text
        )

    clock = SettableClock()
    async with review_service(infra, clock=clock, sweep_interval_seconds=0.1) as svc:
        await put_assessor(svc, "a", qualifications=qualified_for(mc_id))
        await put_assessor(svc, "b", qualifications=qualified_for(mc_id))
        event = await _assigned_submission(svc, infra, mc_id)
        clock.now = AFTER_DUE

        async def escalated() -> bool:
            review = await review_of(svc, event.submission_id)
            return review is not None and len(review["escalations"]) == 1

        assert await wait_until(escalated, 10)
        assert (
            'review_overdue_sweeps_total{result="done"}' in (await svc.client.get("/metrics")).text
        )


async def test_the_command_line_sweeps_once_and_reports(infra):
    mc_id = uid("mc")
    async with review_service(infra) as svc:
        await put_assessor(svc, "a", qualifications=qualified_for(mc_id))
        await put_assessor(svc, "b", qualifications=qualified_for(mc_id))
        event = await _assigned_submission(svc, infra, mc_id)
        assert NOW < DUE  # the command uses the real clock, long after DUE
        env = {**os.environ, "REVIEW_DATABASE_URL": svc.definition.settings.database_url}
        run = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "review", "sweep-overdue"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode == 0, run.stderr
        report = json.loads(run.stdout.strip().splitlines()[-1])
        assert (report["escalated"], report["reassigned"]) == (1, 1)
        (escalation,) = (await review_of(svc, event.submission_id))["escalations"]
        assert escalation["reassigned_to"] == "b"


async def test_only_a_state_admin_runs_the_sweep(infra):
    async with review_service(infra) as svc:
        r = await svc.client.post("/reviews/sweep-overdue", headers=assessor(svc, "a"))
        assert r.status_code == 403


async def test_a_submission_being_scored_right_now_is_left_to_the_next_sweep(infra):
    mc_id = uid("mc")
    clock = SettableClock()
    async with review_service(infra, clock=clock) as svc:
        await put_assessor(svc, "a", qualifications=qualified_for(mc_id))
        await put_assessor(svc, "b", qualifications=qualified_for(mc_id))
        event = await _assigned_submission(svc, infra, mc_id)
        clock.now = AFTER_DUE
        # A scoring command holds the review row (it locks it first).
        async with UnitOfWork(svc.runtime.sessions) as scoring:
            assert await scoring.reviews.get(event.submission_id, for_update=True) is not None
            busy = await _sweep(svc)
            assert (busy["overdue"], busy["escalated"]) == (1, 0)
        assert (await _sweep(svc))["escalated"] == 1
