"""``review.revocation_requested``: misconduct confirmed after the award; the registry revokes
the enrollment's credential once, however often the request arrives (redeliveries are
skipped by the inbox; a second request, or one after the state revoked, finds it revoked and
changes nothing). A request for an enrollment without a credential cannot be applied now: it
goes to the dead-letter topic for an operator (replayable once the award is there)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from mc_events.consumer import Handler, NonRetryableError
from mc_events.contracts.base import Event
from mc_events.contracts.review import RevocationRequested
from mc_events.envelope import Received
from registry.domain.awards import CredentialStateError
from registry.service_layer.credential_status import revoke_on_request
from registry.service_layer.errors import NotFound


def handlers(clock: Callable[[], datetime]) -> dict[type[Event], Handler]:
    async def on_revocation_requested(
        session: AsyncSession, received: Received[RevocationRequested]
    ) -> None:
        try:
            await revoke_on_request(session, received.event, clock())
        except (NotFound, CredentialStateError) as exc:
            raise NonRetryableError(str(exc)) from exc

    return {RevocationRequested: on_revocation_requested}
