"""Payroll batches and district reports: compose one batch per district and pay period, read
it, settle it on the payroll system's acknowledgement; report a district's figures and its
unpaid items. The ledger is never touched: payment status lives on the batch items.

``district_scope`` is the district the caller acts for (None: a state admin, every district).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from compensation.domain import ids
from compensation.domain.payroll import Acknowledgement, Batch, BatchHeader, BatchRecord
from compensation.domain.reports import DistrictFigures, PaymentStatus, UnpaidItem, district_figures
from compensation.service_layer.unit_of_work import UnitOfWork
from mc_platform.clock import Clock
from mc_platform.refusals import Conflict, Forbidden, Invalid, NotFound


def _visible(batch: BatchRecord, district_scope: str | None) -> None:
    if district_scope is not None and district_scope != batch.header.district_id:
        raise Forbidden("another district's data")


async def _stored(
    uow: UnitOfWork, batch_id: str, district_scope: str | None, *, lock: bool = False
) -> BatchRecord:
    stored = await uow.payroll.batch(batch_id, lock=lock)
    if stored is None:
        raise NotFound(f"no payroll batch {batch_id}")
    _visible(stored, district_scope)
    return stored


async def _batch(uow: UnitOfWork, stored: BatchRecord) -> Batch:
    lines = await uow.payroll.lines(stored.header.batch_id)
    return Batch(stored.header, lines, stored.status, stored.checksum_sha256)


async def create_batch(
    uow: UnitOfWork,
    district_id: str,
    pay_period_id: str,
    start: date,
    end: date,
    clock: Clock,
) -> tuple[Batch, bool]:
    """The district's batch for the pay period: the existing one if it was composed already
    (returns ``created=False``), else a new one of every ledger entry recorded up to the end of
    the period that no live batch carries (entries rejected by payroll come back here)."""
    if start > end:
        raise Invalid("period ends before start")
    async with uow:
        if await uow.roster.district_state(district_id) is None:
            raise NotFound("district is not registered")
        await uow.payroll.lock_district(district_id)
        batch_id = ids.payroll_batch_id(district_id, pay_period_id)
        existing = await uow.payroll.batch(batch_id)
        if existing is not None:
            header = existing.header
            if (header.pay_period_start, header.pay_period_end) != (start, end):
                raise Conflict(f"pay period {pay_period_id} was exported with other dates")
            return await _batch(uow, existing), False
        header = BatchHeader(
            batch_id=batch_id,
            district_id=district_id,
            pay_period_id=pay_period_id,
            pay_period_start=start,
            pay_period_end=end,
            idempotency_key=f"mc-payroll:{district_id}:{pay_period_id}",
            exported_at=clock(),
        )
        cutoff = datetime.combine(end + timedelta(days=1), time(0), tzinfo=UTC)
        batch = Batch.compose(header, await uow.payroll.unbatched_entries(district_id, cutoff))
        await uow.payroll.insert_batch(batch)
        uow.announce(
            batch.exported(),
            about=batch_id,
            object_type="payroll_batch",
            actor="payroll-export",
            action="payroll.exported",
            details={
                "entries": len(batch.lines),
                "total_cents": batch.total_cents,
                "checksum_sha256": batch.checksum_sha256,
                "pay_period_id": pay_period_id,
            },
            chain=f"district:{district_id}",
            at=header.exported_at,
        )
        await uow.commit()
    return batch, True


async def load_batch(uow: UnitOfWork, batch_id: str, *, district_scope: str | None) -> Batch:
    async with uow:
        return await _batch(uow, await _stored(uow, batch_id, district_scope))


async def acknowledge(
    uow: UnitOfWork,
    batch_id: str,
    ack: Acknowledgement,
    *,
    district_scope: str | None,
    clock: Clock,
) -> Batch:
    """Mark the batch's entries paid (or rejected: they go into the next batch). Repeating the
    same acknowledgement is a no-op; a different one for a settled batch is a conflict."""
    async with uow:
        stored = await _stored(uow, batch_id, district_scope, lock=True)
        if not stored.settles(ack):
            return await _batch(uow, stored)
        batch = await _batch(uow, stored)
        paid, rejected = batch.settle(ack)
        now = clock()
        await uow.payroll.settle(batch_id, ack, paid=paid, rejected=rejected, at=now)
        uow.publish(batch.acknowledged(ack, paid, rejected, now), about=batch_id)
        settled = await _batch(uow, await _stored(uow, batch_id, district_scope))
        await uow.commit()
    return settled


# -- reports --------------------------------------------------------------------------------


async def district_report(uow: UnitOfWork, district_id: str, fiscal_year: int) -> DistrictFigures:
    """Spend, budget, pending, deferred and held payments per funding source for a fiscal year
    (held entries are pending too: not paid, and kept out of batches while their credential is
    suspended)."""
    async with uow:
        return district_figures(
            district_id,
            fiscal_year,
            spend=await uow.payroll.spend_by_source(district_id, fiscal_year),
            budgets=await uow.payroll.budgets_of(district_id, fiscal_year),
            deferred=await uow.payroll.deferred_by_source(district_id, fiscal_year),
            held=await uow.holds.held_entries(district_id=district_id, fiscal_year=fiscal_year),
        )


async def unpaid(
    uow: UnitOfWork,
    district_id: str,
    fiscal_year: int,
    status: PaymentStatus,
    *,
    limit: int,
    offset: int,
) -> list[UnpaidItem]:
    """Ledger entries not yet paid (pending), stipends waiting for budget (deferred), or
    entries held from payroll because their credential is suspended (held), a page of them in
    the order they were recorded."""
    async with uow:
        if status is PaymentStatus.HELD:
            held = await uow.holds.held_entries(
                district_id=district_id, fiscal_year=fiscal_year, limit=limit, offset=offset
            )
            return [UnpaidItem.of_entry(entry, status) for entry in held]
        if status is PaymentStatus.PENDING:
            pending = await uow.payroll.pending_entries(
                district_id, fiscal_year, limit=limit, offset=offset
            )
            return [UnpaidItem.of_entry(entry, status) for entry in pending]
        waiting = await uow.payroll.deferred_stipends(
            district_id, fiscal_year, limit=limit, offset=offset
        )
        return [UnpaidItem.of_deferral(deferral) for deferral in waiting]
