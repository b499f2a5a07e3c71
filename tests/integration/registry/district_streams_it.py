"""Helpers of the district stream tests (fan-out and republish): award events of a district's
educators, Kafka settings for the session's broker, and record headers."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from mc_events import kafka
from mc_events.contracts.common import Credits, CreditUnit, CriterionResult, Purpose
from mc_events.contracts.registry import CredentialAwarded, CredentialRevoked, RevocationReason

AT = datetime(2026, 3, 1, 12, tzinfo=UTC)


def awarded(educator_id: str, district_id: str, n: int) -> CredentialAwarded:
    return CredentialAwarded(
        credential_id=f"{educator_id}-cred-{n}",
        educator_id=educator_id,
        district_id=district_id,
        micro_credential_id="mc-wait",
        micro_credential_version=1,
        enrollment_id=f"{educator_id}-enr-{n}",
        decision_id=f"{educator_id}-dec-{n}",
        issuer_id="iss-1",
        achievement_name=f"Wait Time {n}",
        purpose=Purpose.LICENSE_RENEWAL,
        credits=Credits(value=Decimal("15"), unit=CreditUnit.PD_HOURS),
        awarded_at=AT,
        credential_url="https://creds.example/credentials/x",
        results=(CriterionResult(criterion_id="c1", achieved_level_id="l2", met=True),),
    )


def revoked(award: CredentialAwarded) -> CredentialRevoked:
    return CredentialRevoked(
        credential_id=award.credential_id,
        educator_id=award.educator_id,
        district_id=award.district_id,
        micro_credential_id=award.micro_credential_id,
        micro_credential_version=1,
        enrollment_id=award.enrollment_id,
        reason=RevocationReason.PLAGIARISM,
        revoked_at=AT,
    )


def kafka_settings(infra: Any) -> kafka.KafkaSettings:
    return kafka.KafkaSettings(
        bootstrap_servers=infra.kafka_bootstrap,
        enable_idempotence=infra.kafka_idempotence,
        fetch_max_wait_ms=10,
        session_timeout_ms=6000,
        heartbeat_interval_ms=500,
        linger_ms=1,
    )


def header(record: Any, name: str) -> str:
    value: bytes = dict(record.headers)[name]
    return value.decode()
