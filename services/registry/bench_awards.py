"""How many awards per CPU-second one registry process records, and how many SQL statements
each award sends.

    .venv/bin/python services/registry/bench_awards.py [--n 400] [--batch 200]

Runs ``record_award`` (what the registry consumer does for each passed ``review.decided``) on
``--n`` distinct passed decisions, ``--batch`` per transaction as the consumer commits a batch,
without signing (credentials are signed after commit by the ``credential-signer``). The catalog
holds two approved micro-credentials and a stack of both granting an endorsement; every
educator earns both, so half of the awards complete the stack (a ``stack_completed``, an
``endorsement_eligible``, a second audit record). Every enrollment was recorded for license
renewal, so every award posts renewal credits.

Prints the awards per CPU-second of this process (``time.process_time``: Python, asyncpg and
SQLAlchemy; the database server is another process), the milliseconds per award, the
statements per award (``mc_events.db.statements_run``) and the most frequent statements. Twenty
awards first (imports, the first status list, statement caches) are excluded as warm-up.
``--profile`` adds a cProfile of the measured awards (which slows them down), by cumulative
time (``BENCH_SORT=tottime`` for time inside each function).

Uses ``DATABASE_URL`` (a PostgreSQL server) if set, else starts an embedded PostgreSQL in a
temporary folder and removes it afterwards. No broker is needed: events stop in the outbox.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from mc_devstack.benchmarking import measured
from mc_devstack.devinfra.postgres import scratch_database
from mc_devstack.samples import mc_spec_data
from mc_events.contracts.common import CriterionResult, Purpose
from mc_events.contracts.review import Decided, ReviewOutcome
from mc_events.db import create_engine, session_factory
from mc_platform import migrations
from registry.adapters.awards_repository import AwardsRepository
from registry.adapters.catalog_repository import CatalogRepository, Issuer
from registry.bootstrap import MIGRATIONS
from registry.domain.catalog import MicroCredential, MicroCredentialSpec, Stack, StackSpec
from registry.domain.openbadges import PublicUrls
from registry.service_layer.credentials import record_award
from registry.service_layer.issuing import Issuance
from registry.service_layer.unit_of_work import UnitOfWork

Sessions = async_sessionmaker[AsyncSession]
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
URLS = PublicUrls("https://creds.state.example", "https://evidence.state.example", "SDE")
ISSUER = "provider-a"
MEMBERS = ("wait-time", "probing-questions")
CRITERIA = ("planning", "practice", "reflection")


def mc_spec(title: str) -> MicroCredentialSpec:
    """The sample micro-credential (``mc_devstack.samples``) scored on three criteria."""
    levels = [{"id": i, "name": i.title()} for i in ("emerging", "proficient", "exemplary")]
    rubric = [
        {"id": c, "name": c.title(), "levels": levels, "required_level_id": "proficient"}
        for c in CRITERIA
    ]
    return MicroCredentialSpec.model_validate(
        mc_spec_data(title=title, rubric=rubric, allowed_purposes=["license_renewal", "curated_pd"])
    )


async def seed_catalog(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        catalog = CatalogRepository(session)
        await catalog.add_issuer(Issuer(ISSUER, "Provider A", None, "", T0))
        for mc_id in MEMBERS:
            mc = MicroCredential.create(mc_id, ISSUER, mc_spec(mc_id.title()), "ann", T0)
            mc.submit("ann", T0)
            mc.approve("sea", T0)
            await catalog.add(mc, T0)
        stack_spec = StackSpec.model_validate(
            {
                "name": "Questioning Pathway",
                "member_micro_credential_ids": list(MEMBERS),
                "rule": {"kind": "all_of"},
                "grants": [
                    {"kind": "endorsement", "code": "SC-QUEST", "name": "Questioning"},
                    {"kind": "designation", "code": "lead-questioning", "name": "Lead"},
                ],
            }
        )
        stack = Stack.create("questioning", ISSUER, stack_spec, "ann", T0)
        stack.submit("ann", T0)
        stack.approve("sea", T0, published_mc_ids=MEMBERS)
        await catalog.add(stack, T0)


def decisions(first: int, n: int) -> list[Decided]:
    """``n`` passed decisions; educator ``k`` earns both members (decisions ``2k``, ``2k+1``)."""
    found = []
    for i in range(first, first + n):
        levels = ("proficient", "exemplary")[i % 2 :] + ("proficient",) * 2
        found.append(
            Decided(
                decision_id=f"dec-{i}",
                enrollment_id=f"enr-{i}",
                submission_id=f"sub-{i}",
                attempt=1,
                educator_id=f"SC-{i // 2:07d}",
                district_id=f"district-{i % 7}",
                micro_credential_id=MEMBERS[i % 2],
                micro_credential_version=1,
                outcome=ReviewOutcome.PASSED,
                results=tuple(
                    CriterionResult(criterion_id=c, achieved_level_id=level, met=True)
                    for c, level in zip(CRITERIA, levels, strict=False)
                ),
                assessor_ids=("assessor-1", "assessor-2"),
                approver_id=None,
                decided_at=T0 + timedelta(seconds=i),
            )
        )
    return found


async def seed_enrollments(sessions: Sessions, found: list[Decided]) -> None:
    async with sessions() as session, session.begin():
        repo = AwardsRepository(session)
        for decision in found:
            await repo.record_enrollment(
                enrollment_id=decision.enrollment_id,
                educator_id=decision.educator_id,
                micro_credential_id=decision.micro_credential_id,
                micro_credential_version=decision.micro_credential_version,
                purpose=Purpose.LICENSE_RENEWAL,
                enrolled_at=T0 - timedelta(days=60),
            )


async def record_batches(
    sessions: Sessions, found: list[Decided], batch: int, issuance: Issuance
) -> int:
    awarded = 0
    for start in range(0, len(found), batch):
        async with sessions() as session, session.begin():
            for decision in found[start : start + batch]:
                uow = UnitOfWork.joining(session)  # as the consumer's handler runs it
                now = datetime.now(UTC)
                awarded += await record_award(uow, decision, issuance, now) is not None
                await uow.flush()
    return awarded


async def run(url: str, n: int, batch: int, profile: bool = False) -> None:
    await asyncio.to_thread(migrations.upgrade, MIGRATIONS, url)
    engine = create_engine(url, pool_size=2)
    sessions = session_factory(engine)
    issuance = Issuance(URLS, validity=timedelta(days=5 * 365))
    try:
        await seed_catalog(sessions)
        warm_up, measured_decisions = decisions(0, 2 * 10), decisions(2 * 10, n)
        await seed_enrollments(sessions, warm_up + measured_decisions)
        assert await record_batches(sessions, warm_up, batch, issuance) == len(warm_up)

        title = f"{n} awards in batches of {batch}"
        async with measured(engine, n, "award", title=title, profile=profile):
            awarded = await record_batches(sessions, measured_decisions, batch, issuance)
        assert awarded == n, f"{awarded} of {n} decisions awarded"
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=400, help="awards measured (even)")
    parser.add_argument("--batch", type=int, default=200, help="awards per transaction")
    parser.add_argument(
        "--profile", action="store_true", help="print a cProfile of the measured awards"
    )
    args = parser.parse_args()
    n = args.n + args.n % 2
    with scratch_database("bench_awards") as url:
        asyncio.run(run(url, n, args.batch, args.profile))


if __name__ == "__main__":
    main()
