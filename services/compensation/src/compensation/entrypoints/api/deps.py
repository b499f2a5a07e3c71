"""What the compensation routes depend on: the unit of work, who may call, and which district
or educator a caller acts for.

Who may do what: a state admin registers districts and publishes statewide rules and reads
everything; a district admin publishes rules for, funds and reads their own district only; a
district's payroll system composes, reads and acknowledges its district's batches and reads its
reports and lane changes; an educator reads their own stipends and salary lane.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from compensation.service_layer.unit_of_work import UnitOfWork
from mc_platform.auth import Principal, Role, require
from mc_platform.dependencies import unit_of_work
from mc_platform.refusals import Forbidden

UoW = Annotated[UnitOfWork, Depends(unit_of_work(UnitOfWork))]
StateAdmin = Annotated[Principal, Depends(require(Role.STATE_ADMIN))]
Admin = Annotated[Principal, Depends(require(Role.STATE_ADMIN, Role.DISTRICT_ADMIN))]
Reader = Annotated[
    Principal, Depends(require(Role.STATE_ADMIN, Role.DISTRICT_ADMIN, Role.EDUCATOR))
]
DistrictReader = Annotated[
    Principal, Depends(require(Role.DISTRICT_ADMIN, Role.PAYROLL_SYSTEM, Role.STATE_ADMIN))
]
Payroll = Annotated[Principal, Depends(require(Role.PAYROLL_SYSTEM, Role.DISTRICT_ADMIN))]
PayrollSystem = Annotated[Principal, Depends(require(Role.PAYROLL_SYSTEM))]


def district_scope(principal: Principal) -> str | None:
    """None for a state admin; the district anyone else acts for (403 without one)."""
    if principal.has(Role.STATE_ADMIN):
        return None
    if not principal.district_id:
        raise Forbidden("token names no district")
    return principal.district_id


def own_district(principal: Principal, district_id: str) -> None:
    """403 unless the caller may act for ``district_id``."""
    scope = district_scope(principal)
    if scope is not None and scope != district_id:
        raise Forbidden("another district's data")


def educator_scope(principal: Principal, educator_id: str, record: str) -> str | None:
    """Who reads an educator's ``record``: the educator themselves (None: all of it), a
    district admin (their district's part of it) or a state admin (None); 403 for others."""
    if not principal.has(Role.STATE_ADMIN, Role.DISTRICT_ADMIN):
        if principal.educator_id != educator_id:
            raise Forbidden(f"another educator's {record}")
        return None
    return district_scope(principal)
