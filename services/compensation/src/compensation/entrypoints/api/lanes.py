"""Lane history (salary-lane rules are published with the other rules: rules.py).

Who may read what (as for stipends): an educator reads their own lane history, a district admin
their district's educators (only entries of their district), a state admin everyone's; a
district's payroll system reads its district's lane changes, in order, to apply them.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from compensation.entrypoints.api.deps import (
    DistrictReader,
    Reader,
    UoW,
    educator_scope,
    own_district,
)
from compensation.entrypoints.api.schemas import (
    EducatorLanesOut,
    LaneChangeOut,
)
from compensation.service_layer import lanes

router = APIRouter(tags=["salary lanes"])


@router.get("/educators/{educator_id}/salary-lane", response_model=EducatorLanesOut)
async def educator_lanes(educator_id: str, principal: Reader, uow: UoW) -> EducatorLanesOut:
    """The educator's lane now (per district), their lane history and their grants."""
    scope = educator_scope(principal, educator_id, "salary lane")
    found = await lanes.educator_lanes(uow, educator_id, district_scope=scope)
    return EducatorLanesOut.model_validate(found, from_attributes=True)


@router.get("/districts/{district_id}/salary-lane-changes", response_model=list[LaneChangeOut])
async def district_changes(
    district_id: str,
    principal: DistrictReader,
    uow: UoW,
    after_seq: Annotated[int, Query(ge=0, description="Resume after this seq.")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[LaneChangeOut]:
    """The district's lane changes in the order they happened (page with ``after_seq``)."""
    own_district(principal, district_id)
    found = await lanes.district_changes(uow, district_id, after_seq=after_seq, limit=limit)
    return [LaneChangeOut.model_validate(change, from_attributes=True) for change in found]
