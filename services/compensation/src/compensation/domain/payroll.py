"""Payroll batch files: what a district's payroll system imports, rendered byte for byte the same
every time (so a retried export carries the same checksum and the payroll system's
deduplication on idempotency keys holds).

Nothing here reads a clock or iterates an unordered collection: a batch is rendered only from
its stored header and its lines in ``line_no`` order. Amounts stay integer cents; the dollar
column is formatted from them with integer arithmetic.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from compensation.domain.ledger import LedgerEntry
from mc_events.contracts.compensation import (
    PayrollBatchAcknowledged,
    PayrollBatchExported,
    PayrollBatchStatus,
)
from mc_platform.refusals import Conflict, Invalid

EXPORTED = "exported"
"""A batch's status until it is acknowledged (then the acknowledgement's status)."""


class AckStatus(StrEnum):
    ACCEPTED = "accepted"
    PARTIALLY_ACCEPTED = "partially_accepted"
    REJECTED = "rejected"


class InvalidAcknowledgement(Invalid, ValueError):
    """An acknowledgement that does not fit its batch."""


def format_cents(cents: int) -> str:
    """``123456`` -> ``"1234.56"``, ``-15000`` -> ``"-150.00"`` (no binary floating point)."""
    sign = "-" if cents < 0 else ""
    dollars, rest = divmod(abs(cents), 100)
    return f"{sign}{dollars}.{rest:02d}"


@dataclass(frozen=True)
class PayrollLine:
    line_no: int
    entry_id: str
    """Also the line's idempotency key: a ledger entry is paid at most once."""
    kind: str
    educator_id: str
    amount_cents: int
    funding_source: str
    rule_id: str
    rule_version: int
    fiscal_year: int
    fiscal_period: int
    credential_id: str | None
    stack_completion_id: str | None
    reverses_entry_id: str | None

    @classmethod
    def of(cls, line_no: int, entry: LedgerEntry) -> PayrollLine:
        """Line ``line_no`` of a batch, paying ``entry``."""
        return cls(
            line_no=line_no,
            entry_id=entry.entry_id,
            reverses_entry_id=entry.reverses_entry_id,
            **entry.payment_fields(),
        )


@dataclass(frozen=True)
class BatchHeader:
    batch_id: str
    district_id: str
    pay_period_id: str
    pay_period_start: date
    pay_period_end: date
    idempotency_key: str
    exported_at: datetime


def total_cents(lines: list[PayrollLine]) -> int:
    return sum(line.amount_cents for line in lines)


@dataclass(frozen=True)
class Acknowledgement:
    """A payroll system's answer to a batch: all paid, some rejected, or all rejected."""

    idempotency_key: str
    status: AckStatus
    rejected_entry_ids: list[str]
    payroll_reference: str | None
    message: str

    def as_stored(self) -> dict[str, Any]:
        """What the batch keeps of it (JSON): a repeated acknowledgement compares equal."""
        return {
            "status": self.status.value,
            "rejected_entry_ids": sorted(self.rejected_entry_ids),
            "payroll_reference": self.payroll_reference,
            "message": self.message,
        }


@dataclass(frozen=True)
class BatchRecord:
    """A stored batch without its lines: its header, status and checksum, and the
    acknowledgement it was settled by (None while exported)."""

    header: BatchHeader
    status: str
    checksum_sha256: str
    acknowledgement: dict[str, Any] | None

    def settles(self, ack: Acknowledgement) -> bool:
        """Whether ``ack`` settles the batch now. False: it repeats the acknowledgement the
        batch was settled by (nothing to do). Another key, or another answer for a settled
        batch, is refused."""
        if ack.idempotency_key != self.header.idempotency_key:
            raise Conflict("idempotency_key does not match the batch")
        if self.status == EXPORTED:
            return True
        if self.acknowledgement != ack.as_stored():
            raise Conflict(
                f"batch {self.header.batch_id} was already acknowledged as {self.status}"
            )
        return False


