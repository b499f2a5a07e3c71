"""The compensation HTTP API (routes stay thin: validate, call a handler, map errors).

Who may do what: a state admin registers districts and publishes statewide rules; a district
admin publishes rules for, funds and reads their own district only; an educator reads their
own stipends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status

from compensation.adapters import lanes_repository as lanes_repo
from compensation.adapters import repository as repo
from compensation.domain.fiscal import InvalidCalendar
from compensation.domain.rules import InvalidRule
from compensation.entrypoints.api.schemas import (
    AllocationIn,
    AllocationOut,
    BudgetOut,
    DistrictIn,
    DistrictOut,
    EducatorStipendsOut,
    LedgerEntryOut,
    RuleIn,
    RuleOut,
)
from compensation.service_layer import rules as rule_commands
from compensation.service_layer.errors import CommandRefused, Conflict, Forbidden, NotFound
from compensation.service_layer.stipends import add_funds
from compensation.service_layer.unit_of_work import UnitOfWork
from mc_events.auth import Principal, Role, require

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def get_uow(request: Request) -> UnitOfWork:
    return UnitOfWork(request.app.state.runtime.sessions)


Uow = Annotated[UnitOfWork, Depends(get_uow)]
StateAdmin = Annotated[Principal, Depends(require(Role.STATE_ADMIN))]
Admin = Annotated[Principal, Depends(require(Role.STATE_ADMIN, Role.DISTRICT_ADMIN))]
Reader = Annotated[
    Principal, Depends(require(Role.STATE_ADMIN, Role.DISTRICT_ADMIN, Role.EDUCATOR))
]

_STATUS: list[tuple[type[Exception], int]] = [
    (NotFound, status.HTTP_404_NOT_FOUND),
    (Forbidden, status.HTTP_403_FORBIDDEN),
    (Conflict, status.HTTP_409_CONFLICT),
    (InvalidRule, status.HTTP_422_UNPROCESSABLE_CONTENT),
    (InvalidCalendar, status.HTTP_422_UNPROCESSABLE_CONTENT),
]


@asynccontextmanager
async def refusals() -> AsyncIterator[None]:
    """A refused command becomes its HTTP answer (the unit of work rolled back: no change)."""
    try:
        yield
    except (CommandRefused, InvalidRule, InvalidCalendar) as exc:
        code = next(code for kind, code in _STATUS if isinstance(exc, kind))
        raise HTTPException(code, detail=str(exc)) from exc


def _district_admin_scope(principal: Principal) -> str | None:
    """None for a state admin; the district a district admin acts for (403 without one)."""
    if principal.has(Role.STATE_ADMIN):
        return None
    if not principal.district_id:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "token names no district")
    return principal.district_id


def own_district(principal: Principal, district_id: str) -> None:
    scope = _district_admin_scope(principal)
    if scope is not None and scope != district_id:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "another district's data")


def build_router(clock: Clock = utc_now) -> APIRouter:
    router = APIRouter(tags=["compensation"])

    @router.put("/districts/{district_id}", response_model=DistrictOut)
    async def register_district(
        district_id: str, body: DistrictIn, principal: StateAdmin, uow: Uow
    ) -> DistrictOut:
        """Register a district (and its state) with compensation; its rules can then apply."""
        async with uow:
            await repo.upsert_district(uow.session, district_id, body.state, body.name, clock())
            await uow.commit()
        return DistrictOut(district_id=district_id, state=body.state, name=body.name)

    @router.post("/stipend-rules", response_model=RuleOut, status_code=status.HTTP_201_CREATED)
    async def publish_rule(body: RuleIn, principal: Admin, uow: Uow) -> RuleOut:
        """Publish the next version of a stipend rule (versions are never edited)."""
        scope = _district_admin_scope(principal)
        async with refusals(), uow:
            rule = await rule_commands.publish_rule(
                uow.session,
                body.to_domain(),
                published_by=principal.subject,
                acting_for_district=scope,
                at=clock(),
            )
            await uow.commit()
        return RuleOut.of(rule)

    @router.get("/stipend-rules/{rule_id}", response_model=list[RuleOut])
    async def rule_versions(rule_id: str, principal: Admin, uow: Uow) -> list[RuleOut]:
        """Every version of a rule, oldest first."""
        async with refusals(), uow:
            found = await rule_commands.versions(uow.session, rule_id)
        scope = _district_admin_scope(principal)
        if scope is not None and found[-1].district_id not in (None, scope):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "another district's rule")
        return [RuleOut.of(rule) for rule in found]

    @router.post(
        "/districts/{district_id}/budgets/{fiscal_year}/allocations",
        response_model=AllocationOut,
        status_code=status.HTTP_201_CREATED,
    )
    async def allocate(
        district_id: str, fiscal_year: int, body: AllocationIn, principal: Admin, uow: Uow
    ) -> AllocationOut:
        """Add funds to a district budget; deferred stipends it now covers are approved."""
        own_district(principal, district_id)
        if not 2000 <= fiscal_year <= 2200:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "fiscal_year out of range")
        key = (district_id, body.funding_source, fiscal_year)
        async with uow:
            if await repo.district_state(uow.session, district_id) is None:
                raise HTTPException(status.HTTP_404_NOT_FOUND, "district is not registered")
            released = await add_funds(
                uow.session, key, body.amount_cents, added_by=principal.subject, clock=clock
            )
            report = await repo.budget_report(uow.session, key)
            await uow.commit()
        return AllocationOut(
            budget=BudgetOut(
                district_id=district_id,
                funding_source=body.funding_source,
                fiscal_year=fiscal_year,
                **report,
            ),
            released_entry_ids=released,
        )

    @router.get("/districts/{district_id}/budgets/{fiscal_year}", response_model=BudgetOut)
    async def budget(
        district_id: str, fiscal_year: int, funding_source: str, principal: Admin, uow: Uow
    ) -> BudgetOut:
        """Allocated, committed and remaining cents of one budget, and what waits on it."""
        own_district(principal, district_id)
        async with uow:
            report = await repo.budget_report(
                uow.session, (district_id, funding_source, fiscal_year)
            )
        return BudgetOut(
            district_id=district_id,
            funding_source=funding_source,
            fiscal_year=fiscal_year,
            **report,
        )

    @router.get("/educators/{educator_id}/stipends", response_model=EducatorStipendsOut)
    async def educator_stipends(
        educator_id: str, principal: Reader, uow: Uow
    ) -> EducatorStipendsOut:
        """An educator's ledger entries and balance (a district admin sees their district's)."""
        if not principal.has(Role.STATE_ADMIN, Role.DISTRICT_ADMIN) and (
            principal.educator_id != educator_id
        ):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "another educator's stipends")
        scope = (
            _district_admin_scope(principal)
            if principal.has(Role.STATE_ADMIN, Role.DISTRICT_ADMIN)
            else None
        )
        async with uow:
            rows = await repo.educator_entries(uow.session, educator_id)
            held = {
                row.entry_id
                for row in await lanes_repo.held_entries(uow.session, educator_id=educator_id)
            }
        if scope is not None:
            rows = [row for row in rows if row.district_id == scope]
        by_year: dict[int, int] = {}
        for row in rows:
            by_year[row.fiscal_year] = by_year.get(row.fiscal_year, 0) + row.amount_cents
        return EducatorStipendsOut(
            educator_id=educator_id,
            balance_cents=sum(row.amount_cents for row in rows),
            by_fiscal_year=by_year,
            held_cents=sum(row.amount_cents for row in rows if row.entry_id in held),
            entries=[
                LedgerEntryOut.model_validate({**row._mapping, "held": row.entry_id in held})
                for row in rows
            ],
        )

    return router


router = build_router()
