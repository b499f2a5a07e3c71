"""Inbound events of the review service, mapped to command handlers.

Handlers run in the consumer's transaction (with the inbox row): they never commit. Topics are
shared, so events about entities this service does not know arrive; per event:

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

from collections.abc import Callable
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from mc_events.consumer import Handler
from mc_events.contracts.base import Event
from mc_events.contracts.catalog import MicroCredentialPublished, MicroCredentialRetired
from mc_events.contracts.enrollment import EvidenceSubmitted
from mc_events.contracts.roster import EducatorMovedDistrict, EducatorRegistered, EducatorUpdated
from mc_events.envelope import Received
from review.domain.clock import Clock, utc_now
from review.service_layer import read_models
from review.service_layer.assignment import (
    AssignmentPolicy,
    assign_pending,
    on_evidence_submitted,
)


def handlers(
    policy: AssignmentPolicy | None = None, clock: Clock = utc_now
) -> dict[type[Event], Handler]:
    """The handlers, bound to the assignment policy and clock of the composition root."""
    chosen = policy or AssignmentPolicy()

    async def on_published(
        session: AsyncSession, received: Received[MicroCredentialPublished]
    ) -> None:
        await read_models.record_published(session, received.event)
        event = received.event
        await assign_pending(
            session,
            chosen,
            clock(),
            limit=1000,
            micro_credential=(event.micro_credential_id, event.micro_credential_version),
        )

    async def on_retired(session: AsyncSession, received: Received[MicroCredentialRetired]) -> None:
        await read_models.record_retired(session, received.event)

    async def on_educator(session: AsyncSession, received: Received[Any]) -> None:
        await read_models.record_educator(session, received.event)

    async def on_moved(session: AsyncSession, received: Received[EducatorMovedDistrict]) -> None:
        await read_models.record_move(session, received.event)

    async def on_submitted(session: AsyncSession, received: Received[EvidenceSubmitted]) -> None:
        await on_evidence_submitted(session, received.event, chosen, clock())

    table: dict[type[Event], Callable[..., Any]] = {
        MicroCredentialPublished: on_published,
        MicroCredentialRetired: on_retired,
        EducatorRegistered: on_educator,
        EducatorUpdated: on_educator,
        EducatorMovedDistrict: on_moved,
        EvidenceSubmitted: on_submitted,
    }
    return table


HANDLERS: dict[type[Event], Handler] = handlers()
"""The handlers with the default policy and the system clock."""
