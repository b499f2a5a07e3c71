"""Artifacts, submissions and the review assignments that grant reading them: queries and
writes, never commits (the unit of work does)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlmodel.ext.asyncio.session import AsyncSession

from enrollment.adapters.tables import (
    artifacts,
    catalog_versions,
    released_assignments,
    review_assignments,
    submissions,
)
from enrollment.domain.evidence import (
    Artifact,
    AssessorAssignment,
    Decision,
    Problem,
    ReleasedAssignment,
    Requirement,
    ReviewAssignment,
    Submission,
)
from mc_events.contracts.common import CriterionResult, EvidenceKind
from mc_events.contracts.review import MisconductKind, ReviewOutcome
from mc_events.db import execute_core


def _artifact(row: Any) -> Artifact:
    return Artifact(
        artifact_id=row.artifact_id,
        enrollment_id=row.enrollment_id,
        requirement_id=row.requirement_id,
        kind=EvidenceKind(row.kind),
        content_type=row.content_type,
        size_bytes=row.size_bytes,
        sha256=row.sha256,
        uri=row.uri,
        word_count=row.word_count,
        submission_id=row.submission_id,
        created_at=row.created_at,
    )


def _submission(row: Any) -> Submission:
    decision = None
    if row.decision_id is not None:
        decision = Decision(
            decision_id=row.decision_id,
            outcome=ReviewOutcome(row.outcome),
            results=tuple(CriterionResult.model_validate(r) for r in row.results or ()),
            decided_at=row.decided_at,
            misconduct=MisconductKind(row.misconduct) if row.misconduct else None,
        )
    return Submission(
        submission_id=row.submission_id,
        enrollment_id=row.enrollment_id,
        idempotency_key=row.idempotency_key,
        complete=row.complete,
        attempt=row.attempt,
        problems=tuple(Problem.from_json(p) for p in row.problems),
        submitted_at=row.submitted_at,
        decision=decision,
    )


class EvidenceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def requirements(self, micro_credential_id: str, version: int) -> list[Requirement]:
        result = await execute_core(
            self._session,
            sa.select(catalog_versions.c.evidence_requirements).where(
                catalog_versions.c.micro_credential_id == micro_credential_id,
                catalog_versions.c.version == version,
            ),
        )
        stored = result.scalar_one_or_none() or []
        return [
            Requirement(
                id=r["id"],
                kind=EvidenceKind(r["kind"]),
                required=bool(r["required"]),
                min_words=r.get("min_words"),
                max_words=r.get("max_words"),
            )
            for r in stored
        ]

    # -- artifacts ------------------------------------------------------------------------------

    async def add_artifact(self, artifact: Artifact) -> None:
        await execute_core(
            self._session,
            artifacts.insert().values(
                artifact_id=artifact.artifact_id,
                enrollment_id=artifact.enrollment_id,
                requirement_id=artifact.requirement_id,
                kind=artifact.kind.value,
                content_type=artifact.content_type,
                size_bytes=artifact.size_bytes,
                sha256=artifact.sha256,
                uri=artifact.uri,
                word_count=artifact.word_count,
                submission_id=artifact.submission_id,
                created_at=artifact.created_at,
            ),
        )

    async def artifact(self, artifact_id: str) -> Artifact | None:
        result = await execute_core(
            self._session, sa.select(artifacts).where(artifacts.c.artifact_id == artifact_id)
        )
        row = result.first()
        return _artifact(row) if row is not None else None

    async def drafts(self, enrollment_id: str) -> list[Artifact]:
        """The artifacts no submission has sent yet, in the order they were added."""
        result = await execute_core(
            self._session,
            sa.select(artifacts)
            .where(artifacts.c.enrollment_id == enrollment_id, artifacts.c.submission_id.is_(None))
            .order_by(artifacts.c.created_at, artifacts.c.artifact_id),
        )
        return [_artifact(row) for row in result.all()]

    async def attach(self, artifact_ids: Sequence[str], submission_id: str) -> None:
        await execute_core(
            self._session,
            artifacts.update()
            .where(artifacts.c.artifact_id.in_(artifact_ids))
            .values(submission_id=submission_id),
        )

    # -- submissions ----------------------------------------------------------------------------

    async def add_submission(self, submission: Submission) -> None:
        await execute_core(
            self._session,
            submissions.insert().values(
                submission_id=submission.submission_id,
                enrollment_id=submission.enrollment_id,
                idempotency_key=submission.idempotency_key,
                complete=submission.complete,
                attempt=submission.attempt,
                problems=[p.as_json() for p in submission.problems],
                submitted_at=submission.submitted_at,
            ),
        )

    async def submission(self, submission_id: str) -> Submission | None:
        result = await execute_core(
            self._session,
            sa.select(submissions).where(submissions.c.submission_id == submission_id),
        )
        row = result.first()
        return _submission(row) if row is not None else None

    async def submission_by_key(self, enrollment_id: str, key: str) -> Submission | None:
        result = await execute_core(
            self._session,
            sa.select(submissions).where(
                submissions.c.enrollment_id == enrollment_id,
                submissions.c.idempotency_key == key,
            ),
        )
        row = result.first()
        return _submission(row) if row is not None else None

    async def latest_complete_submission(self, enrollment_id: str) -> Submission | None:
        result = await execute_core(
            self._session,
            sa.select(submissions)
            .where(submissions.c.enrollment_id == enrollment_id, submissions.c.complete)
            .order_by(submissions.c.attempt.desc())
            .limit(1),
        )
        row = result.first()
        return _submission(row) if row is not None else None

    async def submissions_for(self, enrollment_id: str) -> list[Submission]:
        result = await execute_core(
            self._session,
            sa.select(submissions)
            .where(submissions.c.enrollment_id == enrollment_id)
            .order_by(submissions.c.submitted_at, submissions.c.submission_id),
        )
        return [_submission(row) for row in result.all()]

    async def record_decision(self, submission_id: str, decision: Decision) -> None:
        await execute_core(
            self._session,
            submissions.update()
            .where(submissions.c.submission_id == submission_id)
            .values(
                decision_id=decision.decision_id,
                outcome=decision.outcome.value,
                results=[r.model_dump(mode="json") for r in decision.results],
                decided_at=decision.decided_at,
                misconduct=decision.misconduct.value if decision.misconduct else None,
            ),
        )

    # -- review assignments (who may read a submission's evidence) -------------------------------

    async def record_assignment(self, assignment: ReviewAssignment) -> None:
        """Record an assignment (once: a redelivery changes nothing)."""
        await execute_core(
            self._session,
            pg_insert(review_assignments)
            .values(
                assignment_id=assignment.assignment_id,
                enrollment_id=assignment.enrollment_id,
                submission_id=assignment.submission_id,
                assessor_id=assignment.assessor_id,
                assigned_at=assignment.assigned_at,
            )
            .on_conflict_do_nothing(),
        )

    async def record_release(self, release: ReleasedAssignment) -> bool:
        """Record a released assignment; False if it was recorded already (a redelivery)."""
        result = await execute_core(
            self._session,
            pg_insert(released_assignments)
            .values(
                assignment_id=release.assignment_id,
                enrollment_id=release.enrollment_id,
                submission_id=release.submission_id,
                assessor_id=release.assessor_id,
                escalation_id=release.escalation_id,
                released_at=release.released_at,
            )
            .on_conflict_do_nothing(index_elements=[released_assignments.c.assignment_id])
            .returning(released_assignments.c.assignment_id),
        )
        return result.first() is not None

    async def assignments_of(
        self, submission_id: str, assessor_id: str
    ) -> tuple[list[AssessorAssignment], set[str]]:
        """The assessor's assignments of the submission, and which of them were released."""
        result = await execute_core(
            self._session,
            sa.select(
                review_assignments.c.assignment_id,
                review_assignments.c.assessor_id,
                released_assignments.c.assignment_id.label("released"),
            )
            .select_from(
                review_assignments.outerjoin(
                    released_assignments,
                    released_assignments.c.assignment_id == review_assignments.c.assignment_id,
                )
            )
            .where(
                review_assignments.c.submission_id == submission_id,
                review_assignments.c.assessor_id == assessor_id,
            ),
        )
        rows = result.all()
        return (
            [AssessorAssignment(row.assignment_id, row.assessor_id) for row in rows],
            {row.released for row in rows if row.released is not None},
        )
