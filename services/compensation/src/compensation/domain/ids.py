"""Deterministic ids: a replayed award, a retried command or a redelivered revocation computes
the same ledger entry id and the same event id, so nothing downstream sees a second one."""

from __future__ import annotations

import uuid

_NAMESPACE = uuid.UUID("5b0e7c1e-3f0b-4f43-9a55-6d1c0e2f4a10")


def _derive(*parts: object) -> str:
    return str(uuid.uuid5(_NAMESPACE, "\x1f".join(str(part) for part in parts)))


def approval_entry_id(award_key: str, rule_id: str, fiscal_year: int) -> str:
    return _derive("approval", award_key, rule_id, fiscal_year)


def reversal_entry_id(original_entry_id: str) -> str:
    return _derive("reversal", original_entry_id)


def deferral_id(award_key: str, rule_id: str, fiscal_year: int) -> str:
    return _derive("deferral", award_key, rule_id, fiscal_year)


def event_id(event_type: str, entity_id: str) -> str:
    """The outbox event id for ``event_type`` about a ledger entry (or deferral)."""
    return _derive("event", event_type, entity_id)


def payroll_batch_id(district_id: str, pay_period_id: str) -> str:
    """One batch per district and pay period: asking again returns the same batch."""
    return _derive("payroll-batch", district_id, pay_period_id)


def lane_grant_id(stack_completion_id: str, rule_id: str) -> str:
    """One grant per completion and salary-lane rule."""
    return _derive("lane-grant", stack_completion_id, rule_id)


def lane_change_id(grant_id: str, reason: str) -> str:
    """One lane change per grant and direction (granted, or reversed)."""
    return _derive("lane-change", grant_id, reason)
