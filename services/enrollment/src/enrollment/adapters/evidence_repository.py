"""Artifacts and submissions: queries and writes, never commits."""

from __future__ import annotations

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
from enrollment.domain.evidence import AssessorAssignment, Requirement
from mc_events.contracts.common import EvidenceKind
from mc_events.db import execute_core


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

    async def add_artifact(self, values: dict[str, Any]) -> None:
        await execute_core(self._session, artifacts.insert().values(values))

    async def drafts(self, enrollment_id: str) -> list[Any]:
        result = await execute_core(
            self._session,
            sa.select(artifacts)
            .where(artifacts.c.enrollment_id == enrollment_id, artifacts.c.submission_id.is_(None))
            .order_by(artifacts.c.created_at, artifacts.c.artifact_id),
        )
        return list(result.all())

    async def attach(self, artifact_ids: list[str], submission_id: str) -> None:
        await execute_core(
            self._session,
            artifacts.update()
            .where(artifacts.c.artifact_id.in_(artifact_ids))
            .values(submission_id=submission_id),
        )

    async def submission_by_key(self, enrollment_id: str, key: str) -> Any | None:
        result = await execute_core(
            self._session,
            sa.select(submissions).where(
                submissions.c.enrollment_id == enrollment_id,
                submissions.c.idempotency_key == key,
            ),
        )
        return result.first()

    async def add_submission(self, values: dict[str, Any]) -> None:
        await execute_core(self._session, submissions.insert().values(values))

    async def submission(self, submission_id: str) -> Any | None:
        result = await execute_core(
            self._session,
            sa.select(submissions).where(submissions.c.submission_id == submission_id),
        )
        return result.first()

    async def latest_complete_submission(self, enrollment_id: str) -> Any | None:
        result = await execute_core(
            self._session,
            sa.select(submissions)
            .where(submissions.c.enrollment_id == enrollment_id, submissions.c.complete)
            .order_by(submissions.c.attempt.desc())
            .limit(1),
        )
        return result.first()

    async def record_decision(self, submission_id: str, values: dict[str, Any]) -> None:
        await execute_core(
            self._session,
            submissions.update().where(submissions.c.submission_id == submission_id).values(values),
        )

    async def submissions_for(self, enrollment_id: str) -> list[Any]:
        result = await execute_core(
            self._session,
            sa.select(submissions)
            .where(submissions.c.enrollment_id == enrollment_id)
            .order_by(submissions.c.submitted_at, submissions.c.submission_id),
        )
        return list(result.all())

    async def artifact(self, artifact_id: str) -> Any | None:
        result = await execute_core(
            self._session, sa.select(artifacts).where(artifacts.c.artifact_id == artifact_id)
        )
        return result.first()

    async def record_assignment(self, values: dict[str, Any]) -> None:
        await execute_core(
            self._session,
            pg_insert(review_assignments).values(values).on_conflict_do_nothing(),
        )

    async def record_release(self, values: dict[str, Any]) -> bool:
        """Record a released assignment; False if it was recorded already (a redelivery)."""
        result = await execute_core(
            self._session,
            pg_insert(released_assignments)
            .values(values)
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
