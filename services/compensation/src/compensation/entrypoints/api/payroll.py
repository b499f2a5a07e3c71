"""Payroll batches and district reports.

A district's payroll system (role ``payroll_system``, token naming its district) composes the
batch of a pay period, downloads it as CSV or JSON (byte-identical on every download) and posts
the acknowledgement; district admins may compose and download too, and read the reports; a
state admin reads every district's reports. Every route checks the district in the token.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status

from compensation.adapters import lanes_repository as lanes_repo
from compensation.adapters import payroll_repository as reports
from compensation.adapters.repository import district_state
from compensation.domain.payroll import (
    InvalidAcknowledgement,
    render_csv,
    render_json,
    sha256_hex,
    total_cents,
)
from compensation.entrypoints.api import Uow, own_district, refusals, utc_now
from compensation.entrypoints.api.schemas import (
    AcknowledgementIn,
    BatchIn,
    BatchOut,
    DistrictReport,
    FundingSourceReport,
    PaymentOut,
)
from compensation.service_layer import payroll
from mc_events.auth import Principal, Role, require

Payroll = Annotated[Principal, Depends(require(Role.PAYROLL_SYSTEM, Role.DISTRICT_ADMIN))]
PayrollSystem = Annotated[Principal, Depends(require(Role.PAYROLL_SYSTEM))]
MAX_PAGE_SIZE = 100
ReportReader = Annotated[
    Principal, Depends(require(Role.DISTRICT_ADMIN, Role.PAYROLL_SYSTEM, Role.STATE_ADMIN))
]


class PaymentStatus(StrEnum):
    PENDING = "pending"
    DEFERRED = "deferred"
    HELD = "held"
    """Not yet exported and held: the credential is suspended (released on reinstatement)."""


def _out(batch: payroll.Batch) -> BatchOut:
    header = batch.header
    return BatchOut(
        batch_id=header.batch_id,
        district_id=header.district_id,
        pay_period_id=header.pay_period_id,
        pay_period_start=header.pay_period_start,
        pay_period_end=header.pay_period_end,
        idempotency_key=header.idempotency_key,
        status=batch.status,
        entry_count=len(batch.lines),
        total_cents=total_cents(batch.lines),
        checksum_sha256=batch.checksum_sha256,
        exported_at=header.exported_at,
    )


def _file(body: bytes, media_type: str, batch: payroll.Batch, suffix: str) -> Response:
    return Response(
        content=body,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{batch.header.batch_id}.{suffix}"',
            "X-Checksum-SHA256": sha256_hex(body),
            "X-Idempotency-Key": batch.header.idempotency_key,
            "X-Total-Cents": str(total_cents(batch.lines)),
            "X-Entry-Count": str(len(batch.lines)),
        },
    )


def build_payroll_router(clock: Callable[[], datetime] = utc_now) -> APIRouter:
    router = APIRouter(tags=["payroll"])

    async def _batch_for(uow: Uow, principal: Principal, batch_id: str) -> payroll.Batch:
        async with refusals(), uow:
            batch = await payroll.load_batch(uow.session, batch_id)
        own_district(principal, batch.header.district_id)
        return batch

    @router.post("/districts/{district_id}/payroll-batches", response_model=BatchOut)
    async def compose(
        district_id: str, body: BatchIn, principal: Payroll, uow: Uow, response: Response
    ) -> BatchOut:
        """The batch of a pay period (composed once; asking again returns the same batch)."""
        own_district(principal, district_id)
        if body.pay_period_start > body.pay_period_end:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "period ends before start")
        async with refusals(), uow:
            if await district_state(uow.session, district_id) is None:
                raise HTTPException(status.HTTP_404_NOT_FOUND, "district is not registered")
            batch, created = await payroll.create_batch(
                uow.session,
                district_id,
                body.pay_period_id,
                body.pay_period_start,
                body.pay_period_end,
                clock,
            )
            await uow.commit()
        response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return _out(batch)

    @router.get("/payroll-batches/{batch_id}", response_model=BatchOut)
    async def batch(batch_id: str, principal: Payroll, uow: Uow) -> BatchOut:
        return _out(await _batch_for(uow, principal, batch_id))

    @router.get("/payroll-batches/{batch_id}/export.csv", response_class=Response)
    async def export_csv(batch_id: str, principal: Payroll, uow: Uow) -> Response:
        """The batch as CSV; its SHA-256 is the batch checksum."""
        found = await _batch_for(uow, principal, batch_id)
        return _file(render_csv(found.lines), "text/csv; charset=utf-8", found, "csv")

    @router.get("/payroll-batches/{batch_id}/export.json", response_class=Response)
    async def export_json(batch_id: str, principal: Payroll, uow: Uow) -> Response:
        """The batch as one JSON document (header, totals, the CSV checksum, lines)."""
        found = await _batch_for(uow, principal, batch_id)
        return _file(render_json(found.header, found.lines), "application/json", found, "json")

    @router.post("/payroll-batches/{batch_id}/acknowledgement", response_model=BatchOut)
    async def acknowledge(
        batch_id: str, body: AcknowledgementIn, principal: PayrollSystem, uow: Uow
    ) -> BatchOut:
        """Import the payroll system's answer: accepted entries are paid, rejected ones go
        into the next batch."""
        await _batch_for(uow, principal, batch_id)
        try:
            async with refusals(), uow:
                settled = await payroll.acknowledge(
                    uow.session,
                    batch_id,
                    idempotency_key=body.idempotency_key,
                    status=body.status,
                    rejected_entry_ids=body.rejected_entry_ids,
                    payroll_reference=body.payroll_reference,
                    message=body.message,
                    clock=clock,
                )
                await uow.commit()
        except InvalidAcknowledgement as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
        return _out(settled)

    @router.get("/districts/{district_id}/reports/{fiscal_year}", response_model=DistrictReport)
    async def report(
        district_id: str, fiscal_year: int, principal: ReportReader, uow: Uow
    ) -> DistrictReport:
        """Spend, budget, pending, deferred and held payments per funding source for a fiscal
        year (held entries are pending too: not paid, and kept out of batches while their
        credential is suspended)."""
        own_district(principal, district_id)
        async with uow:
            spend = {
                r.funding_source: r
                for r in await reports.spend_by_source(uow.session, district_id, fiscal_year)
            }
            budgets = {
                r.funding_source: r
                for r in await reports.budgets_of(uow.session, district_id, fiscal_year)
            }
            deferred = {
                r.funding_source: r
                for r in await reports.deferred_by_source(uow.session, district_id, fiscal_year)
            }
            held: dict[str, list[int]] = {}
            for r in await lanes_repo.held_entries(
                uow.session, district_id=district_id, fiscal_year=fiscal_year
            ):
                held.setdefault(r.funding_source, []).append(int(r.amount_cents))
        sources = []
        for source in sorted(set(spend) | set(budgets) | set(deferred)):
            s, b, d = spend.get(source), budgets.get(source), deferred.get(source)
            approved = int(s.approved_cents) if s else 0
            reversed_ = int(s.reversed_cents) if s else 0
            sources.append(
                FundingSourceReport(
                    funding_source=source,
                    allocated_cents=b.allocated_cents if b else 0,
                    committed_cents=b.committed_cents if b else 0,
                    remaining_cents=(b.allocated_cents - b.committed_cents) if b else 0,
                    approved_cents=approved,
                    reversed_cents=reversed_,
                    net_cents=approved + reversed_,
                    paid_cents=int(s.paid_cents) if s else 0,
                    pending_cents=int(s.pending_cents) if s else 0,
                    pending_count=int(s.pending_count) if s else 0,
                    deferred_cents=int(d.deferred_cents) if d else 0,
                    deferred_count=int(d.deferred_count) if d else 0,
                    held_cents=sum(held.get(source, [])),
                    held_count=len(held.get(source, [])),
                )
            )
        return DistrictReport(
            district_id=district_id,
            fiscal_year=fiscal_year,
            funding_sources=sources,
            net_cents=sum(s.net_cents for s in sources),
            pending_cents=sum(s.pending_cents for s in sources),
            deferred_cents=sum(s.deferred_cents for s in sources),
            held_cents=sum(s.held_cents for s in sources),
        )

    @router.get("/districts/{district_id}/payments/{fiscal_year}", response_model=list[PaymentOut])
    async def payments(
        district_id: str,
        fiscal_year: int,
        principal: ReportReader,
        uow: Uow,
        status_: Annotated[PaymentStatus, Query(alias="status")] = PaymentStatus.PENDING,
        page: Annotated[int, Query(ge=1, le=10_000)] = 1,
        page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 20,
    ) -> list[PaymentOut]:
        """Ledger entries not yet paid (pending), stipends waiting for budget (deferred), or
        entries held from payroll because their credential is suspended (held). Paged
        (``page`` from 1, ``page_size`` up to 100) in the order they were recorded."""
        own_district(principal, district_id)
        offset = (page - 1) * page_size
        async with uow:
            if status_ is PaymentStatus.HELD:
                held = await lanes_repo.held_entries(
                    uow.session,
                    district_id=district_id,
                    fiscal_year=fiscal_year,
                    limit=page_size,
                    offset=offset,
                )
                return [
                    PaymentOut(
                        id=r.entry_id,
                        status="held",
                        kind=r.kind,
                        credential_id=r.credential_id,
                        stack_completion_id=r.stack_completion_id,
                        **_common(r),
                    )
                    for r in held
                ]
            if status_ is PaymentStatus.PENDING:
                entries = await reports.pending_entries(
                    uow.session, district_id, fiscal_year, limit=page_size, offset=offset
                )
                return [
                    PaymentOut(
                        id=r.entry_id,
                        status="pending",
                        kind=r.kind,
                        credential_id=r.credential_id,
                        stack_completion_id=r.stack_completion_id,
                        **_common(r),
                    )
                    for r in entries
                ]
            waiting = await reports.deferred_stipends(
                uow.session, district_id, fiscal_year, limit=page_size, offset=offset
            )
        return [
            PaymentOut(
                id=r.deferral_id,
                status="deferred",
                kind="deferral",
                credential_id=r.source_id if r.basis == "credential" else None,
                stack_completion_id=None if r.basis == "credential" else r.source_id,
                **_common(r),
            )
            for r in waiting
        ]

    return router


def _common(row: Any) -> dict[str, Any]:
    return {
        "educator_id": row.educator_id,
        "amount_cents": row.amount_cents,
        "funding_source": row.funding_source,
        "rule_id": row.rule_id,
        "rule_version": row.rule_version,
        "fiscal_year": row.fiscal_year,
        "fiscal_period": row.fiscal_period,
    }
