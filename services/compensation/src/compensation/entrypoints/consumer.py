"""Inbound events of the compensation service, mapped to their handlers
(service_layer/handlers.py), each run in the consumer runtime's transaction.

What is skipped and what is dead-lettered (topics are shared, so we see events about districts,
educators and credentials that concern us not at all):

- an award in a district not registered with compensation, or that no rule covers: skipped
  (no stipend programme; nothing to do, now or later);
- an award a rule covers, for an educator the roster has not told us about: dead-lettered
  (``NonRetryableError``), because paying without an eligibility check would be wrong and
  skipping would lose pay; replay it from ``registry.credentials.dlq`` once the roster arrived;
- a revocation of a credential we never paid: recorded (so a late award is never paid), no
  ledger entry;
- a district move for an educator not on our roster: skipped;
- a stack completion a salary-lane rule covers, for an educator not on the roster:
  dead-lettered, like an award (the stack bonus and the lane are decided together);
- a reversal of a stack completion never seen: recorded (a late completion grants nothing);
- a suspension or reinstatement older than the credential's current status: skipped;
- a reissue: recorded (the new id continues the original award; see service_layer/reissues.py),
  nothing paid or reversed; every later award, suspension, reinstatement or revocation naming
  any id of the chain acts on the original award; a revocation of a credential superseded
  before it was revoked claws nothing back; a reissue that would make a credential its own
  predecessor: dead-lettered.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from compensation.service_layer import handlers as on
from compensation.service_layer.errors import Undeliverable
from compensation.service_layer.unit_of_work import UnitOfWork
from mc_events.consumer import Handler, NonRetryableError
from mc_events.contracts.base import Event
from mc_events.contracts.registry import (
    CredentialAwarded,
    CredentialReinstated,
    CredentialReissued,
    CredentialRevoked,
    CredentialSuspended,
    StackCompleted,
    StackCompletionReversed,
)
from mc_events.contracts.roster import EducatorMovedDistrict, EducatorRegistered, EducatorUpdated
from mc_events.envelope import Received
from mc_platform.clock import Clock, utc_now
from mc_platform.unit_of_work import consumer_handler

OnEvent = Callable[[UnitOfWork, Any, Clock], Awaitable[None]]

ON: dict[type[Event], OnEvent] = {
    CredentialAwarded: on.on_credential_awarded,
    StackCompleted: on.on_stack_completed,
    CredentialRevoked: on.on_credential_revoked,
    StackCompletionReversed: on.on_stack_completion_reversed,
    CredentialSuspended: on.on_credential_suspended,
    CredentialReinstated: on.on_credential_reinstated,
    CredentialReissued: on.on_credential_reissued,
    EducatorRegistered: on.on_educator_snapshot,
    EducatorUpdated: on.on_educator_snapshot,
    EducatorMovedDistrict: on.on_educator_moved,
}


def _handler(handle: OnEvent, clock: Clock) -> Handler:
    """The runtime handler of ``handle``: the event's unit of work joins the runtime's
    transaction; an event that can never be applied as it is goes to the dead-letter topic."""

    async def run(uow: UnitOfWork, received: Received[Any]) -> None:
        try:
            await handle(uow, received.event, clock)
        except Undeliverable as exc:
            raise NonRetryableError(str(exc)) from exc

    run.__name__ = run.__qualname__ = handle.__name__
    return consumer_handler(UnitOfWork, run)


def build_handlers(clock: Clock = utc_now) -> dict[type[Event], Handler]:
    """The consumer's handlers, reading time from ``clock`` (the service definition's)."""
    return {event_type: _handler(handle, clock) for event_type, handle in ON.items()}
