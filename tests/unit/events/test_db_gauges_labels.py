"""Database-backed gauges: each row of a gauge's query sets one label set; a label set the
query no longer returns disappears from /metrics, one declared ``always`` reads 0 instead."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Gauge, generate_latest

from mc_platform.db_gauges import DbGauge, DbGauges


def exported(registry: CollectorRegistry) -> str:
    return generate_latest(registry).decode()


def test_rows_set_label_sets_and_vanished_ones_are_removed_or_zeroed() -> None:
    registry = CollectorRegistry()
    things = Gauge("t_things", "things", ["state"], registry=registry)
    total = Gauge("t_total", "total", registry=registry)
    by_state = DbGauge(things, sa.select(sa.literal(1)), always=[("kept",)])
    overall = DbGauge(total, sa.select(sa.literal(1)))
    gauges = DbGauges("t", [by_state, overall], registry)

    gauges.apply(by_state, [("kept", 2), ("gone", Decimal("2.5"))])
    gauges.apply(overall, [(None,)])  # SUM over no rows
    text = exported(registry)
    assert 't_things{state="kept"} 2.0' in text
    assert 't_things{state="gone"} 2.5' in text
    assert "t_total 0.0" in text

    gauges.apply(by_state, [])
    text = exported(registry)
    assert 't_things{state="kept"} 0.0' in text
    assert 'state="gone"' not in text


def test_a_value_that_is_not_a_number_is_refused() -> None:
    registry = CollectorRegistry()
    gauge = DbGauge(Gauge("t_bad", "bad", registry=registry), sa.select(sa.literal(1)))
    with pytest.raises(TypeError, match="must be a number"):
        DbGauges("t", [gauge], registry).apply(gauge, [("seven",)])
