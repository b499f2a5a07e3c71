"""Helpers for the compensation service's integration tests: a producer wrapper for the input
topics, builders for the events other services would send (unique ids per test: topics are
shared), set-up of a Florida district, and queries that wait for effects."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa

from compensation.domain.rules import Award, Basis, Educator
from compensation.service_layer.unit_of_work import UnitOfWork
from mc_devstack.testing import RunningService, unique_name
from mc_events.consumer import wait_until
from mc_events.contracts.base import Event
from mc_events.contracts.common import (
    Credits,
    CreditUnit,
    CriterionResult,
    Grant,
    GrantKind,
    Purpose,
)
from mc_events.contracts.registry import (
    CredentialAwarded,
    CredentialReinstated,
    CredentialReissued,
    CredentialRevoked,
    CredentialSuspended,
    RevocationReason,
    StackCompleted,
    StackCompletionReversed,
)
from mc_events.contracts.roster import EducatorRegistered, License, StaffRole
from mc_events.envelope import to_record
from mc_platform.auth import Role


@dataclass
class Producer:
    client: object

    async def send(self, event: Event, *, event_id: str | None = None) -> str:
        """Publish ``event`` as its emitting service would; returns the CloudEvents id."""
        source = f"/mc/{event.event_type.split('.', 1)[0]}"
        record = to_record(event, source=source, event_id=event_id)
        await self.client.send_and_wait(  # type: ignore[attr-defined]
            record.topic, record.value, key=record.key, headers=record.headers
        )
        return record.event_id


def teacher(educator_id: str, district_id: str, role: StaffRole = StaffRole.TEACHER):
    return EducatorRegistered(
        educator_id=educator_id,
        first_name="Ada",
        last_name="Teacher",
        email=f"{educator_id}@example.org",
        district_id=district_id,
        role=role,
        license=License(number="L-1", license_type="professional"),
        registered_at=datetime.now(UTC),
    )


def awarded(
    educator_id: str,
    district_id: str,
    *,
    credential_id: str | None = None,
    awarded_at: datetime | None = None,
    micro_credential_id: str = "mc-wait-time",
) -> CredentialAwarded:
    return CredentialAwarded(
        credential_id=credential_id or unique_name("cred"),
        educator_id=educator_id,
        district_id=district_id,
        micro_credential_id=micro_credential_id,
        micro_credential_version=1,
        enrollment_id=unique_name("enr"),
        decision_id=unique_name("dec"),
        issuer_id="issuer-1",
        achievement_name="Wait time after questioning",
        purpose=Purpose.LICENSE_RENEWAL,
        credits=Credits(value=Decimal("20"), unit=CreditUnit.RENEWAL_CREDITS),
        awarded_at=awarded_at or datetime(2025, 10, 1, 15, tzinfo=UTC),
        credential_url="https://creds.example/c/1",
        results=(CriterionResult(criterion_id="c1", achieved_level_id="l2", met=True),),
    )


def revoked(award: CredentialAwarded) -> CredentialRevoked:
    return CredentialRevoked(
        credential_id=award.credential_id,
        educator_id=award.educator_id,
        district_id=award.district_id,
        micro_credential_id=award.micro_credential_id,
        micro_credential_version=award.micro_credential_version,
        enrollment_id=award.enrollment_id,
        reason=RevocationReason.PLAGIARISM,
        revoked_at=datetime(2025, 11, 1, tzinfo=UTC),
    )


def florida_rule(rule_id: str, **changes) -> dict:
    body = {
        "rule_id": rule_id,
        "name": "Florida MC completion stipend",
        "state": "FL",
        "kind": "per_credential",
        "amount_cents": 100_000,
        "funding_source": "fl-state-mc-stipend-fund",
        "effective_from": "2020-01-01T00:00:00Z",
        "eligible_roles": ["teacher", "instructional_coach"],
        "calendar": {"start_month": 7, "start_day": 1, "timezone": "America/New_York"},
    }
    body.update(changes)
    return body


@dataclass
class Florida:
    """A registered Florida district with the $1,000 rule and a budget."""

    district_id: str
    rule_id: str
    funding_source: str = "fl-state-mc-stipend-fund"


async def setup_florida(svc: RunningService, *, budget_cents: int, fiscal_year: int = 2026):
    district_id = unique_name("leon")
    state = svc.auth("sea", Role.STATE_ADMIN)
    r = await svc.client.put(f"/districts/{district_id}", json={"state": "FL"}, headers=state)
    assert r.status_code == 200, r.text
    rule_id = unique_name("fl-mc")
    r = await svc.client.post("/stipend-rules", json=florida_rule(rule_id), headers=state)
    assert r.status_code == 201, r.text
    if budget_cents:
        r = await svc.client.post(
            f"/districts/{district_id}/budgets/{fiscal_year}/allocations",
            json={"funding_source": "fl-state-mc-stipend-fund", "amount_cents": budget_cents},
            headers=state,
        )
        assert r.status_code == 201, r.text
    return Florida(district_id, rule_id)


async def rows(svc: RunningService, sql: str, **params) -> list[sa.Row]:
    async with svc.runtime.engine.connect() as conn:
        return list(await conn.execute(sa.text(sql).bindparams(**params)))


async def scalar(svc: RunningService, sql: str, **params):
    async with svc.runtime.engine.connect() as conn:
        return (await conn.execute(sa.text(sql).bindparams(**params))).scalar()


async def ledger(svc: RunningService, educator_id: str) -> list[sa.Row]:
    return await rows(
        svc, "SELECT * FROM ledger_entries WHERE educator_id = :e ORDER BY seq", e=educator_id
    )


async def wait_for_entries(svc: RunningService, educator_id: str, count: int) -> list[sa.Row]:
    async def enough() -> bool:
        return len(await ledger(svc, educator_id)) >= count

    assert await wait_until(enough, 30), f"{educator_id}: fewer than {count} ledger entries"
    return await ledger(svc, educator_id)


async def wait_for_educator(svc: RunningService, educator_id: str) -> None:
    async def known() -> bool:
        return bool(
            await scalar(
                svc, "SELECT count(*) FROM educators WHERE educator_id = :e", e=educator_id
            )
        )

    assert await wait_until(known, 30), f"{educator_id} never reached the roster read model"


async def outbox_events(svc: RunningService, event_type: str, key: str) -> list[sa.Row]:
    return await rows(
        svc,
        "SELECT event_id, payload, published_at FROM event_outbox "
        "WHERE event_type = :t AND partition_key = :k ORDER BY id",
        t=event_type,
        k=key,
    )


AWARDED_AT = datetime(2025, 10, 1, 15, tzinfo=UTC)


def clock() -> datetime:
    return datetime(2025, 10, 2, tzinfo=UTC)


@asynccontextmanager
async def transaction(svc: RunningService) -> AsyncIterator[UnitOfWork]:
    """A unit of work on the service's database, committed at the end of the block, as the
    consumer runtime commits what its handlers did (rolled back if the block raises)."""
    async with UnitOfWork(svc.runtime.sessions) as uow:
        yield uow
        await uow.commit()


async def add_teachers(svc: RunningService, district_id: str, count: int) -> list[str]:
    educators = [unique_name("edu") for _ in range(count)]
    async with transaction(svc) as uow:
        for educator in educators:
            await uow.roster.upsert_educator(
                Educator(educator, district_id, "teacher", "professional"), clock()
            )
    return educators


def credential(educator: str, district: str) -> Award:
    return Award(Basis.CREDENTIAL, unique_name("cred"), "mc-1", educator, district, AWARDED_AT)


# -- stacks, suspensions, salary lanes ------------------------------------------------------


def completed(
    educator_id: str,
    district_id: str,
    *,
    stack_id: str = "stack-assessment",
    completion_id: str | None = None,
    lane: str | None = None,
    completed_at: datetime | None = None,
) -> StackCompleted:
    grants: tuple[Grant, ...] = (
        Grant(kind=GrantKind.DESIGNATION, code="lead-educator", name="Lead Educator"),
    )
    if lane is not None:
        grants += (
            Grant(kind=GrantKind.SALARY_LANE, code=lane, name=f"Lane {lane}", salary_lane=lane),
        )
    return StackCompleted(
        stack_completion_id=completion_id or unique_name("stc"),
        stack_id=stack_id,
        stack_version=1,
        stack_name="Assessment pathway",
        educator_id=educator_id,
        district_id=district_id,
        grants=grants,
        member_credential_ids=("cred-a", "cred-b"),
        completed_at=completed_at or AWARDED_AT,
    )


def completion_reversed(completion: StackCompleted) -> StackCompletionReversed:
    return StackCompletionReversed(
        stack_completion_id=completion.stack_completion_id,
        stack_id=completion.stack_id,
        stack_version=completion.stack_version,
        educator_id=completion.educator_id,
        district_id=completion.district_id,
        grants=completion.grants,
        revoked_credential_id=completion.member_credential_ids[0],
        reversed_at=datetime(2025, 11, 1, tzinfo=UTC),
    )


def suspended(award: CredentialAwarded, at: datetime) -> CredentialSuspended:
    return CredentialSuspended(
        credential_id=award.credential_id,
        educator_id=award.educator_id,
        district_id=award.district_id,
        micro_credential_id=award.micro_credential_id,
        micro_credential_version=award.micro_credential_version,
        reason="misconduct investigation",
        suspended_at=at,
    )


def reinstated(award: CredentialAwarded, at: datetime) -> CredentialReinstated:
    return CredentialReinstated(
        credential_id=award.credential_id,
        educator_id=award.educator_id,
        district_id=award.district_id,
        micro_credential_id=award.micro_credential_id,
        micro_credential_version=award.micro_credential_version,
        reason="investigation closed",
        reinstated_at=at,
    )


def stack_bonus_rule(rule_id: str, **changes) -> dict:
    return florida_rule(
        rule_id,
        name="Florida stack completion bonus",
        kind="per_stack",
        amount_cents=50_000,
        **changes,
    )


def lane_rule(rule_id: str, *, lane: str | None, rank: int, **changes) -> dict:
    body = {
        "rule_id": rule_id,
        "name": f"Stack completion moves to {lane or 'the stack lane'}",
        "state": "FL",
        "lane": lane,
        "rank": rank,
        "stack_ids": ["stack-assessment"],
        "effective_from": "2020-01-01T00:00:00Z",
    }
    body.update(changes)
    return body


async def lane_changes(svc: RunningService, educator_id: str) -> list[sa.Row]:
    return await rows(
        svc,
        "SELECT * FROM salary_lane_changes WHERE educator_id = :e ORDER BY seq",
        e=educator_id,
    )


async def wait_for(svc: RunningService, sql: str, count: int, **params) -> None:
    """Wait until ``sql`` (a count) reaches ``count``."""

    async def reached() -> bool:
        return int(await scalar(svc, sql, **params) or 0) >= count

    assert await wait_until(reached, 30), f"never reached {count}: {sql}"


def reissued(
    award: CredentialAwarded,
    previous_credential_id: str,
    *,
    credential_id: str | None = None,
    reissued_at: datetime | None = None,
) -> CredentialReissued:
    """``previous_credential_id`` (of ``award``'s chain) reissued as a new credential."""
    return CredentialReissued(
        credential_id=credential_id or unique_name("cred"),
        educator_id=award.educator_id,
        district_id=award.district_id,
        micro_credential_id=award.micro_credential_id,
        micro_credential_version=award.micro_credential_version,
        enrollment_id=award.enrollment_id,
        previous_credential_id=previous_credential_id,
        reason="name corrected",
        awarded_at=award.awarded_at,
        credential_url="https://creds.example/c/2",
        reissued_at=reissued_at or datetime(2025, 10, 15, tzinfo=UTC),
    )
