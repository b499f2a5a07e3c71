"""Payroll batches: compose one per district and pay period, render it, settle it on the payroll
system's acknowledgement. The ledger is never touched: payment status lives on the batch items.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from compensation.adapters import payroll_repository as repo
from compensation.domain import ids
from compensation.domain.payroll import (
    AckStatus,
    BatchHeader,
    PayrollLine,
    render_csv,
    settle,
    sha256_hex,
    total_cents,
)
from compensation.service_layer.errors import Conflict, NotFound
from mc_events import audit
from mc_events.contracts.compensation import (
    PayrollBatchAcknowledged,
    PayrollBatchExported,
    PayrollBatchStatus,
)
from mc_events.outbox import add_event

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Batch:
    header: BatchHeader
    lines: list[PayrollLine]
    status: str
    checksum_sha256: str


async def create_batch(
    session: AsyncSession,
    district_id: str,
    pay_period_id: str,
    start: date,
    end: date,
    clock: Clock,
) -> tuple[Batch, bool]:
    """The district's batch for the pay period: the existing one if it was composed already
    (returns ``created=False``), else a new one of every ledger entry recorded up to the end of
    the period that no live batch carries (entries rejected by payroll come back here)."""
    await repo.lock_district_payroll(session, district_id)
    batch_id = ids.payroll_batch_id(district_id, pay_period_id)
    existing = await repo.get_batch(session, batch_id)
    if existing is not None:
        if (existing.pay_period_start, existing.pay_period_end) != (start, end):
            raise Conflict(f"pay period {pay_period_id} was exported with other dates")
        return await load_batch(session, batch_id), False
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
    entries = await repo.unbatched_entries(session, district_id, cutoff)
    lines = [
        PayrollLine(
            line_no=n,
            entry_id=row.entry_id,
            kind=row.kind,
            educator_id=row.educator_id,
            amount_cents=row.amount_cents,
            funding_source=row.funding_source,
            rule_id=row.rule_id,
            rule_version=row.rule_version,
            fiscal_year=row.fiscal_year,
            fiscal_period=row.fiscal_period,
            credential_id=row.credential_id,
            stack_completion_id=row.stack_completion_id,
            reverses_entry_id=row.reverses_entry_id,
        )
        for n, row in enumerate(entries, start=1)
    ]
    checksum = sha256_hex(render_csv(lines))
    total = total_cents(lines)
    await repo.insert_batch(
        session, header, [line.entry_id for line in lines], total_cents=total, checksum=checksum
    )
    event = PayrollBatchExported(
        batch_id=batch_id,
        district_id=district_id,
        pay_period_id=pay_period_id,
        pay_period_start=start,
        pay_period_end=end,
        entry_count=len(lines),
        total_cents=total,
        checksum_sha256=checksum,
        idempotency_key=header.idempotency_key,
        exported_at=header.exported_at,
    )
    await add_event(session, event, event_id=ids.event_id(event.event_type, batch_id))
    await audit.append(
        session,
        actor="payroll-export",
        action="payroll.exported",
        object_type="payroll_batch",
        object_id=batch_id,
        details={
            "entries": len(lines),
            "total_cents": total,
            "checksum_sha256": checksum,
            "pay_period_id": pay_period_id,
        },
        chain=f"district:{district_id}",
        at=header.exported_at,
    )
    return Batch(header, lines, "exported", checksum), True


async def load_batch(session: AsyncSession, batch_id: str) -> Batch:
    row = await repo.get_batch(session, batch_id)
    if row is None:
        raise NotFound(f"no payroll batch {batch_id}")
    return Batch(
        repo.header_of(row),
        await repo.batch_lines(session, batch_id),
        row.status,
        row.checksum_sha256,
    )


async def acknowledge(
    session: AsyncSession,
    batch_id: str,
    *,
    idempotency_key: str,
    status: AckStatus,
    rejected_entry_ids: list[str],
    payroll_reference: str | None,
    message: str,
    clock: Clock,
) -> Batch:
    """Mark the batch's entries paid (or rejected: they go into the next batch). Repeating the
    same acknowledgement is a no-op; a different one for a settled batch is a conflict."""
    row = await repo.get_batch(session, batch_id, lock=True)
    if row is None:
        raise NotFound(f"no payroll batch {batch_id}")
    if idempotency_key != row.idempotency_key:
        raise Conflict("idempotency_key does not match the batch")
    ack: dict[str, Any] = {
        "status": status.value,
        "rejected_entry_ids": sorted(rejected_entry_ids),
        "payroll_reference": payroll_reference,
        "message": message,
    }
    if row.status != "exported":
        if row.acknowledgement != ack:
            raise Conflict(f"batch {batch_id} was already acknowledged as {row.status}")
        return await load_batch(session, batch_id)
    lines = await repo.batch_lines(session, batch_id)
    paid, rejected = settle(status, [line.entry_id for line in lines], rejected_entry_ids)
    now = clock()
    await repo.settle_items(session, batch_id, paid, "paid", now)
    await repo.settle_items(session, batch_id, rejected, "rejected", now)
    await repo.record_acknowledgement(session, batch_id, status.value, ack, now)
    event = PayrollBatchAcknowledged(
        batch_id=batch_id,
        district_id=row.district_id,
        idempotency_key=row.idempotency_key,
        status=PayrollBatchStatus(status.value),
        accepted_entry_count=len(paid),
        rejected_entry_ids=tuple(rejected),
        payroll_reference=payroll_reference,
        message=message,
        acknowledged_at=now,
    )
    await add_event(session, event, event_id=ids.event_id(event.event_type, batch_id))
    return await load_batch(session, batch_id)
