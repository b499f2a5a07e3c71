"""Budgets and stipends: a district admin funds and reads their own district's budgets (a state
admin every district's); an educator reads their own stipends, a district admin their
district's part of anyone's."""

from __future__ import annotations

from fastapi import APIRouter, status

from compensation.entrypoints.api.deps import Admin, Reader, UoW, educator_scope, own_district
from compensation.entrypoints.api.schemas import (
    AllocationIn,
    AllocationOut,
    BudgetOut,
    EducatorStipendsOut,
)
from compensation.service_layer import stipends
from mc_platform.dependencies import ClockDep

router = APIRouter(tags=["compensation"])


@router.post(
    "/districts/{district_id}/budgets/{fiscal_year}/allocations",
    response_model=AllocationOut,
    status_code=status.HTTP_201_CREATED,
)
async def allocate(
    district_id: str,
    fiscal_year: int,
    body: AllocationIn,
    principal: Admin,
    uow: UoW,
    clock: ClockDep,
) -> AllocationOut:
    """Add funds to a district budget; deferred stipends it now covers are approved."""
    own_district(principal, district_id)
    key = (district_id, body.funding_source, fiscal_year)
    allocation = await stipends.add_funds(
        uow, key, body.amount_cents, added_by=principal.subject, clock=clock
    )
    return AllocationOut(
        budget=BudgetOut.of(key, allocation.budget),
        released_entry_ids=allocation.released_entry_ids,
    )


@router.get("/districts/{district_id}/budgets/{fiscal_year}", response_model=BudgetOut)
async def budget(
    district_id: str, fiscal_year: int, funding_source: str, principal: Admin, uow: UoW
) -> BudgetOut:
    """Allocated, committed and remaining cents of one budget, and what waits on it."""
    own_district(principal, district_id)
    key = (district_id, funding_source, fiscal_year)
    return BudgetOut.of(key, await stipends.budget(uow, key))


@router.get("/educators/{educator_id}/stipends", response_model=EducatorStipendsOut)
async def educator_stipends(educator_id: str, principal: Reader, uow: UoW) -> EducatorStipendsOut:
    """An educator's ledger entries and balance (a district admin sees their district's)."""
    scope = educator_scope(principal, educator_id, "stipends")
    return EducatorStipendsOut.of(await stipends.statement(uow, educator_id, district_scope=scope))
