"""The registry's business gauges come from its database: after credentials and renewal-credit
postings are written (through the repositories) and one refresh runs, /metrics shows the
credentials issued and by status and the renewal credits posted and reversed; a status no
credential has reads 0."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from mc_devstack.testing import running_service, unique_name
from mc_events.contracts.common import Credits, CreditUnit, CriterionResult, Purpose
from registry.adapters.awards_repository import AwardsRepository
from registry.adapters.licensure_repository import LicensureRepository
from registry.bootstrap import build
from registry.config import Settings
from registry.domain.awards import Award, CredentialStatus
from registry.domain.licensure import Cycle, LedgerEntry
from registry.domain.status_list import StatusPurpose
from registry.entrypoints import business_metrics

AT = datetime(2026, 3, 1, 12, tzinfo=UTC)
GAUGES = {"registry_credentials_issued", "registry_credentials", "registry_renewal_credits"}


def award(status: CredentialStatus) -> Award:
    return Award(
        credential_id=unique_name("cred"),
        enrollment_id=unique_name("enr"),
        decision_id=unique_name("dec"),
        submission_id=unique_name("sub"),
        educator_id="TX-metrics",
        district_id="D-metrics",
        micro_credential_id="mc-wait",
        micro_credential_version=1,
        issuer_id="iss-1",
        achievement_name="Wait Time",
        purpose=Purpose.LICENSE_RENEWAL,
        credits=Credits(value=Decimal("15"), unit=CreditUnit.PD_HOURS),
        results=(CriterionResult(criterion_id="c1", achieved_level_id="l2", met=True),),
        awarded_at=AT,
        status=status,
    )


def posting(credential_id: str, renewal: str, reverses: str | None = None) -> LedgerEntry:
    return LedgerEntry(
        entry_id=unique_name("entry"),
        posting_key=unique_name("posting"),
        educator_id="TX-metrics",
        district_id="D-metrics",
        credential_id=credential_id,
        state="TX",
        credits=Decimal(renewal) * 10,
        unit=CreditUnit.PD_HOURS,
        renewal_credits=Decimal(renewal),
        cycle=Cycle(date(2025, 9, 1), date(2030, 8, 31)),
        reason="award" if reverses is None else "revocation",
        reverses_entry_id=reverses,
        posted_at=AT,
    )


async def registry_gauges(client: Any) -> dict[tuple[str, tuple[Any, ...]], float]:
    text = (await client.get("/metrics")).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name in GAUGES
    }


async def test_refresh_exports_credentials_by_status_and_renewal_credits(infra, tmp_path) -> None:
    async with running_service(build, Settings, infra, relay=False, consumers=False) as svc:
        statuses = [
            CredentialStatus.ACTIVE,
            CredentialStatus.ACTIVE,
            CredentialStatus.ACTIVE,
            CredentialStatus.REVOKED,
            CredentialStatus.SUSPENDED,
        ]
        awards = [award(status) for status in statuses]
        async with svc.runtime.sessions() as session, session.begin():
            awards_repo = AwardsRepository(session)
            for each in awards:
                entry = await awards_repo.allocate_status_index(StatusPurpose.REVOCATION, AT)
                assert await awards_repo.add_credential(each, entry, {}, AT)
            ledger = LicensureRepository(session)
            posted = [posting(each.credential_id, "1.5") for each in awards[:4]]
            for entry in posted:
                assert await ledger.add_entry(entry)
            # The revoked credential's credits are taken back.
            assert await ledger.add_entry(
                posting(awards[3].credential_id, "-1.5", reverses=posted[3].entry_id)
            )

        await business_metrics.refresh(svc.runtime)
        assert await registry_gauges(svc.client) == {
            ("registry_credentials_issued", ()): 5.0,
            ("registry_credentials", (("status", "active"),)): 3.0,
            ("registry_credentials", (("status", "revoked"),)): 1.0,
            ("registry_credentials", (("status", "suspended"),)): 1.0,
            ("registry_credentials", (("status", "superseded"),)): 0.0,
            ("registry_renewal_credits", (("kind", "posted"),)): 6.0,
            ("registry_renewal_credits", (("kind", "reversed"),)): 1.5,
        }
