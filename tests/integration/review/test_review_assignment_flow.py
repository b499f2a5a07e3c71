"""Submissions arriving on ``enrollment.enrollments`` become reviews assigned to an eligible
assessor, with ``review.assigned`` published through the outbox; conflicts of interest come
from the roster events and the assessor roster; a redelivered submission is assigned once."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from review_support import (
    DUE,
    NOW,
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
from mc_events.contracts.roster import EducatorMovedDistrict
from mc_events.db import execute_core
from review.adapters.tables import assignments


async def test_submission_is_assigned_to_the_eligible_assessor_and_published(infra):
    mc_id, competency = uid("mc"), uid("competency")
    async with review_service(infra) as svc:
        # Tie-break by id would favour the a-... assessors; each is ineligible for one reason.
        await put_assessor(svc, "a-same-district", district_id="lea-home")
        await put_assessor(svc, "a-same-school", school_id="sch-home")
        await put_assessor(svc, "a-uncalibrated", calibration_status="needs_recalibration")
        await put_assessor(svc, "a-no-capacity", weekly_capacity=0)
        await put_assessor(svc, "a-not-qualified", qualifications=qualified_for(uid("other")))
        for name in ("a-same-district", "a-same-school", "a-uncalibrated", "a-no-capacity"):
            await put_assessor(
                svc,
                name,
                district_id="lea-home" if name == "a-same-district" else "lea-far",
                school_id="sch-home" if name == "a-same-school" else None,
                calibration_status="needs_recalibration"
                if name == "a-uncalibrated"
                else "calibrated",
                weekly_capacity=0 if name == "a-no-capacity" else 5,
                qualifications=qualified_for(mc_id),
            )
        # Qualified through the competency the catalog event names.
        await put_assessor(
            svc, "z-eligible", qualifications=[{"kind": "competency", "id": competency}]
        )
        event = submitted(mc_id, district_id="lea-home", school_id="sch-home")
        await send(infra, published(mc_id, competency))
        await send(infra, event)

        review = await wait_review(svc, event.submission_id, "in_review")
        (assignment,) = review["assignments"]
        assert assignment["assessor_id"] == "z-eligible"
        assert assignment["role"] == "rater"
        assert assignment["assigned_at"] == NOW.isoformat().replace("+00:00", "Z")
        assert assignment["due_at"] == DUE.isoformat().replace("+00:00", "Z")

        async def published_once() -> bool:
            rows = await outbox_events(svc, event.enrollment_id)
            return len(rows) == 1 and rows[0]["published"]

        assert await wait_until(published_once, 30)
        (out,) = await outbox_events(svc, event.enrollment_id)
        assert out["event_id"] == assignment["assignment_id"]
        assert out["assessor_id"] == "z-eligible"
        assert out["submission_id"] == event.submission_id
        assert out["due_at"].startswith("2026-03-09T15:00:00")


async def test_redelivered_submission_creates_one_assignment(infra):
    mc_id = uid("mc")
    async with review_service(infra) as svc:
        await put_assessor(svc, "rater-1", qualifications=qualified_for(mc_id))
        await put_assessor(svc, "rater-2", qualifications=qualified_for(mc_id))
        event = submitted(mc_id)
        # The same record twice (inbox), and the same submission under a new event id (as a
        # republishing producer would): the review and its slot are unique by submission.
        first = await send(infra, event)
        again = await send(infra, event, event_ids=first)
        other = await send(infra, event)
        await consumed(svc, *first, *again, *other)

        review = await wait_review(svc, event.submission_id, "in_review")
        assert len(review["assignments"]) == 1
        async with svc.runtime.sessions() as session:
            count = await execute_core(
                session,
                sa.select(sa.func.count()).where(
                    assignments.c.submission_id == event.submission_id
                ),
            )
            assert count.scalar_one() == 1
        assert len(await outbox_events(svc, event.enrollment_id)) == 1


async def test_the_educators_whole_supervision_chain_is_excluded(infra):
    mc_id = uid("mc")
    educator, boss, big_boss = uid("edu"), uid("boss"), uid("bigboss")
    async with review_service(infra) as svc:
        # The chain crosses districts (e.g. a regional lead), so only the chain rule applies.
        events = [
            registered(educator, "lea-home", supervisor_id=boss),
            registered(boss, "lea-home", supervisor_id=big_boss),
            registered(big_boss, "lea-region"),
        ]
        await send(infra, *events)
        await roster_has(svc, educator, boss, big_boss)
        await put_assessor(
            svc,
            "a-big-boss",
            educator_id=big_boss,
            district_id="lea-region",
            qualifications=qualified_for(mc_id),
        )
        await put_assessor(svc, "b-independent", qualifications=qualified_for(mc_id))

        event = submitted(mc_id, educator_id=educator, supervisor_id=boss)
        await send(infra, event)
        review = await wait_review(svc, event.submission_id, "in_review")
        assert [a["assessor_id"] for a in review["assignments"]] == ["b-independent"]

        # The boss moves to another district with no supervisor there: the chain above the
        # educator ends at the boss, and the regional lead may now review them.
        move = EducatorMovedDistrict(
            educator_id=boss,
            from_district_id="lea-home",
            to_district_id="lea-new",
            supervisor_id=None,
            effective_at=NOW,
        )
        (move_id,) = await send(infra, move)
        await consumed(svc, move_id)
        later = submitted(mc_id, educator_id=educator, supervisor_id=boss)
        await send(infra, later)
        review = await wait_review(svc, later.submission_id, "in_review")
        assert [a["assessor_id"] for a in review["assignments"]] == ["a-big-boss"]


async def test_a_waiting_submission_is_assigned_when_an_assessor_becomes_eligible(infra):
    mc_id = uid("mc")
    async with review_service(infra) as svc:
        await put_assessor(
            svc,
            "trainee",
            calibration_status="in_training",
            weekly_capacity=1,
            qualifications=qualified_for(mc_id),
        )
        first = submitted(mc_id, submitted_at=NOW - timedelta(hours=2))
        second = submitted(mc_id, submitted_at=NOW - timedelta(hours=1))
        await send(infra, first, second)
        await wait_review(svc, first.submission_id, "awaiting_assessor")
        await wait_review(svc, second.submission_id, "awaiting_assessor")

        # Calibrated now, with room for one this week: the longest waiting submission gets it.
        await put_assessor(
            svc,
            "trainee",
            calibration_status="calibrated",
            weekly_capacity=1,
            qualifications=qualified_for(mc_id),
        )
        assert (await wait_review(svc, first.submission_id, "in_review"))["assignments"]
        assert not (await wait_review(svc, second.submission_id, "awaiting_assessor"))[
            "assignments"
        ]


async def test_double_rating_assigns_two_distinct_raters(infra):
    mc_id = uid("mc")
    async with review_service(infra, raters_per_submission=2) as svc:
        for name in ("r1", "r2", "r3"):
            await put_assessor(svc, name, qualifications=qualified_for(mc_id))
        event = submitted(mc_id)
        await send(infra, event)
        review = await wait_review(svc, event.submission_id, "in_review")
        raters = [(a["slot"], a["assessor_id"]) for a in review["assignments"]]
        assert raters == [(1, "r1"), (2, "r2")]
        assert len(await outbox_events(svc, event.enrollment_id)) == 2
