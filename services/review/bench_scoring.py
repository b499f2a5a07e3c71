"""How many scoring decisions per CPU-second one review process makes, and how many SQL
statements each decision sends.

    .venv/bin/python services/review/bench_scoring.py [--n 300] [--raters 1]

Runs ``score_assignment`` (what ``POST /assignments/{id}/scores`` calls below the HTTP layer)
on the open assignments of ``--n`` distinct submissions, each in its own transaction as the
API commits each request. Every submission is of one published micro-credential (a rubric of
three criteria) and was assigned by the review's own assignment command to ``--raters``
raters (1, or 2 for double rating); every rater scores every criterion at or above its
required level, so every review is decided, passed, with its ``review.decided`` event in the
outbox and its audit record.

Prints the decisions per CPU-second of this process (``time.process_time``: Python, asyncpg
and SQLAlchemy; the database server is another process), the milliseconds per decision, the
statements per decision (``mc_events.db.statements_run``, every rater's request included) and
the most frequent statements. Twenty decisions first (imports, statement caches) are excluded
as warm-up. ``--profile`` adds a cProfile of the measured decisions (which slows them down), by
cumulative time (``BENCH_SORT=tottime`` for time inside each function).

Uses ``DATABASE_URL`` (a PostgreSQL server) if set, else starts an embedded PostgreSQL in a
temporary folder and removes it afterwards. No broker is needed: events stop in the outbox.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from mc_devstack.benchmarking import measured
from mc_devstack.devinfra.postgres import scratch_database
from mc_events.contracts.catalog import MicroCredentialPublished
from mc_events.contracts.common import (
    Credits,
    CreditUnit,
    EvidenceKind,
    EvidenceRequirement,
    Fee,
    FeePayer,
    Level,
    Purpose,
    RubricCriterion,
)
from mc_events.contracts.enrollment import ArtifactRef, EvidenceSubmitted
from mc_events.db import create_engine, execute_core, session_factory
from mc_platform import migrations
from review.adapters.tables import assignments
from review.bootstrap import MIGRATIONS
from review.domain.assignment import (
    Assessor,
    CalibrationStatus,
    Qualification,
    QualificationKind,
)
from review.domain.conflicts import AssessorLinks
from review.domain.scoring import Score
from review.service_layer.assignment import AssignmentPolicy, on_evidence_submitted
from review.service_layer.read_models import record_published
from review.service_layer.scoring import score_assignment
from review.service_layer.unit_of_work import UnitOfWork

Sessions = async_sessionmaker[AsyncSession]
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
MC_ID = "wait-time"
CRITERIA = ("planning", "practice", "reflection")
LEVELS = ("emerging", "proficient", "exemplary")
ASSESSORS = ("assessor-1", "assessor-2")
WARM_UP = 20


def published() -> MicroCredentialPublished:
    return MicroCredentialPublished(
        micro_credential_id=MC_ID,
        micro_credential_version=1,
        issuer_id="iss-1",
        issuer_name="Issuer",
        title="Wait time",
        competency="The educator uses wait time.",
        description="",
        evidence_requirements=(
            EvidenceRequirement(id="r1", kind=EvidenceKind.VIDEO, prompt="Film it", required=True),
        ),
        rubric=tuple(
            RubricCriterion(
                id=c,
                name=c.title(),
                levels=tuple(Level(id=level, name=level.title()) for level in LEVELS),
                required_level_id="proficient",
            )
            for c in CRITERIA
        ),
        credits=Credits(value=Decimal("10"), unit=CreditUnit.RENEWAL_CREDITS),
        attempt_cap=3,
        completion_window_days=90,
        cooldown_days=30,
        fee=Fee(amount_cents=4000, payer=FeePayer.DISTRICT),
        allowed_purposes=(Purpose.LICENSE_RENEWAL,),
        approved_at=NOW - timedelta(days=10),
    )


def submitted(i: int) -> EvidenceSubmitted:
    return EvidenceSubmitted(
        enrollment_id=f"enr-{i}",
        submission_id=f"sub-{i:07d}",
        attempt=1,
        educator_id=f"SC-{i // 2:07d}",
        district_id=f"lea-{i % 7}",
        school_id=None,
        supervisor_id=None,
        micro_credential_id=MC_ID,
        micro_credential_version=1,
        artifacts=(
            ArtifactRef(
                artifact_id=f"art-{i}",
                requirement_id="r1",
                kind=EvidenceKind.VIDEO,
                content_type="video/mp4",
                size_bytes=10,
                sha256="0" * 64,
                uri="evidence://x",
            ),
        ),
        submitted_at=NOW - timedelta(hours=1),
        deadline_at=NOW + timedelta(days=60),
    )


async def seed(sessions: Sessions, submissions: int, raters: int) -> list[list[tuple[str, str]]]:
    """The catalog, the assessors and ``submissions`` assigned reviews; per review, its
    ``(assignment id, assessor id)`` pairs in slot order."""
    async with UnitOfWork(sessions) as uow:
        await record_published(uow, published())
        for assessor_id in ASSESSORS:
            await uow.assessors.upsert(
                Assessor(
                    links=AssessorLinks(assessor_id=assessor_id, district_id="lea-far"),
                    qualifications=frozenset(
                        {Qualification(QualificationKind.MICRO_CREDENTIAL, MC_ID)}
                    ),
                    calibration=CalibrationStatus.CALIBRATED,
                    weekly_capacity=10 * submissions,
                ),
                NOW,
            )
        await uow.commit()
    policy = AssignmentPolicy(raters_per_submission=raters)
    for first in range(0, submissions, 100):
        async with UnitOfWork(sessions) as uow:
            for i in range(first, min(first + 100, submissions)):
                assigned = await on_evidence_submitted(uow, submitted(i), policy, NOW)
                assert len(assigned) == raters, assigned
            await uow.commit()
    async with sessions() as session:
        rows = await execute_core(
            session,
            sa.select(assignments.c.submission_id, assignments.c.assignment_id)
            .add_columns(assignments.c.assessor_id)
            .order_by(assignments.c.submission_id, assignments.c.slot),
        )
        by_review: dict[str, list[tuple[str, str]]] = {}
        for row in rows:
            by_review.setdefault(row.submission_id, []).append((row.assignment_id, row.assessor_id))
    return [by_review[key] for key in sorted(by_review)]


SCORES = {
    c: Score(level, f"{c}: clear evidence")
    for c, level in zip(CRITERIA, ("proficient", "exemplary", "proficient"), strict=True)
}


async def score_reviews(sessions: Sessions, reviews: list[list[tuple[str, str]]]) -> int:
    decided = 0
    for review in reviews:
        for assignment_id, assessor_id in review:
            outcome = await score_assignment(
                UnitOfWork(sessions),
                assignment_id=assignment_id,
                assessor_id=assessor_id,
                scores=SCORES,
                now=datetime.now(UTC),
            )
            decided += outcome.decision is not None
    return decided


async def run(url: str, n: int, raters: int, profile: bool = False) -> None:
    await asyncio.to_thread(migrations.upgrade, MIGRATIONS, url)
    engine = create_engine(url, pool_size=2)
    sessions = session_factory(engine)
    try:
        reviews = await seed(sessions, WARM_UP + n, raters)
        warm_up, measured_reviews = reviews[:WARM_UP], reviews[WARM_UP:]
        assert await score_reviews(sessions, warm_up) == WARM_UP

        title = f"{n} decisions, {raters} rater(s) each"
        async with measured(engine, n, "decision", title=title, profile=profile):
            decided = await score_reviews(sessions, measured_reviews)
        assert decided == n, f"{decided} of {n} reviews decided"
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300, help="decisions measured")
    parser.add_argument("--raters", type=int, default=1, choices=(1, 2), help="raters per review")
    parser.add_argument(
        "--profile", action="store_true", help="print a cProfile of the measured decisions"
    )
    args = parser.parse_args()
    with scratch_database("bench_scoring") as url:
        asyncio.run(run(url, args.n, args.raters, args.profile))


if __name__ == "__main__":
    main()
