"""Compensation's business gauges come from the ledger, not from what one process counted: after
entries are written and one refresh runs, /metrics shows the stipend dollars approved, clawed
back, paid and held and the held payments; a restarted process shows the same figures at once,
without handling a single event."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from compensation.bootstrap import build
from compensation.config import Settings
from compensation.domain.credentials import SUSPENDED, CredentialRef
from compensation.domain.ledger import APPROVAL, REVERSAL, LedgerEntry
from compensation.domain.payroll import Batch, BatchHeader, PayrollLine
from compensation.domain.rules import Basis
from compensation.entrypoints import business_metrics
from compensation.service_layer.unit_of_work import UnitOfWork
from mc_devstack.testing import running_service, unique_name
from mc_events.consumer import wait_until
from mc_platform.service import create_app

AT = datetime(2026, 9, 15, 12, tzinfo=UTC)


def approval(credential_id: str, cents: int) -> LedgerEntry:
    return LedgerEntry(
        entry_id=unique_name("entry"),
        kind=APPROVAL,
        educator_id=f"TX-{credential_id}",
        district_id="D-metrics",
        basis=Basis.CREDENTIAL.value,
        award_key=f"credential:{credential_id}",
        credential_id=credential_id,
        stack_completion_id=None,
        rule_id="stipend-1",
        rule_version=1,
        fiscal_year=2027,
        fiscal_period=3,
        cap_period=2027,
        amount_cents=cents,
        funding_source="title-ii",
        awarded_at=AT,
        recorded_at=AT,
    )


def reversal(original: LedgerEntry) -> LedgerEntry:
    return replace(
        original,
        entry_id=unique_name("entry"),
        kind=REVERSAL,
        amount_cents=-original.amount_cents,
        reverses_entry_id=original.entry_id,
        reason="credential revoked",
    )


async def gauges(client: httpx.AsyncClient) -> dict[tuple[str, tuple[Any, ...]], float]:
    text = (await client.get("/metrics")).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name in {"compensation_stipends_dollars", "compensation_payments_held"}
    }


def expected(approved: float, clawed_back: float, paid: float, held: float, held_count: int):
    return {
        ("compensation_stipends_dollars", (("state", "approved"),)): approved,
        ("compensation_stipends_dollars", (("state", "clawed_back"),)): clawed_back,
        ("compensation_stipends_dollars", (("state", "paid"),)): paid,
        ("compensation_stipends_dollars", (("state", "held"),)): held,
        ("compensation_payments_held", ()): float(held_count),
    }


async def test_refresh_exports_the_ledger_sums_and_a_restart_exports_them_again(infra) -> None:
    async with running_service(build, Settings, infra, relay=False, consumers=False) as svc:
        # The worker's first refresh, at start-up, read an empty ledger.
        assert await wait_until(lambda: _has_gauges(svc.client), 20)
        assert await gauges(svc.client) == expected(0, 0, 0, 0, 0)

        paid = approval("cred-paid", 15_000)
        clawed = approval("cred-clawed", 20_000)
        held = approval("cred-held", 7_525)
        exported = approval("cred-exported", 1_000)
        async with UnitOfWork(svc.runtime.sessions) as uow:
            for entry in (paid, clawed, held, exported):
                await uow.ledger.insert_entry(entry)
            await uow.ledger.insert_entry(reversal(clawed))
            header = BatchHeader(
                batch_id=unique_name("batch"),
                district_id="D-metrics",
                pay_period_id="2026-09",
                pay_period_start=date(2026, 9, 1),
                pay_period_end=date(2026, 9, 30),
                idempotency_key=unique_name("idem"),
                exported_at=AT,
            )
            lines = [PayrollLine.of(n, entry) for n, entry in enumerate((paid, exported), 1)]
            await uow.payroll.insert_batch(Batch(header, lines, "exported", "0" * 64))
            await uow.payroll.settle_items(header.batch_id, [paid.entry_id], "paid", AT)
            for credential_id in ("cred-held", "cred-exported"):  # exported: stays in its batch
                await uow.holds.set_status(
                    CredentialRef(credential_id, f"TX-{credential_id}", "D-metrics"),
                    SUSPENDED,
                    changed_at=AT,
                    reason="under investigation",
                    at=AT,
                )
            await uow.commit()

        assert await gauges(svc.client) == expected(0, 0, 0, 0, 0)  # not refreshed yet
        await business_metrics.refresh(svc.runtime)
        want = expected(
            approved=150.00 + 200.00 + 75.25 + 10.00,
            clawed_back=200.00,
            paid=150.00,
            held=75.25,
            held_count=1,
        )
        assert await gauges(svc.client) == want
        refreshed = await _refreshed_at(svc.client)

        # A restarted process (a new registry, no event handled) exports the same at once.
        again = create_app(build(svc.definition.settings), relay=False, consumers=False)
        async with again.router.lifespan_context(again):
            transport = httpx.ASGITransport(app=again)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                assert await wait_until(lambda: _has_gauges(client), 20)
                assert await gauges(client) == want
                assert await _refreshed_at(client) >= refreshed


async def _has_gauges(client: httpx.AsyncClient) -> bool:
    """The worker's first refresh has finished."""
    return await _refreshed_at(client) > 0


async def _refreshed_at(client: httpx.AsyncClient) -> float:
    text = (await client.get("/metrics")).text
    values = [
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "compensation_business_metrics_refreshed_timestamp_seconds"
    ]
    return float(values[0]) if values else 0.0
