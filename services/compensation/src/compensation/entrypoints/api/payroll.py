"""Payroll batches and district reports.

A district's payroll system (role ``payroll_system``, token naming its district) composes the
batch of a pay period, downloads it as CSV or JSON (byte-identical on every download) and posts
the acknowledgement; district admins may compose and download too, and read the reports; a
state admin reads every district's reports. Every route checks the district in the token.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from compensation.domain.payroll import Batch, render_csv, render_json, sha256_hex
from compensation.domain.reports import PaymentStatus
from compensation.entrypoints.api.deps import (
    DistrictReader,
    Payroll,
    PayrollSystem,
    UoW,
    district_scope,
    own_district,
)
from compensation.entrypoints.api.schemas import (
    AcknowledgementIn,
    BatchIn,
    BatchOut,
    DistrictReport,
    PaymentOut,
)
from compensation.service_layer import payroll
from mc_platform.dependencies import ClockDep

MAX_PAGE_SIZE = 100

router = APIRouter(tags=["payroll"])


def _file(body: bytes, media_type: str, batch: Batch, suffix: str) -> Response:
    return Response(
        content=body,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{batch.header.batch_id}.{suffix}"',
            "X-Checksum-SHA256": sha256_hex(body),
            "X-Idempotency-Key": batch.header.idempotency_key,
            "X-Total-Cents": str(batch.total_cents),
            "X-Entry-Count": str(len(batch.lines)),
        },
    )


@router.post("/districts/{district_id}/payroll-batches", response_model=BatchOut)
async def compose(
    district_id: str,
    body: BatchIn,
    principal: Payroll,
    uow: UoW,
    response: Response,
    clock: ClockDep,
) -> BatchOut:
    """The batch of a pay period (composed once; asking again returns the same batch)."""
    own_district(principal, district_id)
    batch, created = await payroll.create_batch(
        uow, district_id, body.pay_period_id, body.pay_period_start, body.pay_period_end, clock
    )
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return BatchOut.of(batch)


@router.get("/payroll-batches/{batch_id}", response_model=BatchOut)
async def batch(batch_id: str, principal: Payroll, uow: UoW) -> BatchOut:
    found = await payroll.load_batch(uow, batch_id, district_scope=district_scope(principal))
    return BatchOut.of(found)


@router.get("/payroll-batches/{batch_id}/export.csv", response_class=Response)
async def export_csv(batch_id: str, principal: Payroll, uow: UoW) -> Response:
    """The batch as CSV; its SHA-256 is the batch checksum."""
    found = await payroll.load_batch(uow, batch_id, district_scope=district_scope(principal))
    return _file(render_csv(found.lines), "text/csv; charset=utf-8", found, "csv")


@router.get("/payroll-batches/{batch_id}/export.json", response_class=Response)
async def export_json(batch_id: str, principal: Payroll, uow: UoW) -> Response:
    """The batch as one JSON document (header, totals, the CSV checksum, lines)."""
    found = await payroll.load_batch(uow, batch_id, district_scope=district_scope(principal))
    return _file(render_json(found.header, found.lines), "application/json", found, "json")


@router.post("/payroll-batches/{batch_id}/acknowledgement", response_model=BatchOut)
async def acknowledge(
    batch_id: str, body: AcknowledgementIn, principal: PayrollSystem, uow: UoW, clock: ClockDep
) -> BatchOut:
    """Import the payroll system's answer: accepted entries are paid, rejected ones go
    into the next batch."""
    settled = await payroll.acknowledge(
        uow, batch_id, body.to_domain(), district_scope=district_scope(principal), clock=clock
    )
    return BatchOut.of(settled)


@router.get("/districts/{district_id}/reports/{fiscal_year}", response_model=DistrictReport)
async def report(
    district_id: str, fiscal_year: int, principal: DistrictReader, uow: UoW
) -> DistrictReport:
    """Spend, budget, pending, deferred and held payments per funding source for a fiscal
    year (held entries are pending too: not paid, and kept out of batches while their
    credential is suspended)."""
    own_district(principal, district_id)
    figures = await payroll.district_report(uow, district_id, fiscal_year)
    return DistrictReport.model_validate(figures, from_attributes=True)


@router.get("/districts/{district_id}/payments/{fiscal_year}", response_model=list[PaymentOut])
async def payments(
    district_id: str,
    fiscal_year: int,
    principal: DistrictReader,
    uow: UoW,
    status_: Annotated[PaymentStatus, Query(alias="status")] = PaymentStatus.PENDING,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 20,
) -> list[PaymentOut]:
    """Ledger entries not yet paid (pending), stipends waiting for budget (deferred), or
    entries held from payroll because their credential is suspended (held). Paged
    (``page`` from 1, ``page_size`` up to 100) in the order they were recorded."""
    own_district(principal, district_id)
    found = await payroll.unpaid(
        uow, district_id, fiscal_year, status_, limit=page_size, offset=(page - 1) * page_size
    )
    return [PaymentOut.model_validate(item, from_attributes=True) for item in found]
