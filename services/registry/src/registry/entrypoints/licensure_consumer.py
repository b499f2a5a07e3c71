"""Inbound events for stacks and licensure.

- ``enrollment.educator_registered`` / ``educator_updated``: each educator's license (its
  expiry fixes the certificate cycle renewal credits count for), district, and email (to match
  the recipient of an imported credential). Nothing else of the roster is kept (it carries
  personal data the registry does not need).
- ``registry.stack_published`` (the registry's own catalog event): a new stack version
  completes for educators who already hold what it asks (StackCompleted: "an award, or a
  newly published stack version").
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from mc_events.consumer import Handler
from mc_events.contracts.base import Event
from mc_events.contracts.catalog import StackPublished
from mc_events.contracts.roster import EducatorRegistered, EducatorUpdated
from mc_events.envelope import Received
from registry.adapters.licensure_repository import LicensureRepository
from registry.service_layer.licensure import complete_published_stack


def handlers(clock: Callable[[], datetime]) -> dict[type[Event], Handler]:
    async def on_snapshot(
        session: AsyncSession, received: Received[EducatorRegistered | EducatorUpdated]
    ) -> None:
        event = received.event
        as_of = event.registered_at if isinstance(event, EducatorRegistered) else event.updated_at
        license_ = event.license
        await LicensureRepository(session).record_license(
            educator_id=event.educator_id,
            district_id=event.district_id,
            email=event.email,
            license_number=license_.number if license_ else None,
            license_type=license_.license_type if license_ else None,
            expires_on=license_.expires_on if license_ else None,
            as_of=as_of,
        )

    async def on_stack_published(session: AsyncSession, received: Received[StackPublished]) -> None:
        event = received.event
        await complete_published_stack(
            session, event.stack_id, event.stack_version, event.approved_at, clock()
        )

    return {
        EducatorRegistered: on_snapshot,
        EducatorUpdated: on_snapshot,
        StackPublished: on_stack_published,
    }
