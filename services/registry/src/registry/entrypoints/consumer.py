"""Inbound events of the registry service, each handed to one service-layer function in the
consumer's transaction (:func:`mc_platform.unit_of_work.consumer_handler`: the unit of work joins
it; the runtime commits, with the inbox row).

Topics are shared, so the registry sees events about things it may not know:

- ``review.decided`` (passed): recorded as a credential. A decision for a micro-credential
  version the registry does not know, or never approved, or whose results do not pass the
  approved rubric can never succeed: ``NonRetryableError``, so it goes to the dead-letter topic
  for an operator instead of being dropped. Other outcomes are not the registry's business.
- ``review.revocation_requested``: misconduct confirmed after the award; the enrollment's
  credential is revoked once, however often the request arrives (a second request, or one
  after the state revoked, changes nothing). A request for an enrollment without a credential
  cannot be applied now: dead-lettered for an operator (replayable once the award is there).
- ``enrollment.enrolled``: only remembered (what the enrollment is for); nothing to refuse.
- ``enrollment.educator_registered`` / ``educator_updated``: each educator's license,
  district and email (nothing else of the roster is kept: it carries personal data the
  registry does not need).
- ``registry.stack_published`` (the registry's own catalog event): a new stack version
  completes for educators who already hold what it asks.
"""

from __future__ import annotations

from mc_events.consumer import Handler, NonRetryableError
from mc_events.contracts.base import Event
from mc_events.contracts.catalog import StackPublished
from mc_events.contracts.enrollment import Enrolled
from mc_events.contracts.review import Decided, RevocationRequested
from mc_events.contracts.roster import EducatorRegistered, EducatorUpdated
from mc_events.envelope import Received
from mc_platform.clock import Clock
from mc_platform.refusals import NotFound
from mc_platform.unit_of_work import consumer_handler
from registry.domain.awards import AwardError, CredentialStateError
from registry.service_layer import credentials, licensure
from registry.service_layer.issuing import Issuance
from registry.service_layer.unit_of_work import UnitOfWork


def handlers(issuance: Issuance, clock: Clock) -> dict[type[Event], Handler]:
    async def on_decided(uow: UnitOfWork, received: Received[Decided]) -> None:
        try:
            await credentials.record_award(uow, received.event, issuance, clock())
        except AwardError as exc:
            raise NonRetryableError(str(exc)) from exc

    async def on_revocation_requested(
        uow: UnitOfWork, received: Received[RevocationRequested]
    ) -> None:
        try:
            await credentials.revoke_on_request(uow, received.event, issuance, clock())
        except (NotFound, CredentialStateError) as exc:
            raise NonRetryableError(str(exc)) from exc

    async def on_enrolled(uow: UnitOfWork, received: Received[Enrolled]) -> None:
        await credentials.record_enrollment(uow, received.event)

    async def on_snapshot(
        uow: UnitOfWork, received: Received[EducatorRegistered | EducatorUpdated]
    ) -> None:
        await licensure.record_license(uow, received.event)

    async def on_stack_published(uow: UnitOfWork, received: Received[StackPublished]) -> None:
        event = received.event
        await licensure.complete_published_stack(
            uow, event.stack_id, event.stack_version, event.approved_at, clock()
        )

    return {
        Decided: consumer_handler(UnitOfWork, on_decided),
        RevocationRequested: consumer_handler(UnitOfWork, on_revocation_requested),
        Enrolled: consumer_handler(UnitOfWork, on_enrolled),
        EducatorRegistered: consumer_handler(UnitOfWork, on_snapshot),
        EducatorUpdated: consumer_handler(UnitOfWork, on_snapshot),
        StackPublished: consumer_handler(UnitOfWork, on_stack_published),
    }
