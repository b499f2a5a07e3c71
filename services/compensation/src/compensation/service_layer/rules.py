"""Districts and rules as versioned data: register a district; publish the next version of a
stipend rule or a salary-lane rule (a rule keeps its scope: who may publish which, for both
kinds, is decided once, in domain/versions.py); read a rule's versions."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, TypeVar, overload

from compensation.adapters.rules_repository import RuleVersions
from compensation.domain.lanes import SalaryLaneRule
from compensation.domain.rules import StipendRule
from compensation.domain.versions import (
    audit_chain,
    check_publishable,
    check_visible,
    version_key,
)
from compensation.service_layer.unit_of_work import UnitOfWork
from mc_platform.clock import Clock
from mc_platform.refusals import Conflict, NotFound

R = TypeVar("R", StipendRule, SalaryLaneRule)


async def register_district(
    uow: UnitOfWork, district_id: str, *, state: str, name: str, clock: Clock
) -> None:
    """Register a district (and its state) with compensation, or update it: its rules can
    then apply."""
    async with uow:
        await uow.roster.register_district(district_id, state, name, clock())
        await uow.commit()


@overload
def _versions_of(uow: UnitOfWork, kind: type[StipendRule]) -> RuleVersions[StipendRule]: ...
@overload
def _versions_of(uow: UnitOfWork, kind: type[SalaryLaneRule]) -> RuleVersions[SalaryLaneRule]: ...
def _versions_of(
    uow: UnitOfWork, kind: type[StipendRule] | type[SalaryLaneRule]
) -> RuleVersions[StipendRule] | RuleVersions[SalaryLaneRule]:
    return uow.stipend_rules if kind is StipendRule else uow.lane_rules


def _audited_as(rule: StipendRule | SalaryLaneRule) -> tuple[str, str, dict[str, Any]]:
    """How the audit trail records a rule's publication: action, object type, details."""
    if isinstance(rule, StipendRule):
        details = {
            "amount_cents": rule.amount_cents,
            "state": rule.state,
            "district_id": rule.district_id,
        }
        return "rule.published", "stipend_rule", details
    return (
        "lane_rule.published",
        "salary_lane_rule",
        {
            "lane": rule.lane,
            "rank": rule.rank,
            "state": rule.state,
        },
    )


async def publish(
    uow: UnitOfWork,
    rule: R,
    *,
    published_by: str,
    acting_for_district: str | None,
    clock: Clock,
) -> R:
    """Store ``rule`` as the next version of its rule id (the given version is ignored), if
    the caller may publish it (``acting_for_district``: a district admin's district; None for a
    state admin). Returns the version stored."""
    async with uow:
        now = clock()
        book = _versions_of(uow, type(rule))
        latest = await book.latest(rule.rule_id)
        district_state = (
            await uow.roster.district_state(rule.district_id) if rule.district_id else None
        )
        check_publishable(
            rule, latest, acting_for_district=acting_for_district, district_state=district_state
        )
        versioned = replace(rule, version=(latest.version + 1) if latest else 1)
        if not await book.insert(versioned, created_by=published_by, at=now):
            raise Conflict(
                f"version {versioned.version} of {rule.rule_id} was published concurrently"
            )
        action, object_type, details = _audited_as(versioned)
        uow.audit(
            actor=published_by,
            action=action,
            object_type=object_type,
            object_id=version_key(versioned),
            details=details,
            chain=audit_chain(versioned),
            at=now,
        )
        await uow.commit()
    return versioned


async def versions(
    uow: UnitOfWork, kind: type[R], rule_id: str, *, district_scope: str | None
) -> list[R]:
    """Every version of a rule, oldest first, if the caller may read it (``district_scope``:
    a district admin's district; None for a state admin)."""
    async with uow:
        found = await _versions_of(uow, kind).versions(rule_id)
    if not found:
        what = "stipend rule" if kind is StipendRule else "salary-lane rule"
        raise NotFound(f"no {what} {rule_id}")
    check_visible(found[-1], district_scope)
    return found
