"""The deadline sweep: enrollments past their completion window while waiting on the educator
expire, with an ``Expired`` event each (a submission under review is decided first).

    expired = await expire_due(sessions, now)   # run it periodically (an operator route or cron)
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from enrollment.adapters.enrollment_repository import EnrollmentRepository, due_for_expiry
from enrollment.service_layer.enrollments import event_id
from enrollment.service_layer.unit_of_work import UnitOfWork
from mc_events import outbox
from mc_events.contracts.base import Event
from mc_events.contracts.enrollment import Expired

log = logging.getLogger(__name__)


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
