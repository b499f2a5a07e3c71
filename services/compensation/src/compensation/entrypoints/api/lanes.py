"""Salary-lane rules and lane history.

Who may do what (as for stipends): a state admin publishes statewide lane rules, a district admin
their own district's; an educator reads their own lane history, a district admin their
district's educators (only entries of their district), a state admin everyone's; a district's
payroll system reads its district's lane changes, in order, to apply them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status

from compensation.adapters import lanes_repository as lanes_repo
from compensation.entrypoints.api import (
    Admin,
    Reader,
    Uow,
    _district_admin_scope,
    own_district,
    refusals,
    utc_now,
)
from compensation.entrypoints.api.schemas import (
    EducatorLanesOut,
    LaneChangeOut,
    LaneGrantOut,
    LaneRuleIn,
    LaneRuleOut,
)
from compensation.service_layer import lanes
from mc_events.auth import Principal, Role, require

LaneReader = Annotated[
    Principal, Depends(require(Role.DISTRICT_ADMIN, Role.PAYROLL_SYSTEM, Role.STATE_ADMIN))
]


def build_lanes_router(clock: Callable[[], datetime] = utc_now) -> APIRouter:
    router = APIRouter(tags=["salary lanes"])

    @router.post(
        "/salary-lane-rules", response_model=LaneRuleOut, status_code=status.HTTP_201_CREATED
    )
    async def publish(body: LaneRuleIn, principal: Admin, uow: Uow) -> LaneRuleOut:
        """Publish the next version of a salary-lane rule (versions are never edited)."""
        scope = _district_admin_scope(principal)
        async with refusals(), uow:
            rule = await lanes.publish_lane_rule(
                uow.session,
                body.to_domain(),
                published_by=principal.subject,
                acting_for_district=scope,
                at=clock(),
            )
            await uow.commit()
        return LaneRuleOut.of(rule)

    @router.get("/salary-lane-rules/{rule_id}", response_model=list[LaneRuleOut])
    async def versions(rule_id: str, principal: Admin, uow: Uow) -> list[LaneRuleOut]:
        """Every version of a salary-lane rule, oldest first."""
        async with refusals(), uow:
            found = await lanes.lane_rule_versions(uow.session, rule_id)
        scope = _district_admin_scope(principal)
        if scope is not None and found[-1].district_id not in (None, scope):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "another district's rule")
        return [LaneRuleOut.of(rule) for rule in found]

    @router.get("/educators/{educator_id}/salary-lane", response_model=EducatorLanesOut)
    async def educator_lanes(educator_id: str, principal: Reader, uow: Uow) -> EducatorLanesOut:
        """The educator's lane now (per district), their lane history and their grants."""
        admin = principal.has(Role.STATE_ADMIN, Role.DISTRICT_ADMIN)
        if not admin and principal.educator_id != educator_id:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "another educator's salary lane")
        scope = _district_admin_scope(principal) if admin else None
        async with uow:
            changes = await lanes_repo.educator_lane_changes(uow.session, educator_id)
            grants = await lanes_repo.educator_grants(uow.session, educator_id)
        if scope is not None:
            changes = [row for row in changes if row.district_id == scope]
            grants = [row for row in grants if row.district_id == scope]
        current: dict[str, str | None] = {}
        for change in changes:  # oldest first: the last change per district is the lane now
            current[change.district_id] = change.to_lane
        return EducatorLanesOut(
            educator_id=educator_id,
            current_lanes=current,
            changes=[LaneChangeOut.model_validate(row, from_attributes=True) for row in changes],
            grants=[LaneGrantOut.model_validate(row, from_attributes=True) for row in grants],
        )

    @router.get("/districts/{district_id}/salary-lane-changes", response_model=list[LaneChangeOut])
    async def district_changes(
        district_id: str,
        principal: LaneReader,
        uow: Uow,
        after_seq: Annotated[int, Query(ge=0, description="Resume after this seq.")] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[LaneChangeOut]:
        """The district's lane changes in the order they happened (page with ``after_seq``)."""
        own_district(principal, district_id)
        async with uow:
            rows = await lanes_repo.district_lane_changes(
                uow.session, district_id, after_seq=after_seq, limit=limit
            )
        return [LaneChangeOut.model_validate(row, from_attributes=True) for row in rows]

    return router
