"""What stipend rules and salary-lane rules share: they are versioned data.

A rule id belongs to a state (every district of it) or to one district. Rules are never edited:
a change is a new version with its own ``effective_from``, and the version in force on the date
of what happened (an award, a stack completion) is the one that applies. Who may publish a
version, and which versions apply, is decided here once for both kinds of rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Protocol, TypeVar

from mc_platform.refusals import Conflict, Forbidden, Invalid, NotFound


class InvalidRule(Invalid, ValueError):
    """Rule data that cannot be applied (refused before it is stored)."""


class VersionedRule(Protocol):
    """One version of a rule id, stipend or salary lane."""

    @property
    def rule_id(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def state(self) -> str: ...
    @property
    def district_id(self) -> str | None: ...
    @property
    def effective_from(self) -> datetime: ...
    @property
    def effective_until(self) -> datetime | None: ...


R = TypeVar("R", bound=VersionedRule)


def positive_int(value: object) -> bool:
    # bool is an int subclass; floats and Decimals are refused.
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def check_identity(rule: VersionedRule) -> None:
    if not rule.rule_id:
        raise InvalidRule("rule_id is required")
    if not positive_int(rule.version):
        raise InvalidRule("version must be a positive integer")


def check_state(state: str, *, example: str) -> None:
    if len(state) != 2 or not state.isupper():
        raise InvalidRule(f"state must be a two-letter postal code, e.g. '{example}'")


def check_effective_dates(rule: VersionedRule) -> None:
    for moment in (rule.effective_from, rule.effective_until):
        if moment is not None and moment.utcoffset() is None:
            raise InvalidRule("effective dates must be timezone-aware")
    if rule.effective_until is not None and rule.effective_until <= rule.effective_from:
        raise InvalidRule("effective_until must be after effective_from")


def in_force(rule: VersionedRule, at: datetime) -> bool:
    return rule.effective_from <= at and (rule.effective_until is None or at < rule.effective_until)


def versions_in_force(rules: Iterable[R], *, state: str, district_id: str, at: datetime) -> list[R]:
    """For each rule id of ``state`` (statewide, or of ``district_id``), its latest version in
    force at ``at``. Sorted by rule id: the service layer takes locks in this order."""
    chosen: dict[str, R] = {}
    for rule in rules:
        if rule.state != state:
            continue
        if rule.district_id is not None and rule.district_id != district_id:
            continue
        if not in_force(rule, at):
            continue
        current = chosen.get(rule.rule_id)
        if current is None or rule.version > current.version:
            chosen[rule.rule_id] = rule
    return [rule for _, rule in sorted(chosen.items())]


def check_publishable(
    rule: VersionedRule,
    latest: VersionedRule | None,
    *,
    acting_for_district: str | None,
    district_state: str | None,
) -> None:
    """Refuse a new version that the caller may not publish: a district admin
    (``acting_for_district``; None: a state admin) publishes their own district's rules only;
    a version never changes its rule id's state or district (else a district could take over
    a statewide rule id); a district rule names a registered district (``district_state``: its
    state, None if not registered) of the rule's state."""
    if acting_for_district is not None and rule.district_id != acting_for_district:
        raise Forbidden("a district admin publishes rules of their own district only")
    if latest is not None and (latest.state, latest.district_id) != (rule.state, rule.district_id):
        raise Conflict(
            f"rule {rule.rule_id} belongs to {latest.state}/{latest.district_id or '*'}; "
            "a new version cannot change its state or district"
        )
    if rule.district_id is not None:
        if district_state is None:
            raise NotFound(f"district {rule.district_id} is not registered")
        if district_state != rule.state:
            raise Conflict(f"district {rule.district_id} is in {district_state}, not {rule.state}")


def check_visible(rule: VersionedRule, district_scope: str | None) -> None:
    """A district admin (``district_scope``) reads statewide rules and their own district's."""
    if district_scope is not None and rule.district_id not in (None, district_scope):
        raise Forbidden("another district's rule")


def version_key(rule: VersionedRule) -> str:
    """``<rule id>@v<version>``: how the audit trail names one version."""
    return f"{rule.rule_id}@v{rule.version}"


def audit_chain(rule: VersionedRule) -> str:
    """The audit chain of a rule's publications: its district's, or its state's."""
    return f"district:{rule.district_id}" if rule.district_id else f"state:{rule.state}"