@dataclass(frozen=True)
class Batch:
    """A batch as the payroll system imports it: its header and its lines in order."""

    header: BatchHeader
    lines: list[PayrollLine]
    status: str
    checksum_sha256: str

    @classmethod
    def compose(cls, header: BatchHeader, entries: list[LedgerEntry]) -> Batch:
        """A new batch paying ``entries`` in their order; its checksum is the CSV's."""
        lines = [PayrollLine.of(n, entry) for n, entry in enumerate(entries, start=1)]
        return cls(header, lines, EXPORTED, sha256_hex(render_csv(lines)))

    @property
    def total_cents(self) -> int:
        return total_cents(self.lines)

    def exported(self) -> PayrollBatchExported:
        """``PayrollBatchExported`` for this (new) batch."""
        header = self.header
        return PayrollBatchExported(
            batch_id=header.batch_id,
            district_id=header.district_id,
            pay_period_id=header.pay_period_id,
            pay_period_start=header.pay_period_start,
            pay_period_end=header.pay_period_end,
            entry_count=len(self.lines),
            total_cents=self.total_cents,
            checksum_sha256=self.checksum_sha256,
            idempotency_key=header.idempotency_key,
            exported_at=header.exported_at,
        )

    def settle(self, ack: Acknowledgement) -> tuple[list[str], list[str]]:
        """The entries ``ack`` pays and those it sends back to the next batch."""
        return settle(ack.status, [line.entry_id for line in self.lines], ack.rejected_entry_ids)

    def acknowledged(
        self, ack: Acknowledgement, paid: list[str], rejected: list[str], now: datetime
    ) -> PayrollBatchAcknowledged:
        """``PayrollBatchAcknowledged`` for ``ack`` settling this batch ``now``."""
        return PayrollBatchAcknowledged(
            batch_id=self.header.batch_id,
            district_id=self.header.district_id,
            idempotency_key=self.header.idempotency_key,
            status=PayrollBatchStatus(ack.status.value),
            accepted_entry_count=len(paid),
            rejected_entry_ids=tuple(rejected),
            payroll_reference=ack.payroll_reference,
            message=ack.message,
            acknowledged_at=now,
        )


CSV_COLUMNS = (
    "idempotency_key",
    "line_no",
    "educator_id",
    "kind",
    "amount_cents",
    "amount_usd",
    "funding_source",
    "rule_id",
    "rule_version",
    "fiscal_year",
    "fiscal_period",
    "credential_id",
    "stack_completion_id",
    "reverses_entry_id",
)


def _line_values(line: PayrollLine) -> list[str]:
    return [
        line.entry_id,
        str(line.line_no),
        line.educator_id,
        line.kind,
        str(line.amount_cents),
        format_cents(line.amount_cents),
        line.funding_source,
        line.rule_id,
        str(line.rule_version),
        str(line.fiscal_year),
        str(line.fiscal_period),
        line.credential_id or "",
        line.stack_completion_id or "",
        line.reverses_entry_id or "",
    ]


def render_csv(lines: list[PayrollLine]) -> bytes:
    """RFC 4180 CSV (CRLF line ends), a header row, one row per ledger entry."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(CSV_COLUMNS)
    for line in sorted(lines, key=lambda item: item.line_no):
        writer.writerow(_line_values(line))
    return buffer.getvalue().encode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def render_json(header: BatchHeader, lines: list[PayrollLine]) -> bytes:
    """The batch as one JSON document: header, totals, the CSV's checksum, and the lines.
    Keys sorted, no insignificant whitespace, UTF-8, a final newline."""
    ordered = sorted(lines, key=lambda item: item.line_no)
    document = {
        "batch_id": header.batch_id,
        "district_id": header.district_id,
        "pay_period_id": header.pay_period_id,
        "pay_period_start": header.pay_period_start.isoformat(),
        "pay_period_end": header.pay_period_end.isoformat(),
        "idempotency_key": header.idempotency_key,
        "exported_at": header.exported_at.isoformat(),
        "currency": "USD",
        "entry_count": len(ordered),
        "total_cents": total_cents(ordered),
        "total_usd": format_cents(total_cents(ordered)),
        "csv_sha256": sha256_hex(render_csv(ordered)),
        "entries": [_json_line(line) for line in ordered],
    }
    return (json.dumps(document, sort_keys=True, separators=(",", ":")) + "\n").encode("utf-8")


def _json_line(line: PayrollLine) -> dict[str, object]:
    return {
        "idempotency_key": line.entry_id,
        "line_no": line.line_no,
        "educator_id": line.educator_id,
        "kind": line.kind,
        "amount_cents": line.amount_cents,
        "amount_usd": format_cents(line.amount_cents),
        "funding_source": line.funding_source,
        "rule_id": line.rule_id,
        "rule_version": line.rule_version,
        "fiscal_year": line.fiscal_year,
        "fiscal_period": line.fiscal_period,
        "credential_id": line.credential_id,
        "stack_completion_id": line.stack_completion_id,
        "reverses_entry_id": line.reverses_entry_id,
    }


def settle(
    status: AckStatus, entry_ids: list[str], rejected: list[str]
) -> tuple[list[str], list[str]]:
    """Which entries of a batch an acknowledgement pays and which it sends back."""
    unknown = sorted(set(rejected) - set(entry_ids))
    if unknown:
        raise InvalidAcknowledgement(f"entries not in this batch: {', '.join(unknown)}")
    if status is AckStatus.ACCEPTED:
        if rejected:
            raise InvalidAcknowledgement("an accepted batch rejects no entries")
        return list(entry_ids), []
    if status is AckStatus.REJECTED:
        return [], list(entry_ids)
    if not rejected or set(rejected) == set(entry_ids):
        raise InvalidAcknowledgement("a partial acceptance rejects some, not all, entries")
    refused = set(rejected)
    return [e for e in entry_ids if e not in refused], [e for e in entry_ids if e in refused]
