"""The deadline sweep: enrollments past their completion window while waiting on the educator
expire, with an ``Expired`` event each (a submission under review is decided first); those
whose deadline comes near get one ``DeadlineApproaching`` reminder per threshold.

    result = await sweep(uow, now, reminder_days=[14, 3])  # a fresh, not-entered unit of work

Exactly once however the sweep is run (periodically by the scheduler in every replica, by the
CLI, by the operator route, again after a crash): every batch is one transaction that locks
the enrollments it handles (``FOR UPDATE SKIP LOCKED``, so sweeps side by side split the work),
an expiry moves the status out of the scanned set, and a reminder is emitted only for the row
this transaction inserted under the ``(enrollment, threshold)`` primary key. A crash before
commit leaves nothing behind; the next sweep does it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from enrollment.domain.enrollment import DeadlineReminder
from enrollment.service_layer import events
from enrollment.service_layer.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepResult:
    expired: int
    reminded: int


async def expire_due(uow: UnitOfWork, now: datetime, *, batch: int = 500) -> int:
    """Expire every enrollment due at ``now``, one transaction per batch; returns how many."""
    total = 0
    while True:
        async with uow:
            due = await uow.enrollments.due_for_expiry(now, batch)
            for enrollment in due:
                enrollment.expire(now)
                await uow.enrollments.save(enrollment)
                events.expired(uow, enrollment)
            await uow.commit()
        total += len(due)
        if len(due) < batch:
            break
    if total:
        log.info("deadline sweep: %d enrollments expired", total)
    return total


async def remind_due(
    uow: UnitOfWork, now: datetime, reminder_days: Sequence[int], *, batch: int = 500
) -> int:
    """Send the reminders due at ``now`` (see :meth:`Enrollment.reminder_due`), one
    transaction per batch; returns how many were sent by this call."""
    thresholds = sorted(set(reminder_days))
    total = 0
    for i, days in enumerate(thresholds):
        nearer = thresholds[i - 1] if i else None
        while True:
            async with uow:
                candidates = await uow.enrollments.due_for_reminder(now, days, nearer, batch)
                # The domain rule decides; the query only narrows the scan to the same set.
                due = [e for e in candidates if e.reminder_due(now, thresholds) == days]
                sent = await uow.enrollments.record_reminders(
                    [DeadlineReminder(e.enrollment_id, days, e.deadline_at, now) for e in due]
                )
                reminded = [e for e in due if e.enrollment_id in sent]
                # Only for the rows this transaction inserted: an earlier or concurrent sweep
                # sent the others.
                for e in reminded:
                    events.deadline_approaching(uow, e, days_before=days, now=now)
                await uow.commit()
            total += len(reminded)
            # Stop on a short batch, and when a full batch sent nothing (only rows the domain
            # rule refused): scanning them again would find the same ones.
            if len(candidates) < batch or not sent:
                break
    if total:
        log.info("deadline sweep: %d reminders sent", total)
    return total


async def sweep(
    uow: UnitOfWork, now: datetime, *, reminder_days: Sequence[int], batch: int = 500
) -> SweepResult:
    """Expire what is due, then remind what comes near (an expired enrollment gets no
    reminder: it is no longer waiting on the educator)."""
    expired = await expire_due(uow, now, batch=batch)
    reminded = await remind_due(uow, now, reminder_days, batch=batch)
    return SweepResult(expired=expired, reminded=reminded)
