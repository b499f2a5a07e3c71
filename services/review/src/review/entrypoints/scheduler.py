"""The review scheduler: every ``sweep_interval_seconds`` inside ``serve`` (next to the relay
and consumers) it runs the overdue sweep (unless ``overdue_sweep_enabled`` is off) and
refreshes the research gauges. The sweep also runs once from the command line
(``python -m review sweep-overdue``, for a cron job) and from ``POST /reviews/sweep-overdue``.

Several replicas each run it: a sweep takes an advisory lock without waiting, so while one
replica sweeps the others skip their turn (see :mod:`review.service_layer.overdue`). A failed
run is logged and counted, and the next one tries again: the worker keeps going.
"""

from __future__ import annotations

import logging

from mc_platform.clock import Clock
from mc_platform.service import ServiceRuntime, Worker, every
from review.config import Settings
from review.domain.measures import MeasuresFilter
from review.metrics import ReviewMetrics
from review.service_layer import measures, overdue
from review.service_layer.assignment import policy_of
from review.service_layer.overdue import SweepResult
from review.service_layer.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


class ReviewScheduler:
    def __init__(self, settings: Settings, metrics: ReviewMetrics, clock: Clock) -> None:
        self.settings = settings
        self.metrics = metrics
        self.clock = clock

    async def sweep_once(self, uow: UnitOfWork) -> SweepResult:
        """Sweep until no overdue assignment is left unhandled (a batch per transaction),
        counting each committed batch."""
        total = SweepResult()
        try:
            async for result in overdue.sweep(
                uow, policy_of(self.settings), self.clock, self.settings.overdue_sweep_batch
            ):
                if result.skipped:
                    self.metrics.sweeps.labels("skipped").inc()
                    log.info("overdue sweep skipped: another replica is sweeping")
                    return result
                self.metrics.escalations.labels("reassigned").inc(
                    result.escalated - result.needs_state_admin
                )
                self.metrics.escalations.labels("needs_state_admin").inc(result.needs_state_admin)
                total += result
        except Exception:
            self.metrics.sweeps.labels("failed").inc()
            raise
        self.metrics.sweeps.labels("done").inc()
        return total

    async def refresh_measures(self, uow: UnitOfWork) -> None:
        measures.export(self.metrics, await measures.measures(uow, MeasuresFilter(), self.clock()))

    async def run(self, runtime: ServiceRuntime) -> None:
        """Sweep (unless switched off), then refresh the research gauges."""
        try:
            if self.settings.overdue_sweep_enabled:
                await self.sweep_once(UnitOfWork(runtime.sessions))
        finally:
            await self.refresh_measures(UnitOfWork(runtime.sessions))

    def worker(self) -> Worker:
        """Run at once, then every ``sweep_interval_seconds``, inside ``serve``."""
        return every(self.settings.sweep_interval_seconds, self.run, name="review scheduler")
