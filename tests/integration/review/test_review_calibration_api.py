"""Calibration gating: a run below 80 % agreement with the reference keeps an assessor from
being assigned; a passing run makes them assignable at once; runs are kept as a drift report."""

from __future__ import annotations

from decimal import Decimal

from review_support import (
    admin,
    put_assessor,
    qualified_for,
    review_service,
    send,
    submitted,
    uid,
    wait_review,
)

from mc_platform.auth import Role


def run(agreeing: int, total: int = 10) -> dict:
    results = []
    for i in range(total):
        level = "l2" if i % 2 else "l1"
        given = level if i < agreeing else ("l1" if level == "l2" else "l2")
        results.append(
            {
                "reference_id": f"ref-{i // 2}",
                "criterion_id": f"c{i % 2}",
                "level_id": given,
                "reference_level_id": level,
            }
        )
    return {"results": results}


async def test_calibration_below_threshold_gates_assignment_until_a_run_passes(infra):
    mc_id = uid("mc")
    async with review_service(infra) as svc:
        await put_assessor(
            svc, "trainee", calibration_status="untrained", qualifications=qualified_for(mc_id)
        )
        event = submitted(mc_id)
        await send(infra, event)
        await wait_review(svc, event.submission_id, "awaiting_assessor")

        failed = await svc.client.post(
            "/assessors/trainee/calibrations", json=run(7), headers=admin(svc)
        )
        assert failed.status_code == 201, failed.text
        body = failed.json()
        assert (body["calibrated"], Decimal(body["agreement"])) == (False, Decimal("0.7"))
        assert Decimal(body["threshold"]) == Decimal("0.8")
        assert body["kappa"] is not None
        assert {c["criterion_id"] for c in body["per_criterion"]} == {"c0", "c1"}
        me = await svc.client.get("/assessors/trainee", headers=admin(svc))
        assert me.json()["calibration_status"] == "needs_recalibration"
        assert not (await wait_review(svc, event.submission_id, "awaiting_assessor"))["assignments"]

        passed = await svc.client.post(
            "/assessors/trainee/calibrations", json=run(9), headers=admin(svc)
        )
        assert passed.json()["calibrated"] is True
        review = await wait_review(svc, event.submission_id, "in_review", seconds=5)
        assert [a["assessor_id"] for a in review["assignments"]] == ["trainee"]

        own = svc.auth("t", Role.ASSESSOR, assessor_id="trainee")
        history = await svc.client.get("/assessors/trainee/calibrations", headers=own)
        assert [Decimal(r["agreement"]) for r in history.json()] == [
            Decimal("0.7"),
            Decimal("0.9"),
        ]
        other = svc.auth("o", Role.ASSESSOR, assessor_id="other")
        assert (
            await svc.client.get("/assessors/trainee/calibrations", headers=other)
        ).status_code == 404


async def test_calibration_of_an_unknown_assessor_or_bad_results_is_refused(infra):
    async with review_service(infra) as svc:
        missing = await svc.client.post(
            "/assessors/nobody/calibrations", json=run(10), headers=admin(svc)
        )
        assert missing.status_code == 404
        await put_assessor(svc, "a1", calibration_status="untrained")
        for bad in ({"results": []}, {"results": [{"criterion_id": "c1"}]}):
            r = await svc.client.post("/assessors/a1/calibrations", json=bad, headers=admin(svc))
            assert r.status_code == 422
        assert (await svc.client.get("/assessors/a1/calibrations", headers=admin(svc))).json() == []
        educator = svc.auth("e", Role.EDUCATOR, educator_id="e")
        r = await svc.client.post("/assessors/a1/calibrations", json=run(10), headers=educator)
        assert r.status_code == 403
