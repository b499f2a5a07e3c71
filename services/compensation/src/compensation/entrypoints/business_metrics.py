"""Compensation's business gauges, read from the ledger by the ``business-metrics`` worker
(see :mod:`mc_platform.db_gauges`): the same figures on every replica, whatever restarted.

``compensation_stipends_dollars{state}``, all time, state-wide, in dollars:

* ``approved``: stipend approvals in the ledger;
* ``clawed_back``: reversals of approvals (revocations, reissues), as a positive amount;
* ``paid``: what payroll systems acknowledged as paid, net (a paid reversal deducts), as the
  district spend report counts it;
* ``held``: net amount of the entries held from payroll (their credential is suspended).

``compensation_payments_held``: how many ledger entries are held now.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Gauge

from compensation.adapters.holds_repository import held_entries_query
from compensation.adapters.payroll_repository import paid_item
from compensation.adapters.tables import ledger_entries
from mc_platform import db_gauges
from mc_platform.service import ServiceRuntime, Worker

NAME = "compensation"
REFRESH_SECONDS = 60
STATES = ("approved", "clawed_back", "paid", "held")


def _dollars(cents: sa.ColumnElement[int]) -> sa.ColumnElement[Any]:
    """Cents as exact dollars, in the database (numeric division: no float on the way; the
    gauge library converts the result for Prometheus)."""
    return sa.cast(sa.func.coalesce(cents, 0), sa.Numeric(20, 2)).op("/")(100)


def stipends_query() -> sa.CompoundSelect[Any]:
    amount = ledger_entries.c.amount_cents
    ledger = sa.select(
        sa.func.sum(amount).filter(ledger_entries.c.kind == "approval").label("approved"),
        (-sa.func.sum(amount).filter(ledger_entries.c.kind == "reversal")).label("clawed_back"),
        sa.func.sum(amount).filter(paid_item()).label("paid"),
    ).cte("ledger")  # referenced three times, computed once
    held = held_entries_query().subquery("held")
    held_total = sa.select(sa.func.sum(held.c.amount_cents)).scalar_subquery()
    return sa.select(sa.literal("approved"), _dollars(ledger.c.approved)).union_all(
        sa.select(sa.literal("clawed_back"), _dollars(ledger.c.clawed_back)),
        sa.select(sa.literal("paid"), _dollars(ledger.c.paid)),
        sa.select(sa.literal("held"), _dollars(held_total)),
    )


def held_count_query() -> sa.Select[Any]:
    held = held_entries_query().subquery("held")
    return sa.select(sa.func.count()).select_from(held)


def define(registry: CollectorRegistry) -> Sequence[db_gauges.DbGauge]:
    stipends = Gauge(
        "compensation_stipends_dollars",
        "Stipend dollars in the ledger by state (approved, clawed_back, paid, held), all time",
        ["state"],
        registry=registry,
    )
    held = Gauge(
        "compensation_payments_held",
        "Ledger entries held from payroll now (their credential is suspended)",
        registry=registry,
    )
    return [
        db_gauges.DbGauge(stipends, stipends_query(), always=[(s,) for s in STATES]),
        db_gauges.DbGauge(held, held_count_query()),
    ]


async def refresh(runtime: ServiceRuntime) -> db_gauges.DbGauges:
    return await db_gauges.refresh(runtime, NAME, define)


def worker(interval_seconds: int = REFRESH_SECONDS) -> Worker:
    return db_gauges.worker(NAME, define, interval_seconds)
