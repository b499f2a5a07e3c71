"""The deadline scheduler: runs the deadline sweep (expiries and reminders) every
``deadline_sweep_interval_seconds`` inside ``serve``, next to the relay and consumers, and once
from the command line (``python -m enrollment sweep-deadlines``, for a cron job).

Several replicas each run it. A run first takes a PostgreSQL advisory lock for the length of
one transaction: while one replica sweeps, the others skip their turn instead of contending
for the same rows. Correctness does not rest on the lock (the sweep is exactly-once under
concurrency by itself, see :mod:`enrollment.service_layer.deadlines`); it saves the work.
A failed run is logged and counted, and the next one tries again: the worker keeps going.
"""

from __future__ import annotations

import logging
import time

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from enrollment.config import Settings
from enrollment.metrics import EnrollmentMetrics
from enrollment.service_layer.deadlines import SweepResult, sweep
from enrollment.service_layer.unit_of_work import UnitOfWork
from mc_platform.clock import Clock
from mc_platform.service import ServiceRuntime, Worker, every

log = logging.getLogger(__name__)

SWEEP_LOCK = 0x656E726F6C6C01
"""Advisory lock key of the deadline sweep (one per enrollment database)."""


class DeadlineScheduler:
    def __init__(self, settings: Settings, metrics: EnrollmentMetrics, clock: Clock) -> None:
        self.settings = settings
        self.metrics = metrics
        self.clock = clock

    async def run_once(
        self, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
    ) -> SweepResult | None:
        """One sweep at ``clock()``; None if another replica holds the sweep lock."""
        try:
            async with engine.connect() as lock_conn, lock_conn.begin():
                locked = await lock_conn.scalar(
                    sa.select(sa.func.pg_try_advisory_xact_lock(SWEEP_LOCK))
                )
                if not locked:
                    self.metrics.deadline_sweeps.labels("skipped").inc()
                    log.info("deadline sweep skipped: another replica is sweeping")
                    return None
                result = await sweep(
                    UnitOfWork(sessions), self.clock(), reminder_days=self.settings.reminder_days
                )
        except Exception:
            self.metrics.deadline_sweeps.labels("failed").inc()
            raise
        self.metrics.deadline_sweeps.labels("done").inc()
        self.metrics.deadline_sweep_last_success.set(time.time())
        self.metrics.deadline_events.labels("expired").inc(result.expired)
        self.metrics.deadline_events.labels("reminded").inc(result.reminded)
        return result

    async def run(self, runtime: ServiceRuntime) -> None:
        await self.run_once(runtime.engine, runtime.sessions)

    def worker(self) -> Worker:
        """Sweep at once, then every ``deadline_sweep_interval_seconds``, inside ``serve``."""
        return every(self.settings.deadline_sweep_interval_seconds, self.run, name="deadline sweep")
