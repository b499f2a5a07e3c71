"""Business gauges read from a service's own database by a periodic worker.

A counter counts what one process did since it started: it restarts at zero and each replica
has its own. Figures a dashboard shows as standing totals (stipend dollars approved,
credentials revoked) come from the database instead, so every replica exports the same
state-wide values and a restart or a new replica changes nothing.

A service declares each gauge as a ``prometheus_client.Gauge`` (named
``<service>_<noun>_<unit>``, so tests/unit/test_deploy_observability.py sees it) with the
query that gives its value: rows of ``(label values..., value)``. :meth:`DbGauges.refresh` runs
every query in one read-only REPEATABLE READ transaction (one snapshot: figures that belong
together agree), then sets the gauges; label sets a query no longer returns are removed, those
in ``always`` read 0. A failed refresh changes nothing, and the worker tries again at the next
interval.

    define = lambda registry: [DbGauge(Gauge("x_things", "...", ["state"], registry=registry),
                                        select(things.c.state, count()).group_by(...))]
    workers={"business-metrics": db_gauges.worker("x", define, interval_seconds=60)}
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from weakref import WeakKeyDictionary

from prometheus_client import CollectorRegistry, Gauge
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import Executable

from mc_platform.service import ServiceRuntime, Worker, every

Labels = tuple[str, ...]


@dataclass(frozen=True)
class DbGauge:
    """A gauge and the query that sets it: each row is ``(*label values, value)``."""

    gauge: Gauge
    query: Executable
    always: Sequence[Labels] = ()
    """Label sets exported even when the query returns no row for them (as 0)."""


Define = Callable[[CollectorRegistry], Sequence[DbGauge]]
"""Defines a service's gauges on a registry (called once per registry)."""


class DbGauges:
    """One service's database-backed gauges on one Prometheus registry."""

    def __init__(self, name: str, gauges: Sequence[DbGauge], registry: CollectorRegistry) -> None:
        self.name = name
        self.gauges = list(gauges)
        self.refreshed = Gauge(
            f"{name}_business_metrics_refreshed_timestamp_seconds",
            "When the database-backed business gauges were last read (Unix time)",
            registry=registry,
        )
        self._exported: dict[int, set[Labels]] = {id(g): set() for g in self.gauges}

    async def refresh(self, engine: AsyncEngine) -> None:
        """Read every gauge's query in one snapshot, then set them all."""
        readings: list[list[Row[object]]] = []
        async with engine.connect() as connection:
            connection = await connection.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
            async with connection.begin():
                for each in self.gauges:
                    readings.append(list(await connection.execute(each.query)))
        for each, rows in zip(self.gauges, readings, strict=True):
            self.apply(each, rows)
        self.refreshed.set(time.time())

    def apply(self, each: DbGauge, rows: Sequence[Sequence[object]]) -> None:
        """Set one gauge from its query's rows (label values..., value)."""
        values: dict[Labels, float] = dict.fromkeys(each.always, 0.0)
        for row in rows:
            *names, value = tuple(row)
            values[tuple(str(name) for name in names)] = _number(value)
        for labels, value in values.items():
            (each.gauge.labels(*labels) if labels else each.gauge).set(value)
        exported = self._exported[id(each)]
        for stale in exported - set(values):
            each.gauge.remove(*stale)
        self._exported[id(each)] = set(values)


def _number(value: object) -> float:
    if value is None:
        return 0.0
    if isinstance(value, int | float | Decimal):
        return float(value)
    raise TypeError(f"a gauge value must be a number, got {value!r}")


_ON: WeakKeyDictionary[CollectorRegistry, dict[str, DbGauges]] = WeakKeyDictionary()


def gauges_on(registry: CollectorRegistry, name: str, define: Define) -> DbGauges:
    """The service's gauges on ``registry``, defined on first use (a name registers once)."""
    by_name = _ON.setdefault(registry, {})
    if name not in by_name:
        by_name[name] = DbGauges(name, define(registry), registry)
    return by_name[name]


async def refresh(runtime: ServiceRuntime, name: str, define: Define) -> DbGauges:
    """Refresh the service's gauges on the runtime's registry once."""
    gauges = gauges_on(runtime.metrics.registry, name, define)
    await gauges.refresh(runtime.engine)
    return gauges


def worker(name: str, define: Define, interval_seconds: float = 60.0) -> Worker:
    """A ``serve`` worker that refreshes the gauges at once, then every ``interval_seconds``."""

    async def job(runtime: ServiceRuntime) -> None:
        await refresh(runtime, name, define)

    return every(interval_seconds, job, name=f"{name} business metrics")
