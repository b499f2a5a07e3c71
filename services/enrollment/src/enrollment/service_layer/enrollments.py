"""Enrollment commands: enroll, withdraw; and the catalog read model kept from registry events.

Each command runs in one unit of work: the state change and its event commit together.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from enrollment.adapters.enrollment_repository import CatalogRepository, EnrollmentRepository
from enrollment.adapters.roster_repository import RosterRepository
from enrollment.domain import enrollment as domain
from enrollment.domain.enrollment import Enrollment, EnrollmentRefused, Refusal
from enrollment.service_layer.unit_of_work import UnitOfWork
from mc_events import outbox
from mc_events.contracts.catalog import MicroCredentialPublished, MicroCredentialRetired
from mc_events.contracts.common import Purpose
from mc_events.contracts.enrollment import Enrolled, Withdrawn

log = logging.getLogger(__name__)

_EVENT_NAMESPACE = uuid.UUID("0f4a1c52-3f39-4d0e-9a55-7d1c6f2b8e41")


class NotOnRoster(Exception):
    """The educator is not on the roster (HR has not sent them yet)."""


class UnknownEnrollment(Exception):
    """No such enrollment, or not the caller's (the same answer for both)."""


def event_id(enrollment_id: str, what: str) -> str:
    """A deterministic event id per enrollment transition: a retried command that committed
    once cannot add a second event for it (the outbox's event_id is unique)."""
    return str(uuid.uuid5(_EVENT_NAMESPACE, f"{enrollment_id}/{what}"))


async def enroll(
    uow: UnitOfWork,
    *,
    educator_id: str,
    micro_credential_id: str,
    purpose: Purpose,
    now: datetime,
) -> Enrollment:
    roster = await RosterRepository(uow.session).get(educator_id)
    if roster is None:
        raise NotOnRoster(educator_id)
    enrollments = EnrollmentRepository(uow.session)
    entry = await CatalogRepository(uow.session).enrollable(micro_credential_id)
    enrollment = domain.enroll(
        enrollment_id=str(uuid.uuid4()),
        educator_id=educator_id,
        district_id=roster.district_id,
        entry=entry,
        purpose=purpose,
        history=await enrollments.history(educator_id, micro_credential_id),
        now=now,
    )
    try:
        await enrollments.add(enrollment)
    except IntegrityError as exc:
        # A concurrent request enrolled the same educator first: the unique index decides.
        raise EnrollmentRefused(Refusal.ALREADY_ACTIVE, "already enrolled") from exc
    await outbox.add_event(
        uow.session,
        Enrolled(
            enrollment_id=enrollment.enrollment_id,
            educator_id=enrollment.educator_id,
            district_id=enrollment.district_id,
            micro_credential_id=enrollment.micro_credential_id,
            micro_credential_version=enrollment.micro_credential_version,
            purpose=enrollment.purpose,
            enrolled_at=enrollment.enrolled_at,
            deadline_at=enrollment.deadline_at,
        ),
        event_id=event_id(enrollment.enrollment_id, "enrolled"),
    )
    await uow.commit()
    return enrollment


async def withdraw(
    uow: UnitOfWork, *, enrollment_id: str, educator_id: str, reason: str, now: datetime
) -> Enrollment:
    enrollments = EnrollmentRepository(uow.session)
    enrollment = await enrollments.get(enrollment_id, for_update=True)
    if enrollment is None or enrollment.educator_id != educator_id:
        raise UnknownEnrollment(enrollment_id)
    enrollment.withdraw(now)
    await enrollments.save(enrollment)
    await outbox.add_event(
        uow.session,
        Withdrawn(
            enrollment_id=enrollment.enrollment_id,
            educator_id=enrollment.educator_id,
            micro_credential_id=enrollment.micro_credential_id,
            reason=reason,
            withdrawn_at=now,
        ),
        event_id=event_id(enrollment.enrollment_id, "withdrawn"),
    )
    await uow.commit()
    return enrollment


async def my_enrollments(uow: UnitOfWork, educator_id: str) -> list[Enrollment]:
    return await EnrollmentRepository(uow.session).for_educator(educator_id)


# -- catalog read model (consumer side: never commit, the consumer's transaction does) --------


async def record_published(session: AsyncSession, event: MicroCredentialPublished) -> None:
    await CatalogRepository(session).publish(event)


async def record_retired(session: AsyncSession, event: MicroCredentialRetired) -> None:
    known = await CatalogRepository(session).retire(
        event.micro_credential_id, event.micro_credential_version, event.retired_at
    )
    if not known:
        # Skipped, not dead-lettered: a version we never saw published is not enrollable here
        # anyway, and the shared catalog topic carries versions published before this service
        # subscribed (or by other test runs). Per-key order means a publish never follows it.
        log.info(
            "retirement of unknown MC version %s v%d skipped",
            event.micro_credential_id,
            event.micro_credential_version,
        )
