"""The deadline sweep: enrollments past their completion window while waiting on the educator
expire, with an ``Expired`` event each (a submission under review is decided first); those
whose deadline comes near get one ``DeadlineApproaching`` reminder per threshold.

    result = await sweep(sessions, now, reminder_days=[14, 3])

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

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from enrollment.adapters.enrollment_repository import (
    EnrollmentRepository,
    due_for_expiry,
    due_for_reminder,
    record_reminders,
)
from enrollment.service_layer.enrollments import event_id
from enrollment.service_layer.unit_of_work import UnitOfWork
from mc_events import outbox
from mc_events.contracts.base import Event
from mc_events.contracts.enrollment import DeadlineApproaching, Expired

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepResult:
    expired: int
    reminded: int


async def expire_due(
    sessions: async_sessionmaker[AsyncSession], now: datetime, *, batch: int = 500
) -> int:
    """Expire every enrollment due at ``now``, one transaction per batch; returns how many."""
    total = 0
    while True:
        async with UnitOfWork(sessions) as uow:
            due = await due_for_expiry(uow.session, now, batch)
            repo = EnrollmentRepository(uow.session)
            events: list[Event] = []
            ids: list[str | None] = []
            for enrollment in due:
                enrollment.expire(now)
                await repo.save(enrollment)
                assert enrollment.may_reenroll_from is not None
                events.append(
                    Expired(
                        enrollment_id=enrollment.enrollment_id,
                        educator_id=enrollment.educator_id,
                        micro_credential_id=enrollment.micro_credential_id,
                        micro_credential_version=enrollment.micro_credential_version,
                        attempts_used=enrollment.attempts_used,
                        deadline_at=enrollment.deadline_at,
                        expired_at=now,
                        may_reenroll_from=enrollment.may_reenroll_from,
                    )
                )
                ids.append(event_id(enrollment.enrollment_id, "expired"))
            await outbox.add_events(uow.session, events, event_ids=ids)
            await uow.commit()
        total += len(due)
        if len(due) < batch:
            break
    if total:
        log.info("deadline sweep: %d enrollments expired", total)
    return total


async def remind_due(
    sessions: async_sessionmaker[AsyncSession],
    now: datetime,
    reminder_days: Sequence[int],
    *,
    batch: int = 500,
) -> int:
    """Send the reminders due at ``now`` (see :meth:`Enrollment.reminder_due`), one
    transaction per batch; returns how many were sent by this call."""
    thresholds = sorted(set(reminder_days))
    total = 0
    for i, days in enumerate(thresholds):
        nearer = thresholds[i - 1] if i else None
        while True:
            async with UnitOfWork(sessions) as uow:
                candidates = await due_for_reminder(uow.session, now, days, nearer, batch)
                # The domain rule decides; the query only narrows the scan to the same set.
                due = [e for e in candidates if e.reminder_due(now, thresholds) == days]
                sent = await record_reminders(
                    uow.session,
                    [
                        {
                            "enrollment_id": e.enrollment_id,
                            "days_before": days,
                            "deadline_at": e.deadline_at,
                            "reminded_at": now,
                        }
                        for e in due
                    ],
                )
                events: list[Event] = []
                ids: list[str | None] = []
                for e in due:
                    if e.enrollment_id not in sent:
                        continue  # an earlier or concurrent sweep sent this one
                    events.append(
                        DeadlineApproaching(
                            enrollment_id=e.enrollment_id,
                            educator_id=e.educator_id,
                            micro_credential_id=e.micro_credential_id,
                            micro_credential_version=e.micro_credential_version,
                            status=e.status.value,
                            days_before=days,
                            deadline_at=e.deadline_at,
                            attempts_left=e.attempts_left,
                            reminded_at=now,
                        )
                    )
                    ids.append(event_id(e.enrollment_id, f"deadline_approaching/{days}"))
                await outbox.add_events(uow.session, events, event_ids=ids)
                await uow.commit()
            total += len(events)
            # Stop on a short batch, and when a full batch sent nothing (only rows the domain
            # rule refused): scanning them again would find the same ones.
            if len(candidates) < batch or not sent:
                break
    if total:
        log.info("deadline sweep: %d reminders sent", total)
    return total


async def sweep(
    sessions: async_sessionmaker[AsyncSession],
    now: datetime,
    *,
    reminder_days: Sequence[int],
    batch: int = 500,
) -> SweepResult:
    """Expire what is due, then remind what comes near (an expired enrollment gets no
    reminder: it is no longer waiting on the educator)."""
    expired = await expire_due(sessions, now, batch=batch)
    reminded = await remind_due(sessions, now, reminder_days, batch=batch)
    return SweepResult(expired=expired, reminded=reminded)
