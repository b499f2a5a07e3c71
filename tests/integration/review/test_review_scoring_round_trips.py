"""What a rater's scores cost the review database, in statements.

Every ``POST /assignments/{id}/scores`` is one transaction. Scores that do not complete the
review take three statements: the review locked (found through the assessor's own
assignment), its assignments and rubric read under that lock, the scores saved (with the
review's new status when the raters disagree). Scores that decide it add the outbox's two
statements and the audit trail's two: seven in all, whatever the number of raters.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from review_support import NOW, published, qualified_for, submitted
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from mc_devstack.testing import migrated_database
from mc_events.db import execute_core, session_factory, statements_run
from review.adapters.tables import assignments, reviews
from review.bootstrap import MIGRATIONS
from review.domain.assignment import Assessor, CalibrationStatus, Qualification, QualificationKind
from review.domain.conflicts import AssessorLinks
from review.domain.scoring import Score
from review.service_layer.assignment import AssignmentPolicy, on_evidence_submitted
from review.service_layer.read_models import record_published
from review.service_layer.scoring import ScoreOutcome, score_assignment
from review.service_layer.unit_of_work import UnitOfWork

MC_ID = "wait-time"
REVIEWS = 5
STATEMENTS_PER_DECISION = 7
"""Three of review's own, the outbox's two and the audit trail's two."""
STATEMENTS_PER_UNDECIDED_SCORING = 3

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def database(infra) -> AsyncIterator[AsyncEngine]:
    async with migrated_database(infra, MIGRATIONS, "review_round_trips", pool_size=1) as engine:
        yield engine


async def assigned_reviews(sessions: Sessions, raters: int) -> list[list[tuple[str, str]]]:
    """``REVIEWS`` submissions assigned to ``raters`` raters each; per review, its
    ``(assignment id, assessor id)`` in slot order."""
    async with UnitOfWork(sessions) as uow:
        await record_published(uow, published(MC_ID, "Wait time"))
        for assessor_id in ("assessor-1", "assessor-2"):
            await uow.assessors.upsert(
                Assessor(
                    links=AssessorLinks(assessor_id=assessor_id, district_id="lea-far"),
                    qualifications=frozenset(
                        Qualification(QualificationKind(q["kind"]), q["id"])
                        for q in qualified_for(MC_ID)
                    ),
                    calibration=CalibrationStatus.CALIBRATED,
                    weekly_capacity=100,
                ),
                NOW,
            )
        submission_ids = []
        for _ in range(REVIEWS):
            event = submitted(MC_ID)
            submission_ids.append(event.submission_id)
            policy = AssignmentPolicy(raters_per_submission=raters)
            assert len(await on_evidence_submitted(uow, event, policy, NOW)) == raters
        rows = await execute_core(
            uow.session,
            sa.select(assignments.c.submission_id, assignments.c.assignment_id)
            .add_columns(assignments.c.assessor_id)
            .where(assignments.c.submission_id.in_(submission_ids))
            .order_by(assignments.c.slot),
        )
        found: dict[str, list[tuple[str, str]]] = {s: [] for s in submission_ids}
        for row in rows:
            found[row.submission_id].append((row.assignment_id, row.assessor_id))
        await uow.commit()
    return list(found.values())


async def score(
    engine: AsyncEngine, sessions: Sessions, assignment: tuple[str, str], level: str
) -> tuple[ScoreOutcome, list[str]]:
    """One rater's scores, committed as the API does; with the statements sent."""
    assignment_id, assessor_id = assignment
    with statements_run(engine) as statements:
        outcome = await score_assignment(
            UnitOfWork(sessions),
            assignment_id=assignment_id,
            assessor_id=assessor_id,
            scores={"c1": Score(level, "seen in the video")},
            now=datetime(2026, 3, 3, 9, 0, tzinfo=UTC),
        )
    return outcome, list(statements)


async def statuses(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        return list((await conn.execute(sa.select(reviews.c.status))).scalars())


async def test_a_single_rater_decides_in_seven_statements(database):
    sessions = session_factory(database)
    sent = []
    for (rater,) in await assigned_reviews(sessions, raters=1):
        outcome, statements = await score(database, sessions, rater, "l2")
        assert outcome.decision is not None
        sent += statements

    assert await statuses(database) == ["decided"] * REVIEWS
    assert len(sent) <= STATEMENTS_PER_DECISION * REVIEWS


async def test_the_first_of_two_raters_costs_three_statements_the_second_seven(database):
    sessions = session_factory(database)
    first_sent, second_sent = [], []
    for first, second in await assigned_reviews(sessions, raters=2):
        outcome, statements = await score(database, sessions, first, "l2")
        assert outcome.review_status == "in_review"
        first_sent += statements
        outcome, statements = await score(database, sessions, second, "l2")
        assert outcome.decision is not None
        second_sent += statements

    assert await statuses(database) == ["decided"] * REVIEWS
    assert len(first_sent) <= STATEMENTS_PER_UNDECIDED_SCORING * REVIEWS
    assert len(second_sent) <= STATEMENTS_PER_DECISION * REVIEWS


async def test_raters_who_disagree_send_it_to_an_approver_in_three_statements(database):
    sessions = session_factory(database)
    sent = []
    for first, second in await assigned_reviews(sessions, raters=2):
        await score(database, sessions, first, "l2")
        outcome, statements = await score(database, sessions, second, "l1")
        assert outcome.review_status == "awaiting_approver"
        sent += statements

    assert await statuses(database) == ["awaiting_approver"] * REVIEWS
    assert len(sent) <= STATEMENTS_PER_UNDECIDED_SCORING * REVIEWS
