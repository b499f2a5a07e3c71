"""What one process spends on an awarded credential: CPU and SQL statements per award.

    .venv/bin/python services/compensation/bench_awards.py [--n 400] [--batch 200]

Runs the ``registry.credential_awarded`` handler of the compensation consumer, in-process, for
``--n`` distinct awards (each its own educator and credential) in batches of ``--batch``, one
transaction per batch, as the consumer runtime does. Before that it sets up what an award
needs, as the integration tests do: a registered Florida district with a budget, the statewide
$1,000 per-credential rule, a district first-credential rule with a cap, a salary-lane rule
(stack completions only: an award must not read it), and the educators on the roster read
model. Every award is approved under both stipend rules.

Prints, for the measured awards (a warm-up batch is excluded): awards per CPU-second of this
process (``time.process_time``: PostgreSQL's own work is not counted), CPU and wall
milliseconds per award, SQL statements per award and the statements sent most often
(``mc_devstack.benchmarking.measured``, shared with the other services' benchmarks).

Uses ``DATABASE_URL`` (a PostgreSQL server) if set, else starts an embedded PostgreSQL in a
temporary folder and removes it afterwards. No broker is needed: events stop in the outbox.
"""

from __future__ import annotations

import argparse
import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from compensation.bootstrap import MIGRATIONS
from compensation.domain.fiscal import FiscalCalendar
from compensation.domain.lanes import SalaryLaneRule
from compensation.domain.rules import Educator, RuleKind, StipendRule
from compensation.entrypoints.consumer import build_handlers
from compensation.service_layer import rules, stipends
from compensation.service_layer.unit_of_work import UnitOfWork
from mc_devstack.benchmarking import measured
from mc_devstack.devinfra.postgres import scratch_database
from mc_events.contracts.common import Credits, CreditUnit, CriterionResult, Purpose
from mc_events.contracts.registry import CredentialAwarded
from mc_events.db import create_engine, session_factory
from mc_events.envelope import Envelope, Received
from mc_platform import migrations

DISTRICT = "leon"
FUNDING = "fl-state-mc-stipend-fund"
AWARDED_AT = datetime(2025, 10, 1, 15, tzinfo=UTC)
WARM_UP = 20


def clock() -> datetime:
    return datetime(2025, 10, 2, tzinfo=UTC)


def award_event(i: int) -> CredentialAwarded:
    return CredentialAwarded(
        credential_id=f"cred-{i:07d}",
        educator_id=f"FL-{i:07d}",
        district_id=DISTRICT,
        micro_credential_id="mc-wait-time",
        micro_credential_version=1,
        enrollment_id=f"enr-{i:07d}",
        decision_id=f"dec-{i:07d}",
        issuer_id="issuer-1",
        achievement_name="Wait time after questioning",
        purpose=Purpose.LICENSE_RENEWAL,
        credits=Credits(value=Decimal("20"), unit=CreditUnit.RENEWAL_CREDITS),
        awarded_at=AWARDED_AT + timedelta(seconds=i),
        credential_url=f"https://creds.example/c/{i}",
        results=(CriterionResult(criterion_id="c1", achieved_level_id="l2", met=True),),
    )


def received(event: CredentialAwarded) -> Received[CredentialAwarded]:
    envelope = Envelope(
        id=str(uuid.uuid4()),
        type=event.event_type,
        source="/mc/registry",
        time=event.awarded_at,
        subject=event.credential_id,
        key=event.educator_id,
        data=b"",
    )
    return Received(event=event, envelope=envelope)


async def seed(sessions: async_sessionmaker[AsyncSession], educators: int) -> None:
    """What the API would do (one command each), then the roster read model."""
    calendar = FiscalCalendar(7, 1, "America/New_York")
    await rules.register_district(
        UnitOfWork(sessions), DISTRICT, state="FL", name="Leon County", clock=clock
    )
    for rule in (
        StipendRule(
            rule_id="fl-mc",
            version=1,
            name="Florida MC completion stipend",
            state="FL",
            kind=RuleKind.PER_CREDENTIAL,
            amount_cents=100_000,
            funding_source=FUNDING,
            effective_from=datetime(2020, 1, 1, tzinfo=UTC),
            eligible_roles=frozenset({"teacher", "instructional_coach"}),
            calendar=calendar,
        ),
        StipendRule(
            rule_id="leon-first-mc",
            version=1,
            name="Leon first micro-credential bonus",
            state="FL",
            district_id=DISTRICT,
            kind=RuleKind.FIRST_CREDENTIAL,
            amount_cents=15_000,
            funding_source=FUNDING,
            effective_from=datetime(2020, 1, 1, tzinfo=UTC),
            annual_cap_cents=15_000,
            calendar=calendar,
        ),
    ):
        await rules.publish(
            UnitOfWork(sessions), rule, published_by="sea", acting_for_district=None, clock=clock
        )
    await rules.publish(
        UnitOfWork(sessions),
        SalaryLaneRule(
            rule_id="fl-lane",
            version=1,
            name="Stack completion moves to MA+15",
            state="FL",
            rank=2,
            lane="MA+15",
            effective_from=datetime(2020, 1, 1, tzinfo=UTC),
            stack_ids=frozenset({"stack-assessment"}),
        ),
        published_by="sea",
        acting_for_district=None,
        clock=clock,
    )
    await stipends.add_funds(
        UnitOfWork(sessions),
        (DISTRICT, FUNDING, 2026),
        (educators + 1) * 115_000,
        added_by="sea",
        clock=clock,
    )
    async with UnitOfWork(sessions) as uow:
        for i in range(educators):
            await uow.roster.upsert_educator(
                Educator(f"FL-{i:07d}", DISTRICT, "teacher", "professional"), clock()
            )
        await uow.commit()


async def run(url: str, n: int, batch: int, top: int) -> None:
    await asyncio.to_thread(migrations.upgrade, MIGRATIONS, url)
    engine = create_engine(url, pool_size=2)
    sessions = session_factory(engine)
    handler = build_handlers(clock)[CredentialAwarded]
    try:
        await seed(sessions, WARM_UP + n)
        warm_up = [received(award_event(i)) for i in range(WARM_UP)]
        awards = [received(award_event(i)) for i in range(WARM_UP, WARM_UP + n)]
        async with sessions() as session, session.begin():
            for item in warm_up:
                await handler(session, item)

        title = f"{n} awards in batches of {batch}"
        async with measured(engine, n, "award", title=title, top=top):
            for start in range(0, n, batch):
                async with sessions() as session, session.begin():
                    for item in awards[start : start + batch]:
                        await handler(session, item)
        async with engine.connect() as conn:
            approvals = (
                await conn.execute(
                    sa.text("SELECT count(*) FROM ledger_entries WHERE kind = 'approval'")
                )
            ).scalar_one()
        print(f"{approvals} approvals in the ledger (warm-up included)")
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=400, help="awards measured")
    parser.add_argument("--batch", type=int, default=200, help="awards per transaction")
    parser.add_argument("--top", type=int, default=15, help="frequent statements shown")
    args = parser.parse_args()
    with scratch_database("bench_awards") as url:
        asyncio.run(run(url, args.n, args.batch, args.top))


if __name__ == "__main__":
    main()
