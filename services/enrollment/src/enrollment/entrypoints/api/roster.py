"""Roster routes: HR imports (state admin, or a district admin for their own district)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, UploadFile
from pydantic import BaseModel

from enrollment.entrypoints.api.deps import Metrics, UoW
from enrollment.service_layer import roster_import
from enrollment.service_layer.roster_import import MAX_IMPORT_BYTES
from mc_platform.auth import Principal, Role, require
from mc_platform.dependencies import ClockDep
from mc_platform.refusals import Forbidden

router = APIRouter(prefix="/roster", tags=["roster"])

MULTIPART_OVERHEAD = 64 * 1024
"""Form boundaries and part headers around the file, for the request body limit."""


class RowErrorOut(BaseModel):
    row: int
    field: str
    message: str


class ImportReportOut(BaseModel):
    import_id: str
    rows: int
    accepted: int
    registered: int
    updated: int
    moved: int
    unchanged: int
    events: int
    seconds: float
    errors: list[RowErrorOut]


class EducatorOut(BaseModel):
    educator_id: str
    first_name: str
    middle_name: str | None
    last_name: str
    email: str
    district_id: str
    school_id: str | None
    role: str
    supervisor_id: str | None
    license_number: str | None
    license_type: str | None
    license_expires_on: str | None


Admin = Annotated[Principal, Depends(require(Role.STATE_ADMIN, Role.DISTRICT_ADMIN))]


def _district_scope(principal: Principal) -> str | None:
    """None for a state admin (every district); a district admin's own district."""
    if principal.has(Role.STATE_ADMIN):
        return None
    if not principal.district_id:
        raise Forbidden("the token names no district")
    return principal.district_id


@router.post(
    "/imports",
    summary="Import staff records from an HR file (CSV or JSON)",
    description="Good rows go in, bad rows are reported with row number, field and message. "
    "Re-importing the same file changes nothing and emits nothing. A district admin may import "
    "only rows of their own district, and cannot take over educators of another district.",
    responses={
        413: {"description": "The file is larger than the import limit"},
        400: {"description": "More than one file, or too many or too large other fields"},
        422: {"description": "The file cannot be read at all; nothing changed"},
    },
    # One file; a few small text fields at most (more, or a larger one: 400, nothing read).
    form_limits={"max_files": 1, "max_fields": 8, "max_part_size": 64 * 1024},
)
async def import_staff(
    file: UploadFile, principal: Admin, uow: UoW, clock: ClockDep, metrics: Metrics
) -> ImportReportOut:
    only_district = _district_scope(principal)
    report = await roster_import.import_roster(
        uow,
        await file.read(MAX_IMPORT_BYTES + 1),  # one byte more than allowed: refused, not cut
        filename=file.filename,
        content_type=file.content_type,
        only_district=only_district,
        now=clock(),
    )
    metrics.roster_rows.labels("accepted").inc(report.accepted)
    metrics.roster_rows.labels("rejected").inc(report.rows - report.accepted)
    metrics.roster_changes.labels("registered").inc(report.registered)
    metrics.roster_changes.labels("updated").inc(report.updated)
    metrics.roster_changes.labels("moved").inc(report.moved)
    metrics.roster_import_seconds.observe(report.seconds)
    return ImportReportOut(
        import_id=report.import_id,
        rows=report.rows,
        accepted=report.accepted,
        registered=report.registered,
        updated=report.updated,
        moved=report.moved,
        unchanged=report.unchanged,
        events=report.events,
        seconds=report.seconds,
        errors=[RowErrorOut(row=e.row, field=e.field, message=e.message) for e in report.errors],
    )


@router.get(
    "/educators/{educator_id}",
    summary="One educator's roster record",
    description="State admins see anyone; district admins their district; educators themselves.",
)
async def get_educator(
    educator_id: str,
    principal: Annotated[
        Principal, Depends(require(Role.STATE_ADMIN, Role.DISTRICT_ADMIN, Role.EDUCATOR))
    ],
    uow: UoW,
) -> EducatorOut:
    viewer = roster_import.Viewer(
        state_admin=principal.has(Role.STATE_ADMIN),
        district_id=principal.district_id if principal.has(Role.DISTRICT_ADMIN) else None,
        educator_id=principal.educator_id if principal.has(Role.EDUCATOR) else None,
    )
    record = await roster_import.educator(uow, educator_id, viewer)
    return EducatorOut(
        educator_id=record.educator_id,
        first_name=record.first_name,
        middle_name=record.middle_name,
        last_name=record.last_name,
        email=record.email,
        district_id=record.district_id,
        school_id=record.school_id,
        role=record.role.value,
        supervisor_id=record.supervisor_id,
        license_number=record.license_number,
        license_type=record.license_type,
        license_expires_on=(
            record.license_expires_on.isoformat() if record.license_expires_on else None
        ),
    )
