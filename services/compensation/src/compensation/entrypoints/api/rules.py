"""Districts and rules as versioned data: a state admin registers districts and publishes
statewide stipend and salary-lane rules; a district admin publishes and reads their own
district's rules (and reads statewide ones)."""

from __future__ import annotations

from typing import TypeVar

from fastapi import APIRouter, status

from compensation.domain.lanes import SalaryLaneRule
from compensation.domain.rules import StipendRule
from compensation.entrypoints.api.deps import Admin, StateAdmin, UoW, district_scope
from compensation.entrypoints.api.schemas import (
    DistrictIn,
    DistrictOut,
    LaneRuleIn,
    LaneRuleOut,
    RuleIn,
    RuleOut,
)
from compensation.service_layer import rules
from compensation.service_layer.unit_of_work import UnitOfWork
from mc_platform.auth import Principal
from mc_platform.clock import Clock
from mc_platform.dependencies import ClockDep

R = TypeVar("R", StipendRule, SalaryLaneRule)

router = APIRouter()


@router.put("/districts/{district_id}", response_model=DistrictOut, tags=["compensation"])
async def register_district(
    district_id: str, body: DistrictIn, principal: StateAdmin, uow: UoW, clock: ClockDep
) -> DistrictOut:
    """Register a district (and its state) with compensation; its rules can then apply."""
    await rules.register_district(uow, district_id, state=body.state, name=body.name, clock=clock)
    return DistrictOut(district_id=district_id, state=body.state, name=body.name)


async def _publish(uow: UnitOfWork, rule: R, principal: Principal, clock: Clock) -> R:
    """``rule`` as the next version, published by ``principal`` (for their district)."""
    scope = district_scope(principal)
    return await rules.publish(
        uow, rule, published_by=principal.subject, acting_for_district=scope, clock=clock
    )


async def _versions(uow: UnitOfWork, kind: type[R], rule_id: str, principal: Principal) -> list[R]:
    return await rules.versions(uow, kind, rule_id, district_scope=district_scope(principal))


@router.post(
    "/stipend-rules",
    response_model=RuleOut,
    status_code=status.HTTP_201_CREATED,
    tags=["compensation"],
)
async def publish_rule(body: RuleIn, principal: Admin, uow: UoW, clock: ClockDep) -> RuleOut:
    """Publish the next version of a stipend rule (versions are never edited)."""
    return RuleOut.of(await _publish(uow, body.to_domain(), principal, clock))


@router.get("/stipend-rules/{rule_id}", response_model=list[RuleOut], tags=["compensation"])
async def rule_versions(rule_id: str, principal: Admin, uow: UoW) -> list[RuleOut]:
    """Every version of a rule, oldest first."""
    return [RuleOut.of(rule) for rule in await _versions(uow, StipendRule, rule_id, principal)]


@router.post(
    "/salary-lane-rules",
    response_model=LaneRuleOut,
    status_code=status.HTTP_201_CREATED,
    tags=["salary lanes"],
)
async def publish(body: LaneRuleIn, principal: Admin, uow: UoW, clock: ClockDep) -> LaneRuleOut:
    """Publish the next version of a salary-lane rule (versions are never edited)."""
    return LaneRuleOut.of(await _publish(uow, body.to_domain(), principal, clock))


@router.get("/salary-lane-rules/{rule_id}", response_model=list[LaneRuleOut], tags=["salary lanes"])
async def versions(rule_id: str, principal: Admin, uow: UoW) -> list[LaneRuleOut]:
    """Every version of a salary-lane rule, oldest first."""
    found = await _versions(uow, SalaryLaneRule, rule_id, principal)
    return [LaneRuleOut.of(rule) for rule in found]
