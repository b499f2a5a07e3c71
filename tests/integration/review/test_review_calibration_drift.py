"""The calibration drift report: agreement with the reference scores over time, state-wide per
month (or week) and per assessor from their first run to their latest, for state admins."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from review_support import SettableClock, admin, assessor, put_assessor, review_service


def run(agreeing: int, total: int = 10) -> dict:
    """``agreeing`` of ``total`` criteria scored as the reference."""
    return {
        "results": [
            {
                "reference_id": f"ref-{i}",
                "criterion_id": "c1",
                "level_id": "l2" if i < agreeing else "l1",
                "reference_level_id": "l2",
            }
            for i in range(total)
        ]
    }


async def test_drift_report_per_month_and_per_assessor(infra):
    clock = SettableClock()
    async with review_service(infra, clock=clock) as svc:
        await put_assessor(svc, "a")
        await put_assessor(svc, "b")
        for at, who, agreeing in (
            (datetime(2026, 1, 10, tzinfo=UTC), "a", 9),
            (datetime(2026, 2, 1, tzinfo=UTC), "b", 10),
            (datetime(2026, 2, 5, tzinfo=UTC), "a", 7),
            (datetime(2026, 2, 20, tzinfo=UTC), "a", 8),
        ):
            clock.now = at
            r = await svc.client.post(
                f"/assessors/{who}/calibrations", json=run(agreeing), headers=admin(svc)
            )
            assert r.status_code == 201, r.text

        r = await svc.client.get("/measures/calibration-drift", headers=admin(svc))
        assert r.status_code == 200, r.text
        body = r.json()
        assert [
            (
                p["period_start"],
                p["runs"],
                p["assessors"],
                Decimal(p["mean_agreement"]),
                p["passed"],
            )
            for p in body["periods"]
        ] == [
            ("2026-01-01", 1, 1, Decimal("0.9"), 1),
            ("2026-02-01", 3, 2, Decimal("0.8333"), 2),  # (0.7 + 1.0 + 0.8) / 3
        ]
        a, b = body["assessors"]
        assert (a["assessor_id"], a["runs"], a["latest_calibrated"]) == ("a", 3, True)
        assert Decimal(a["first_agreement"]) == Decimal("0.9")
        assert Decimal(a["latest_agreement"]) == Decimal("0.8")
        assert Decimal(a["change_since_previous"]) == Decimal("0.1")
        assert Decimal(a["change_since_first"]) == Decimal("-0.1")
        assert (b["assessor_id"], b["runs"], b["change_since_previous"]) == ("b", 1, None)

        weekly = await svc.client.get(
            "/measures/calibration-drift",
            params={"assessor_id": "a", "since": "2026-02-01T00:00:00Z", "period": "week"},
            headers=admin(svc),
        )
        body = weekly.json()
        # 2026-02-05 is a Thursday (week of Monday 2 February); 2026-02-20 a Friday.
        assert [(p["period_start"], Decimal(p["mean_agreement"])) for p in body["periods"]] == [
            ("2026-02-02", Decimal("0.7")),
            ("2026-02-16", Decimal("0.8")),
        ]
        (only,) = body["assessors"]
        assert Decimal(only["first_agreement"]) == Decimal("0.7")

        for params in ({"period": "year"}, {"since": "2026-02-01T00:00:00"}):
            refused = await svc.client.get(
                "/measures/calibration-drift", params=params, headers=admin(svc)
            )
            assert refused.status_code == 422, params
        own = await svc.client.get("/measures/calibration-drift", headers=assessor(svc, "a"))
        assert own.status_code == 403
