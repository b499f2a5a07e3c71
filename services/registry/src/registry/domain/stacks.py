"""Stack completion rules (pure): which of an educator's valid credentials complete a stack.

A stack's rule (from the approved catalog version) is ``all_of`` its members or any ``n`` of
them (``n_of_m``); any version of a member micro-credential counts (the catalog's
``StackPublished`` contract). One credential per member counts: the earliest awarded, so the
credentials a completion names do not change when a later duplicate arrives.

Rules the service layer applies around this (documented here because they are policy):

- Only *valid* credentials count: active (neither revoked nor, once the registry suspends,
  suspended) and not past their ``valid_until``.
- An educator holds at most one standing completion of a stack (whatever its version): a
  completion stands until a revocation leaves the educator's valid credentials short of the
  rule of the version that was completed, and then it is reversed once. A later award may
  complete the stack again (a new completion, a new ``stack_completed``).
- A suspension does not reverse a completion (it is temporary and may be lifted); only a
  revocation does (``StackCompletionReversed``: "a member credential was revoked").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from mc_events.contracts.catalog import StackRule, StackRuleKind
from mc_events.contracts.common import Grant, GrantKind


@dataclass(frozen=True)
class HeldCredential:
    """One valid credential of the educator."""

    credential_id: str
    micro_credential_id: str
    awarded_at: datetime


def required_count(rule: StackRule, members: Sequence[str]) -> int:
    if rule.kind is StackRuleKind.ALL_OF:
        return len(members)
    assert rule.n is not None  # StackRule guarantees it for n_of_m
    return rule.n


def satisfying_credentials(
    rule: StackRule, members: Sequence[str], held: Iterable[HeldCredential]
) -> tuple[str, ...] | None:
    """The credentials (one per member, in member order) that satisfy ``rule``, or None when
    the educator's valid credentials fall short of it."""
    earliest: dict[str, HeldCredential] = {}
    for credential in sorted(held, key=lambda c: (c.awarded_at, c.credential_id)):
        if credential.micro_credential_id in members:
            earliest.setdefault(credential.micro_credential_id, credential)
    if len(earliest) < required_count(rule, members):
        return None
    return tuple(earliest[m].credential_id for m in members if m in earliest)


def endorsements(grants: Iterable[Grant]) -> tuple[Grant, ...]:
    """The grants that make the educator eligible for a license endorsement."""
    return tuple(g for g in grants if g.kind is GrantKind.ENDORSEMENT)
