"""Inbound events of the compensation service, mapped to command handlers.

What is skipped and what is dead-lettered (topics are shared, so we see events about districts,
educators and credentials that concern us not at all):

- an award in a district not registered with compensation, or that no rule covers: skipped
  (no stipend programme; nothing to do, now or later);
- an award a rule covers, for an educator the roster has not told us about: dead-lettered
  (``NonRetryableError``), because paying without an eligibility check would be wrong and
  skipping would lose pay; replay it from ``registry.credentials.dlq`` once the roster arrived;
- a revocation of a credential we never paid: recorded (so a late award is never paid), no
  ledger entry;
- a district move for an educator not on our roster: skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from compensation.adapters import repository as repo
from compensation.domain.rules import Award, Basis, Educator
from compensation.service_layer.stipends import (
    EducatorNotOnRoster,
    apply_award,
    reverse_award,
)
from mc_events.consumer import Handler, NonRetryableError
from mc_events.contracts.base import Event
from mc_events.contracts.compensation import StipendReversalReason
from mc_events.contracts.registry import CredentialAwarded, CredentialRevoked, StackCompleted
from mc_events.contracts.roster import EducatorMovedDistrict, EducatorRegistered, EducatorUpdated
from mc_events.envelope import Received

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def build_handlers(clock: Clock = utc_now) -> dict[type[Event], Handler]:
    async def _apply(session: AsyncSession, award: Award) -> None:
        try:
            await apply_award(session, award, clock)
        except EducatorNotOnRoster as exc:
            raise NonRetryableError(str(exc)) from exc

    async def credential_awarded(
        session: AsyncSession, received: Received[CredentialAwarded]
    ) -> None:
        event = received.event
        await _apply(
            session,
            Award(
                Basis.CREDENTIAL,
                event.credential_id,
                event.micro_credential_id,
                event.educator_id,
                event.district_id,
                event.awarded_at,
            ),
        )

    async def stack_completed(session: AsyncSession, received: Received[StackCompleted]) -> None:
        event = received.event
        await _apply(
            session,
            Award(
                Basis.STACK_COMPLETION,
                event.stack_completion_id,
                event.stack_id,
                event.educator_id,
                event.district_id,
                event.completed_at,
            ),
        )

    async def credential_revoked(
        session: AsyncSession, received: Received[CredentialRevoked]
    ) -> None:
        award_key = f"{Basis.CREDENTIAL}:{received.event.credential_id}"
        await reverse_award(session, award_key, StipendReversalReason.CREDENTIAL_REVOKED, clock)

    async def educator_snapshot(
        session: AsyncSession, received: Received[EducatorRegistered | EducatorUpdated]
    ) -> None:
        event = received.event
        license_ = event.license
        await repo.upsert_educator(
            session,
            Educator(
                event.educator_id,
                event.district_id,
                event.role.value,
                license_.license_type if license_ else None,
                license_.expires_on if license_ else None,
            ),
            clock(),
        )

    async def educator_moved(
        session: AsyncSession, received: Received[EducatorMovedDistrict]
    ) -> None:
        event = received.event
        await repo.move_educator(session, event.educator_id, event.to_district_id, clock())

    handlers: dict[type[Event], Any] = {
        CredentialAwarded: credential_awarded,
        StackCompleted: stack_completed,
        CredentialRevoked: credential_revoked,
        EducatorRegistered: educator_snapshot,
        EducatorUpdated: educator_snapshot,
        EducatorMovedDistrict: educator_moved,
    }
    return handlers


HANDLERS: dict[type[Event], Handler] = build_handlers()
