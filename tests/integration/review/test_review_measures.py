"""The state's research measures, from a small known history: queue depth, time to decision,
SLA breaches, pass rate per micro-credential and per criterion, attempts to pass and inter-rater
agreement, as JSON for state admins (filtered by micro-credential and date range) and as
Prometheus gauges at /metrics. Every expected figure is worked out by hand below."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from review_support import NOW, admin, assessor, put_assessor, review_service

from mc_events.db import execute_core
from review.adapters.tables import assignments, reviews
from review.entrypoints.scheduler import ReviewScheduler
from review.metrics import ReviewMetrics
from review.service_layer.unit_of_work import UnitOfWork

DAY = timedelta(days=1)
T = NOW


def _review(submission_id, mc_id, status, *, attempt=1, submitted, decided=None, outcome=None,
            results=None):  # fmt: skip
    return {
        "submission_id": submission_id,
        "enrollment_id": f"enr-{submission_id}",
        "attempt": attempt,
        "educator_id": f"edu-{submission_id}",
        "district_id": "lea-1",
        "micro_credential_id": mc_id,
        "micro_credential_version": 1,
        "raters_required": 1,
        "status": status,
        "submitted_at": submitted,
        "received_at": submitted,
        "artifacts": [],
        "decision_id": f"dec-{submission_id}" if decided else None,
        "outcome": outcome,
        "decided_at": decided,
        "results": None
        if results is None
        else [{"criterion_id": c, "level_id": "l", "met": met} for c, met in results],
    }


def _assignment(submission_id, slot, *, due, scored=None, levels=None):
    return {
        "assignment_id": f"asg-{submission_id}-{slot}",
        "submission_id": submission_id,
        "slot": slot,
        "role": "rater",
        "assessor_id": f"r{slot}",
        "assigned_at": due - 7 * DAY,
        "due_at": due,
        "status": "scored" if scored else "open",
        "scored_at": scored,
        "scores": None
        if levels is None
        else [{"criterion_id": c, "level_id": lv, "feedback": ""} for c, lv in levels],
    }


REVIEWS = [
    # mc-A: 2 days, double-rated and agreeing.
    _review("A1", "mc-A", "decided", submitted=T - 10 * DAY, decided=T - 8 * DAY,
            outcome="passed", results=[("c1", True), ("c2", True)]),
    # mc-A: 4 days, double-rated, disagreeing on c1.
    _review("A2", "mc-A", "decided", submitted=T - 10 * DAY, decided=T - 6 * DAY,
            outcome="revision_requested", results=[("c1", True), ("c2", False)]),
    # mc-A: 1 day, passed on the second attempt.
    _review("A3", "mc-A", "decided", attempt=2, submitted=T - 5 * DAY, decided=T - 4 * DAY,
            outcome="passed", results=[("c1", True), ("c2", True)]),
    # mc-B: 18 days, passed on the third attempt.
    _review("B1", "mc-B", "decided", attempt=3, submitted=T - 20 * DAY, decided=T - 2 * DAY,
            outcome="passed", results=[("c1", True)]),
    # mc-B: 2 days, not earned.
    _review("B2", "mc-B", "decided", submitted=T - 3 * DAY, decided=T - 1 * DAY,
            outcome="not_earned", results=[("c1", False)]),
    # In the queue now.
    _review("Q1", "mc-A", "in_review", submitted=T - 1 * DAY),
    _review("Q2", "mc-B", "awaiting_assessor", submitted=T - 2 * DAY),
]  # fmt: skip

ASSIGNMENTS = [
    _assignment("A1", 1, due=T - 7 * DAY, scored=T - 8 * DAY, levels=[("c1", "l2"), ("c2", "l2")]),
    _assignment("A1", 2, due=T - 7 * DAY, scored=T - 8 * DAY, levels=[("c1", "l2"), ("c2", "l2")]),
    # Scored a day late (an SLA breach).
    _assignment("A2", 1, due=T - 7 * DAY, scored=T - 6 * DAY, levels=[("c1", "l2"), ("c2", "l1")]),
    _assignment("A2", 2, due=T - 7 * DAY, scored=T - 7 * DAY - timedelta(hours=1),
                levels=[("c1", "l1"), ("c2", "l1")]),
    _assignment("A3", 1, due=T - 2 * DAY, scored=T - 4 * DAY, levels=[("c1", "l2"), ("c2", "l2")]),
    # Scored a day late (an SLA breach).
    _assignment("B1", 1, due=T - 3 * DAY, scored=T - 2 * DAY, levels=[("c1", "l2")]),
    _assignment("B2", 1, due=T + 2 * DAY, scored=T - 1 * DAY, levels=[("c1", "l1")]),
    # Open and an hour overdue (a breach, and overdue now).
    _assignment("Q1", 1, due=T - timedelta(hours=1)),
]  # fmt: skip


async def _history(svc) -> None:
    for name in ("r1", "r2"):
        await put_assessor(svc, name, qualifications=[])
    async with svc.runtime.sessions() as session, session.begin():
        await execute_core(session, sa.insert(reviews), REVIEWS)
        await execute_core(session, sa.insert(assignments), ASSIGNMENTS)


def _mc(body: dict, mc_id: str) -> dict:
    (found,) = [m for m in body["micro_credentials"] if m["micro_credential_id"] == mc_id]
    return found


async def test_measures_over_all_time_match_the_hand_worked_figures(infra):
    async with review_service(infra, overdue_sweep_enabled=False) as svc:
        await _history(svc)
        r = await svc.client.get("/measures", headers=admin(svc))
        assert r.status_code == 200, r.text
        body = r.json()

        assert body["queue"] == {
            "awaiting_assessor": 1,
            "in_review": 1,
            "awaiting_approver": 0,
            "misconduct_hold": 0,
            "total": 2,
            "oldest_waiting_since": "2026-02-28T15:00:00Z",
        }
        # Waits in days: 2, 4, 1, 18, 2.
        assert body["time_to_decision"] == {
            "decisions": 5,
            "mean_seconds": pytest.approx(27 / 5 * 86400),
            "median_seconds": pytest.approx(2 * 86400),
            # percentile_cont: 4 days + 0.6 of the way to 18 days.
            "p90_seconds": pytest.approx((4 + 0.6 * 14) * 86400),
        }
        assert body["sla"] == {
            "assignments_due": 8,
            "breaches": 3,
            "breach_rate": 0.375,
            "open_overdue": 1,
        }
        # Pairs (c1, c2) of A1: (l2,l2) (l2,l2); of A2: (l2,l1) (l1,l1): 3 of 4 alike.
        # Marginals: first rater l2 3, l1 1; second l2 2, l1 2: chance = 3/8 + 1/8 = 1/2,
        # kappa = (3/4 - 1/2) / (1 - 1/2) = 1/2.
        assert body["inter_rater"] == {"pairs": 4, "agreement": 0.75, "kappa": 0.5}

        a = _mc(body, "mc-A")
        assert (a["decisions"], a["passed"], a["revision_requested"], a["not_earned"]) == (
            3,
            2,
            1,
            0,
        )
        assert a["pass_rate"] == 0.6667
        assert a["mean_time_to_decision_seconds"] == pytest.approx(7 / 3 * 86400)
        assert a["attempts_to_pass"] == {
            "passes": 2,
            "mean_attempts": 1.5,
            "by_attempt": {"1": 1, "2": 1},
        }
        assert a["criteria"] == [
            {"criterion_id": "c1", "results": 3, "met": 3, "met_rate": 1.0},
            {"criterion_id": "c2", "results": 3, "met": 2, "met_rate": 0.6667},
        ]
        assert a["inter_rater"] == {"pairs": 4, "agreement": 0.75, "kappa": 0.5}

        b = _mc(body, "mc-B")
        assert (b["decisions"], b["passed"], b["not_earned"], b["pass_rate"]) == (2, 1, 1, 0.5)
        assert b["attempts_to_pass"] == {"passes": 1, "mean_attempts": 3.0, "by_attempt": {"3": 1}}
        assert b["criteria"] == [{"criterion_id": "c1", "results": 2, "met": 1, "met_rate": 0.5}]
        assert b["inter_rater"] == {"pairs": 0, "agreement": None, "kappa": None}

        # The same figures, all time, as Prometheus gauges once the scheduler refreshed them.
        metrics = ReviewMetrics.of(svc.definition.registry)
        await ReviewScheduler(svc.definition.settings, metrics, lambda: NOW).refresh_measures(
            UnitOfWork(svc.runtime.sessions)
        )
        text = (await svc.client.get("/metrics")).text
        for line in (
            'review_queue_depth{status="in_review"} 1.0',
            'review_queue_depth{status="awaiting_assessor"} 1.0',
            "review_sla_breaches 3.0",
            "review_assignments_overdue 1.0",
            'review_pass_rate_ratio{micro_credential_id="mc-B"} 0.5',
            'review_criterion_met_ratio{criterion_id="c1",micro_credential_id="mc-B"} 0.5',
            'review_mean_attempts_to_pass{micro_credential_id="mc-A"} 1.5',
            'review_mean_time_to_decision_seconds{micro_credential_id="mc-B"} 864000.0',
            "review_inter_rater_agreement_ratio 0.75",
            "review_inter_rater_kappa 0.5",
        ):
            assert line in text, line


async def test_measures_filter_by_micro_credential_and_date_range(infra):
    async with review_service(infra, overdue_sweep_enabled=False) as svc:
        await _history(svc)
        r = await svc.client.get(
            "/measures",
            params={
                "micro_credential_id": "mc-A",
                "since": (T - 7 * DAY).isoformat(),
                "until": T.isoformat(),
            },
            headers=admin(svc),
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["queue"]["in_review"] == 1
        assert body["queue"]["awaiting_assessor"] == 0  # Q2 is mc-B
        # Decided in the window: A2 (4 days) and A3 (1 day).
        assert body["time_to_decision"]["decisions"] == 2
        assert body["time_to_decision"]["mean_seconds"] == pytest.approx(2.5 * 86400)
        # Due in the window: A1 x2, A2 x2, A3, Q1; late: A2 slot 1, Q1.
        assert body["sla"] == {
            "assignments_due": 6,
            "breaches": 2,
            "breach_rate": 0.3333,
            "open_overdue": 1,
        }
        (a,) = body["micro_credentials"]
        assert (a["micro_credential_id"], a["decisions"], a["pass_rate"]) == ("mc-A", 2, 0.5)
        assert a["attempts_to_pass"]["by_attempt"] == {"2": 1}
        # A2 alone: (l2,l1) (l1,l1): half alike, and exactly what chance gives: kappa 0.
        assert a["inter_rater"] == {"pairs": 2, "agreement": 0.5, "kappa": 0.0}

        empty = await svc.client.get(
            "/measures", params={"until": (T - 30 * DAY).isoformat()}, headers=admin(svc)
        )
        assert empty.json()["micro_credentials"] == []
        assert empty.json()["time_to_decision"]["mean_seconds"] is None
        assert empty.json()["inter_rater"] == {"pairs": 0, "agreement": None, "kappa": None}


async def test_bad_measure_queries_are_refused(infra):
    async with review_service(infra, overdue_sweep_enabled=False) as svc:
        for params in (
            {"since": T.isoformat(), "until": (T - DAY).isoformat()},
            {"since": "2026-03-01T00:00:00"},  # no timezone
            {"since": "yesterday"},
            {"micro_credential_id": ""},
        ):
            r = await svc.client.get("/measures", params=params, headers=admin(svc))
            assert r.status_code == 422, params
        r = await svc.client.get("/measures", headers=assessor(svc, "r1"))
        assert r.status_code == 403
        assert (await svc.client.get("/measures")).status_code == 401


async def test_a_decision_without_results_counts_as_a_decision_and_no_criterion(infra):
    # A misconduct ruling decides "not earned" without scoring any criterion: its results are
    # stored as JSON null, and the measures still answer.
    ruled = _review("M1", "mc-M", "decided", submitted=T - 3 * DAY, decided=T - DAY,
                    outcome="not_earned")  # fmt: skip
    async with review_service(infra, overdue_sweep_enabled=False) as svc:
        async with svc.runtime.sessions() as session, session.begin():
            await execute_core(session, sa.insert(reviews), [ruled])
        r = await svc.client.get("/measures", headers=admin(svc))
        assert r.status_code == 200, r.text
        (m,) = r.json()["micro_credentials"]
        assert (m["micro_credential_id"], m["decisions"], m["not_earned"]) == ("mc-M", 1, 1)
        assert m["criteria"] == []
