"""Payroll files: integer-cent formatting, byte-identical rendering, checksums, settlement."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime

import pytest

from compensation.domain.payroll import (
    AckStatus,
    BatchHeader,
    InvalidAcknowledgement,
    PayrollLine,
    format_cents,
    render_csv,
    render_json,
    settle,
)

HEADER = BatchHeader(
    batch_id="b-1",
    district_id="leon",
    pay_period_id="2026-PP07",
    pay_period_start=date(2025, 10, 1),
    pay_period_end=date(2025, 10, 15),
    idempotency_key="mc-payroll:leon:2026-PP07",
    exported_at=datetime(2025, 10, 16, 9, tzinfo=UTC),
)


def line(n: int, cents: int, kind: str = "approval", reverses: str | None = None) -> PayrollLine:
    return PayrollLine(
        n, f"e-{n}", kind, f"edu-{n}", cents, "fund", "fl", 1, 2026, 4, f"c-{n}", None, reverses
    )


LINES = [line(1, 100_000), line(2, 15_000), line(3, -100_000, "reversal", "e-1")]


@pytest.mark.parametrize(
    ("cents", "text"),
    [
        (0, "0.00"),
        (5, "0.05"),
        (100_000, "1000.00"),
        (-15_050, "-150.50"),
        (10**15 + 1, "10000000000000.01"),
    ],
)
def test_cents_format_as_dollars_exactly(cents, text):
    assert format_cents(cents) == text


def test_rendering_is_byte_identical_whatever_order_lines_come_in():
    first = render_csv(LINES)
    assert render_csv(list(reversed(LINES))) == first
    assert render_json(HEADER, LINES) == render_json(HEADER, list(reversed(LINES)))
    assert first.startswith(b"idempotency_key,line_no,")
    assert b"e-3,3,edu-3,reversal,-100000,-1000.00" in first


def test_json_carries_totals_keys_and_the_csv_checksum():
    document = json.loads(render_json(HEADER, LINES))
    assert document["total_cents"] == 15_000
    assert document["total_usd"] == "150.00"
    assert document["entry_count"] == 3
    assert document["idempotency_key"] == HEADER.idempotency_key
    assert document["csv_sha256"] == hashlib.sha256(render_csv(LINES)).hexdigest()
    assert [e["idempotency_key"] for e in document["entries"]] == ["e-1", "e-2", "e-3"]


def test_settlement_pays_accepted_entries_and_returns_rejected_ones():
    ids = ["e-1", "e-2", "e-3"]
    assert settle(AckStatus.ACCEPTED, ids, []) == (ids, [])
    assert settle(AckStatus.REJECTED, ids, []) == ([], ids)
    assert settle(AckStatus.PARTIALLY_ACCEPTED, ids, ["e-2"]) == (["e-1", "e-3"], ["e-2"])
    with pytest.raises(InvalidAcknowledgement):
        settle(AckStatus.PARTIALLY_ACCEPTED, ids, ["e-9"])
    with pytest.raises(InvalidAcknowledgement):
        settle(AckStatus.ACCEPTED, ids, ["e-1"])
    with pytest.raises(InvalidAcknowledgement):
        settle(AckStatus.PARTIALLY_ACCEPTED, ids, [])
