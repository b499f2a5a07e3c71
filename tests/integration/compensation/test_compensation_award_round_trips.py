"""What an awarded credential costs the compensation database, in statements.

The consumer handles up to 500 events in one transaction, one handler call each, so every
statement an award sends is paid once per award during a backfill. An award that two rules pay
is decided in a fixed number of statements, whatever the number of rules: one read of what
the decision needs (the original credential of a reissue chain, the district's state, the
rules, the educator), the award lock, one read of what was decided for the award already, one
statement locking the usage counters and one locking the budgets, one writing the ledger
entries with their usage and budget charges, then the outbox's and the audit trail's own
statements. The audit trail is counted apart (it belongs to mc_platform.audit).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from compensation_helpers import awarded
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from compensation.bootstrap import MIGRATIONS
from compensation.domain.fiscal import FiscalCalendar
from compensation.domain.rules import Educator, RuleKind, StipendRule
from compensation.entrypoints.consumer import build_handlers
from compensation.service_layer import rules, stipends
from compensation.service_layer.unit_of_work import UnitOfWork
from mc_devstack.testing import migrated_database
from mc_events.contracts.registry import CredentialAwarded
from mc_events.db import session_factory, statements_run
from mc_events.envelope import Envelope, Received

AWARDS = 10
STATEMENTS_PER_PAID_AWARD = 8
"""Besides the audit trail's: six of compensation's own and the outbox's two."""
FUNDING = "fl-state-mc-stipend-fund"
CALENDAR = FiscalCalendar(7, 1, "America/New_York")


def clock() -> datetime:
    return datetime(2025, 10, 2, tzinfo=UTC)


def rule(rule_id: str, kind: RuleKind, amount_cents: int, district_id: str | None) -> StipendRule:
    return StipendRule(
        rule_id=rule_id,
        version=1,
        name=rule_id,
        state="FL",
        district_id=district_id,
        kind=kind,
        amount_cents=amount_cents,
        funding_source=FUNDING,
        effective_from=datetime(2020, 1, 1, tzinfo=UTC),
        calendar=CALENDAR,
    )


@pytest.fixture
async def database(infra) -> AsyncIterator[AsyncEngine]:
    async with migrated_database(
        infra, MIGRATIONS, "compensation_round_trips", pool_size=1
    ) as engine:
        yield engine


async def florida(
    sessions: async_sessionmaker[AsyncSession], educators: list[str], *, paid: bool
) -> str:
    """A registered, funded district with its teachers, and Florida's statewide $1,000 rule;
    ``paid``: the district is in Florida and has a first-credential rule of its own (else it
    is in Georgia, where no rule pays)."""
    district = f"leon-{uuid.uuid4().hex[:8]}"
    state = "FL" if paid else "GA"
    await rules.register_district(
        UnitOfWork(sessions), district, state=state, name="Leon", clock=clock
    )
    published = [rule("fl-mc", RuleKind.PER_CREDENTIAL, 100_000, None)]
    if paid:
        published.append(rule("leon-first-mc", RuleKind.FIRST_CREDENTIAL, 15_000, district))
    for each in published:
        await rules.publish(
            UnitOfWork(sessions), each, published_by="sea", acting_for_district=None, clock=clock
        )
    await stipends.add_funds(
        UnitOfWork(sessions), (district, FUNDING, 2026), 10_000_000, added_by="sea", clock=clock
    )
    async with UnitOfWork(sessions) as uow:
        for educator in educators:
            await uow.roster.upsert_educator(
                Educator(educator, district, "teacher", "professional"), clock()
            )
        await uow.commit()
    return district


async def award_all(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], events: list[CredentialAwarded]
) -> list[str]:
    """The consumer's credential_awarded handler for ``events``, in one transaction; returns
    the statements sent."""
    handler = build_handlers(clock)[CredentialAwarded]
    with statements_run(engine) as statements:
        async with sessions() as session, session.begin():
            for event in events:
                envelope = Envelope(
                    id=str(uuid.uuid4()),
                    type=event.event_type,
                    source="/mc/registry",
                    time=event.awarded_at,
                    subject=event.credential_id,
                    key=event.educator_id,
                    data=b"",
                )
                await handler(session, Received(event=event, envelope=envelope))
    return list(statements)


def besides_audit(statements: list[str]) -> list[str]:
    return [s for s in statements if "audit_log" not in s and "audit_chain_head" not in s]


async def test_an_award_two_rules_pay_costs_eight_statements_besides_its_audit_records(database):
    sessions = session_factory(database)
    educators = [f"FL-{uuid.uuid4().hex[:10]}" for _ in range(AWARDS)]
    district = await florida(sessions, educators, paid=True)
    events = [
        awarded(educator, district, awarded_at=datetime(2025, 10, 1, 15, tzinfo=UTC) + timedelta(i))
        for i, educator in enumerate(educators)
    ]

    statements = await award_all(database, sessions, events)

    async with database.connect() as conn:
        paid = (
            await conn.execute(
                sa.text(
                    "SELECT count(*) FROM ledger_entries "
                    "WHERE district_id = :d AND kind = 'approval'"
                ),
                {"d": district},
            )
        ).scalar_one()
    assert paid == 2 * AWARDS
    assert len(besides_audit(statements)) <= STATEMENTS_PER_PAID_AWARD * AWARDS


async def test_an_award_no_rule_pays_costs_one_read(database):
    sessions = session_factory(database)
    educators = [f"GA-{uuid.uuid4().hex[:10]}" for _ in range(AWARDS)]
    district = await florida(sessions, educators, paid=False)
    events = [awarded(educator, district) for educator in educators]

    statements = await award_all(database, sessions, events)

    assert len(statements) == AWARDS
