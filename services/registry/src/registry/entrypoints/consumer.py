"""Inbound events of the registry service, mapped to command handlers.

Topics are shared, so the registry sees decisions about things it may not know:

- ``review.decided`` (passed): recorded as a credential. A decision for a micro-credential
  version the registry does not know, or never approved, or whose results do not pass the
  approved rubric can never succeed: ``NonRetryableError``, so it goes to the dead-letter topic
  for an operator instead of being dropped. Other outcomes are not the registry's business.
- ``enrollment.enrolled``: only remembered (what the enrollment is for); nothing to refuse.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from mc_events.consumer import Handler, NonRetryableError
from mc_events.contracts.base import Event
from mc_events.contracts.enrollment import Enrolled
from mc_events.contracts.review import Decided
from mc_events.envelope import Received
from registry.adapters.awards_repository import AwardsRepository
from registry.domain.awards import AwardError
from registry.domain.openbadges import PublicUrls
from registry.service_layer.awards import record_award
from registry.service_layer.signing import Issuance


def handlers(
    urls: PublicUrls, clock: Callable[[], datetime], issuance: Issuance | None = None
) -> dict[type[Event], Handler]:
    async def on_decided(session: AsyncSession, received: Received[Decided]) -> None:
        try:
            await record_award(session, received.event, urls, clock(), issuance)
        except AwardError as exc:
            raise NonRetryableError(str(exc)) from exc

    async def on_enrolled(session: AsyncSession, received: Received[Enrolled]) -> None:
        event = received.event
        await AwardsRepository(session).record_enrollment(
            enrollment_id=event.enrollment_id,
            educator_id=event.educator_id,
            micro_credential_id=event.micro_credential_id,
            micro_credential_version=event.micro_credential_version,
            purpose=event.purpose,
            enrolled_at=event.enrolled_at,
        )

    return {Decided: on_decided, Enrolled: on_enrolled}
