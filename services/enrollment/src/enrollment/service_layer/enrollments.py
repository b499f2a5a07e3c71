"""Enrollment commands: enroll, withdraw, my enrollments; and the catalog read model kept from
registry events.

Each command runs in one unit of work: the state change and its event commit together.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from enrollment.adapters.enrollment_repository import CatalogVersion
from enrollment.domain import enrollment as domain
from enrollment.domain.enrollment import Enrollment
from enrollment.service_layer import events
from enrollment.service_layer.unit_of_work import UnitOfWork
from mc_events.contracts.catalog import MicroCredentialPublished, MicroCredentialRetired
from mc_events.contracts.common import Purpose
from mc_events.envelope import Received
from mc_platform.refusals import Conflict, NotFound

log = logging.getLogger(__name__)


class NotOnRoster(Conflict):
    """The educator is not on the roster (HR has not sent them yet)."""

    def __init__(self) -> None:
        super().__init__("HR has not registered you yet", reason="not_on_roster")


class UnknownEnrollment(NotFound):
    """No such enrollment, or not the caller's (the same answer for both)."""

    def __init__(self) -> None:
        super().__init__("no such enrollment")


class UnknownMicroCredential(NotFound):
    """No version of the micro-credential came in from the registry."""

    def __init__(self) -> None:
        super().__init__("unknown micro-credential")


async def own_enrollment(
    uow: UnitOfWork, enrollment_id: str, educator_id: str, *, for_update: bool = False
) -> Enrollment:
    """The educator's enrollment (in the entered ``uow``), else :class:`UnknownEnrollment`."""
    enrollment = await uow.enrollments.get(enrollment_id, for_update=for_update)
    if enrollment is None or enrollment.educator_id != educator_id:
        raise UnknownEnrollment()
    return enrollment


async def enroll(
    uow: UnitOfWork,
    *,
    educator_id: str,
    micro_credential_id: str,
    purpose: Purpose,
    now: datetime,
) -> Enrollment:
    async with uow:
        roster = await uow.roster.get(educator_id)
        if roster is None:
            raise NotOnRoster()
        enrollment = domain.enroll(
            enrollment_id=str(uuid.uuid4()),
            educator_id=educator_id,
            district_id=roster.district_id,
            entry=await uow.catalog.enrollable(micro_credential_id),
            purpose=purpose,
            history=await uow.enrollments.history(educator_id, micro_credential_id),
            now=now,
        )
        await uow.enrollments.add(enrollment)
        events.enrolled(uow, enrollment)
        await uow.commit()
    return enrollment


async def withdraw(
    uow: UnitOfWork, *, enrollment_id: str, educator_id: str, reason: str, now: datetime
) -> Enrollment:
    async with uow:
        enrollment = await own_enrollment(uow, enrollment_id, educator_id, for_update=True)
        enrollment.withdraw(now)
        await uow.enrollments.save(enrollment)
        events.withdrawn(uow, enrollment, reason=reason)
        await uow.commit()
    return enrollment


async def my_enrollments(uow: UnitOfWork, educator_id: str) -> list[Enrollment]:
    async with uow:
        return await uow.enrollments.for_educator(educator_id)


async def catalog_versions(uow: UnitOfWork, micro_credential_id: str) -> list[CatalogVersion]:
    """The versions of a micro-credential this service knows, oldest first."""
    async with uow:
        versions = await uow.catalog.versions(micro_credential_id)
    if not versions:
        raise UnknownMicroCredential()
    return versions


# -- catalog read model (consumer side: the uow joins the consumer's transaction) ---------------


async def record_published(uow: UnitOfWork, event: MicroCredentialPublished) -> None:
    await uow.catalog.publish(event)


async def on_published(uow: UnitOfWork, received: Received[MicroCredentialPublished]) -> None:
    """``registry.micro_credential_published``: upsert the version into the catalog."""
    await record_published(uow, received.event)


async def on_retired(uow: UnitOfWork, received: Received[MicroCredentialRetired]) -> None:
    """``registry.micro_credential_retired``: mark the version retired."""
    event = received.event
    known = await uow.catalog.retire(
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
