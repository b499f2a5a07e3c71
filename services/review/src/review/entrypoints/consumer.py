"""Inbound events of the review service, mapped to service-layer handlers.

Handlers run in the consumer's transaction (with the inbox row), on a unit of work joined to it:
they never commit. Topics are shared, so events about entities this service does not know
arrive; per event:

- ``registry.micro_credential_published``: upsert the version into the catalog read model,
  then retry the waiting submissions of that version: topics are not ordered with each other,
  so a submission may arrive before its catalog entry and find only competency-qualified
  assessors missing.
- ``registry.micro_credential_retired``: mark the version retired; an unknown version is
  skipped (logged): nothing in review depends on it.
- ``enrollment.educator_registered`` / ``_updated`` / ``_moved_district``: upsert the educator's
  district, school and supervisor (full snapshots, so an unknown educator is simply created).
- ``enrollment.evidence_submitted``: create the review and assign it. A submission seen before
  (redelivered under another event id) is a no-op. A micro-credential version the catalog read
  model does not know yet is not an error: assignment then matches assessors qualified for the
  micro-credential itself (competency qualifications need the catalog entry).
"""

from __future__ import annotations

from typing import Any

from mc_events.consumer import Handler
from mc_events.contracts.base import Event
from mc_events.contracts.catalog import MicroCredentialPublished, MicroCredentialRetired
from mc_events.contracts.enrollment import EvidenceSubmitted
from mc_events.contracts.roster import EducatorMovedDistrict, EducatorRegistered, EducatorUpdated
from mc_events.envelope import Received
from mc_platform.clock import Clock, utc_now
from mc_platform.unit_of_work import consumer_handler
from review.service_layer import read_models
from review.service_layer.assignment import AssignmentPolicy, on_evidence_submitted
from review.service_layer.unit_of_work import UnitOfWork


def handlers(
    policy: AssignmentPolicy | None = None, clock: Clock = utc_now
) -> dict[type[Event], Handler]:
    """The handlers, bound to the assignment policy and clock of the composition root."""
    chosen = policy or AssignmentPolicy()

    async def on_published(uow: UnitOfWork, received: Received[MicroCredentialPublished]) -> None:
        await read_models.on_published(uow, received.event, chosen, clock())

    async def on_retired(uow: UnitOfWork, received: Received[MicroCredentialRetired]) -> None:
        await read_models.record_retired(uow, received.event)

    async def on_educator(uow: UnitOfWork, received: Received[Any]) -> None:
        await read_models.record_educator(uow, received.event)

    async def on_moved(uow: UnitOfWork, received: Received[EducatorMovedDistrict]) -> None:
        await read_models.record_move(uow, received.event)

    async def on_submitted(uow: UnitOfWork, received: Received[EvidenceSubmitted]) -> None:
        await on_evidence_submitted(uow, received.event, chosen, clock())

    return {
        MicroCredentialPublished: consumer_handler(UnitOfWork, on_published),
        MicroCredentialRetired: consumer_handler(UnitOfWork, on_retired),
        EducatorRegistered: consumer_handler(UnitOfWork, on_educator),
        EducatorUpdated: consumer_handler(UnitOfWork, on_educator),
        EducatorMovedDistrict: consumer_handler(UnitOfWork, on_moved),
        EvidenceSubmitted: consumer_handler(UnitOfWork, on_submitted),
    }


HANDLERS: dict[type[Event], Handler] = handlers()
"""The handlers with the default policy and the system clock."""
