"""What recording an award costs the database: a bounded number of SQL statements per award
(the consumer records a batch of decisions in one transaction), and a micro-credential
version read once while it is unchanged."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from mc_devstack.testing import migrated_database, unique_name
from mc_events.contracts.common import CriterionResult, Purpose
from mc_events.contracts.review import Decided, ReviewOutcome
from mc_events.db import execute_core, session_factory, statements_run
from registry.adapters.awards_repository import AwardsRepository
from registry.adapters.catalog_repository import CatalogRepository, Issuer
from registry.adapters.licensure_tables import renewal_ledger, stack_completions
from registry.bootstrap import MIGRATIONS
from registry.domain.catalog import MicroCredential, MicroCredentialSpec, Stack, StackSpec
from registry.domain.openbadges import PublicUrls
from registry.service_layer.credentials import record_award
from registry.service_layer.issuing import Issuance
from registry.service_layer.unit_of_work import UnitOfWork

pytestmark = pytest.mark.timeout(120)

STATEMENTS_PER_AWARD = 10.5
"""Every award: its checks (one read), a status-list index, the credential, the educator's
lock, what the award's effects depend on (one read: stacks, progress on them, renewal rules,
license, cycle), the ledger entry, its events together at the end (two: numbering, insert) and
its audit records together (two: the educator's chain head, the records); half of them also
complete a stack (one more: the completion)."""

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
URLS = PublicUrls("https://creds.state.example", "https://evidence.state.example", "SDE")
ISSUANCE = Issuance(URLS, validity=timedelta(days=5 * 365))


def mc_spec(title: str) -> MicroCredentialSpec:
    levels = [{"id": i, "name": i.title()} for i in ("emerging", "proficient", "exemplary")]
    return MicroCredentialSpec.model_validate(
        {
            "title": title,
            "competency": "The educator uses questioning to deepen student thinking.",
            "evidence_requirements": [
                {"id": "plan", "kind": "document", "prompt": "Lesson plan", "required": True}
            ],
            "rubric": [
                {
                    "id": "practice",
                    "name": "Practice",
                    "levels": levels,
                    "required_level_id": "proficient",
                }
            ],
            "credits": {"value": str(Decimal("15")), "unit": "pd_hours"},
            "attempt_cap": 3,
            "completion_window_days": 180,
            "cooldown_days": 30,
            "fee": {"amount_cents": 4000, "payer": "district"},
            "allowed_purposes": ["license_renewal"],
        }
    )


@dataclass
class Registry:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    members: tuple[str, str]
    """Two approved micro-credentials, the members of an approved stack."""


@pytest.fixture
async def registry(infra) -> AsyncIterator[Registry]:
    async with migrated_database(infra, MIGRATIONS, "registry_round_trips") as engine:
        sessions = session_factory(engine)
        issuer = unique_name("prov")
        members = (unique_name("mc"), unique_name("mc"))
        async with sessions() as session, session.begin():
            catalog = CatalogRepository(session)
            await catalog.add_issuer(Issuer(issuer, "Provider", None, "", T0))
            for mc_id in members:
                mc = MicroCredential.create(mc_id, issuer, mc_spec(mc_id), "ann", T0)
                mc.submit("ann", T0)
                mc.approve("sea", T0)
                await catalog.add(mc, T0)
            spec = StackSpec.model_validate(
                {
                    "name": "Questioning Pathway",
                    "member_micro_credential_ids": list(members),
                    "rule": {"kind": "all_of"},
                    "grants": [{"kind": "endorsement", "code": "SC-QUEST", "name": "Questioning"}],
                }
            )
            stack = Stack.create(unique_name("stack"), issuer, spec, "ann", T0)
            stack.submit("ann", T0)
            stack.approve("sea", T0, published_mc_ids=members)
            await catalog.add(stack, T0)
        yield Registry(engine, sessions, members)


async def decision(registry: Registry, mc_id: str, educator_id: str) -> Decided:
    """A passed decision for an enrollment the registry has seen (for license renewal)."""
    decided = Decided(
        decision_id=unique_name("dec"),
        enrollment_id=unique_name("enr"),
        submission_id=unique_name("sub"),
        attempt=1,
        educator_id=educator_id,
        district_id="district-7",
        micro_credential_id=mc_id,
        micro_credential_version=1,
        outcome=ReviewOutcome.PASSED,
        results=(
            CriterionResult(criterion_id="practice", achieved_level_id="proficient", met=True),
        ),
        assessor_ids=("assessor-1",),
        decided_at=T0,
    )
    async with registry.sessions() as session, session.begin():
        await AwardsRepository(session).record_enrollment(
            enrollment_id=decided.enrollment_id,
            educator_id=educator_id,
            micro_credential_id=mc_id,
            micro_credential_version=1,
            purpose=Purpose.LICENSE_RENEWAL,
            enrolled_at=T0 - timedelta(days=30),
        )
    return decided


async def record(registry: Registry, decisions: list[Decided]) -> list[str]:
    """Record ``decisions`` in one transaction, as the consumer does a batch; the statements
    sent."""
    with statements_run(registry.engine) as statements:
        async with registry.sessions() as session, session.begin():
            for decided in decisions:
                uow = UnitOfWork.joining(session)  # as the consumer's handler runs it
                assert await record_award(uow, decided, ISSUANCE, T0) is not None
                await uow.flush()
    return statements


async def count(registry: Registry, query: sa.Select[tuple[int]]) -> int:
    async with registry.sessions() as session:
        return int((await execute_core(session, query)).scalar_one())


def summary(statements: list[str]) -> str:
    """The statements sent, most frequent first (what to look at when the bound is passed)."""
    counts = Counter(" ".join(s.split())[:100] for s in statements)
    return "\n".join(f"{n:3d}  {text}" for text, n in counts.most_common())


def version_reads(statements: list[str]) -> int:
    return sum(s.lstrip().startswith("SELECT micro_credentials.id") for s in statements)


async def test_a_batch_of_awards_sends_a_bounded_number_of_statements_per_award(registry):
    first, second = registry.members
    # Warm-up: the first status list, and each version's first read.
    await record(
        registry, [await decision(registry, mc, unique_name("SC")) for mc in (first, second)]
    )
    educators = [unique_name("SC") for _ in range(3)]
    batch = [await decision(registry, mc, e) for e in educators for mc in (first, second)]

    statements = await record(registry, batch)

    assert len(statements) <= STATEMENTS_PER_AWARD * len(batch), summary(statements)
    # What the statements did: every educator completed the stack, every award posted credits.
    completions = sa.select(sa.func.count()).where(stack_completions.c.educator_id.in_(educators))
    assert await count(registry, completions) == len(educators)
    postings = sa.select(sa.func.count()).where(renewal_ledger.c.educator_id.in_(educators))
    assert await count(registry, postings) == len(batch)


async def test_an_unchanged_version_is_read_once_and_again_after_it_changes(registry):
    mc_id = registry.members[0]
    statements = await record(
        registry, [await decision(registry, mc_id, unique_name("SC")) for _ in range(3)]
    )
    assert version_reads(statements) == 1

    async with registry.sessions() as session, session.begin():
        catalog = CatalogRepository(session)
        mc = await catalog.get(MicroCredential, mc_id, 1, for_update=True)
        assert mc is not None
        mc.retire("sea", T0 + timedelta(days=1), "superseded by a new version")
        await catalog.save(mc, T0 + timedelta(days=1))

    # Retired after enrollments opened: still awarded, read again once.
    statements = await record(
        registry, [await decision(registry, mc_id, unique_name("SC")) for _ in range(2)]
    )
    assert version_reads(statements) == 1
