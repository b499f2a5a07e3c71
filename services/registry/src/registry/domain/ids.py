"""The registry's identifiers: deterministic ids derived from what they name (``uuid5``), so a
redelivered event or a retried command names the same event, completion, ledger entry or
import as the first time; and fresh ids for new catalog entries."""

from __future__ import annotations

import uuid

EVENT_NAMESPACE = uuid.UUID("6f1c3c2e-5b9a-4d53-9d7e-3c0f8a0f2b61")
"""Namespace of the registry's deterministic ids (uuid5 of what the id is about)."""


def event_id(kind: str, *parts: object) -> str:
    """The id of ``kind`` about ``parts`` (``event_id("credential_revoked", credential_id)``)."""
    return str(uuid.uuid5(EVENT_NAMESPACE, ":".join([kind, *map(str, parts)])))


def new_id(prefix: str) -> str:
    """A fresh id, ``<prefix>-<32 hex>`` (a catalog entry created without one)."""
    return f"{prefix}-{uuid.uuid4().hex}"
