"""Inbound events of the registry service, mapped to command handlers."""

from mc_events.consumer import Handler
from mc_events.contracts.base import Event

HANDLERS: dict[type[Event], Handler] = {}
