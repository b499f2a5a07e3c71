"""Queries of the review database. Repositories query and write; the unit of work commits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlmodel.ext.asyncio.session import AsyncSession

from mc_events.db import execute_core, insert_once
from review.adapters.tables import (
    assessors,
    assignments,
    calibration_runs,
    catalog_versions,
    escalations,
    misconduct_cases,
    reviews,
    roster_educators,
)
from review.domain.assignment import (
    Assessor,
    CalibrationStatus,
    Qualification,
    QualificationKind,
)
from review.domain.conflicts import AssessorLinks

# One lock for every assignment decision: capacity and the "one assignment per slot" rule are
# checked and written without another transaction changing loads in between. Assignments are
# a few milliseconds each, far above the expected peak rate (tens per second statewide).
ASSIGNMENT_LOCK = 0x5EE1_A551
# Taken (without waiting) by the overdue sweep: one replica sweeps at a time, the others skip.
SWEEP_LOCK = 0x5EE1_0D0E


class ReviewStatus:
    AWAITING_ASSESSOR = "awaiting_assessor"
    IN_REVIEW = "in_review"
    AWAITING_APPROVER = "awaiting_approver"
    MISCONDUCT_HOLD = "misconduct_hold"
    DECIDED = "decided"


class AssignmentStatus:
    OPEN = "open"
    SCORED = "scored"
    RELEASED = "released"
    """Overdue and reassigned to someone else."""
    CLOSED = "closed"
    """No longer needed: the submission was decided without this rater (misconduct)."""


class CaseStatus:
    OPEN = "open"
    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"


# -- catalog read model ----------------------------------------------------------------------


async def upsert_catalog_version(session: AsyncSession, row: dict[str, Any]) -> None:
    stmt = pg_insert(catalog_versions).values(**row)
    stmt = stmt.on_conflict_do_update(
        index_elements=["micro_credential_id", "micro_credential_version"],
        set_={k: stmt.excluded[k] for k in ("competency", "rubric", "attempt_cap")},
    )
    await execute_core(session, stmt)


async def retire_catalog_version(
    session: AsyncSession, mc_id: str, version: int, at: datetime
) -> bool:
    result = await execute_core(
        session,
        sa.update(catalog_versions)
        .where(
            catalog_versions.c.micro_credential_id == mc_id,
            catalog_versions.c.micro_credential_version == version,
        )
        .values(retired_at=at),
    )
    return bool(result.rowcount)


async def catalog_competency(session: AsyncSession, mc_id: str, version: int) -> str | None:
    result = await execute_core(
        session,
        sa.select(catalog_versions.c.competency).where(
            catalog_versions.c.micro_credential_id == mc_id,
            catalog_versions.c.micro_credential_version == version,
        ),
    )
    value = result.scalar_one_or_none()
    return str(value) if value is not None else None


# -- roster read model -----------------------------------------------------------------------


async def upsert_roster(
    session: AsyncSession,
    *,
    educator_id: str,
    district_id: str,
    school_id: str | None,
    supervisor_id: str | None,
    at: datetime,
) -> None:
    stmt = pg_insert(roster_educators).values(
        educator_id=educator_id,
        district_id=district_id,
        school_id=school_id,
        supervisor_id=supervisor_id,
        updated_at=at,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["educator_id"],
        set_={
            "district_id": stmt.excluded.district_id,
            "school_id": stmt.excluded.school_id,
            "supervisor_id": stmt.excluded.supervisor_id,
            "updated_at": stmt.excluded.updated_at,
        },
    )
    await execute_core(session, stmt)


_CHAIN = sa.text(
    """
    WITH RECURSIVE chain(educator_id, supervisor_id) AS (
        SELECT educator_id, supervisor_id FROM roster_educators
         WHERE educator_id = ANY(CAST(:start AS text[]))
        UNION
        SELECT r.educator_id, r.supervisor_id
          FROM roster_educators r JOIN chain c ON r.educator_id = c.supervisor_id
    )
    SELECT educator_id, supervisor_id FROM chain
    """
)


async def supervisor_links(session: AsyncSession, start: Sequence[str]) -> dict[str, str | None]:
    """``{educator: supervisor}`` for everyone above ``start`` on the roster (UNION ends cycles)."""
    result = await execute_core(session, _CHAIN, {"start": list(start)})
    return {row.educator_id: row.supervisor_id for row in result}


# -- assessors -------------------------------------------------------------------------------


def _assessor(row: Any) -> Assessor:
    return Assessor(
        links=AssessorLinks(
            assessor_id=row.assessor_id,
            district_id=row.district_id,
            educator_id=row.educator_id,
            school_id=row.school_id,
            supervises=frozenset(row.supervises),
        ),
        qualifications=frozenset(
            Qualification(QualificationKind(q["kind"]), q["id"]) for q in row.qualifications
        ),
        calibration=CalibrationStatus(row.calibration_status),
        weekly_capacity=row.weekly_capacity,
        active=row.active,
    )


@dataclass(frozen=True)
class AssessorRecord:
    assessor: Assessor
    created_at: datetime
    updated_at: datetime


async def upsert_assessor(session: AsyncSession, assessor: Assessor, now: datetime) -> bool:
    """Create or replace an assessor; True if it was created."""
    links = assessor.links
    values = {
        "educator_id": links.educator_id,
        "district_id": links.district_id,
        "school_id": links.school_id,
        "supervises": sorted(links.supervises),
        "qualifications": [
            {"kind": q.kind.value, "id": q.id}
            for q in sorted(assessor.qualifications, key=lambda q: (q.kind, q.id))
        ],
        "calibration_status": assessor.calibration.value,
        "weekly_capacity": assessor.weekly_capacity,
        "active": assessor.active,
        "updated_at": now,
    }
    stmt = pg_insert(assessors).values(assessor_id=links.assessor_id, created_at=now, **values)
    stmt = stmt.on_conflict_do_update(index_elements=["assessor_id"], set_=values)
    result = await execute_core(
        session, stmt.returning(sa.literal_column("(xmax = 0)").label("created"))
    )
    return bool(result.scalar_one())


async def get_assessor(session: AsyncSession, assessor_id: str) -> AssessorRecord | None:
    result = await execute_core(
        session, sa.select(assessors).where(assessors.c.assessor_id == assessor_id)
    )
    row = result.one_or_none()
    return AssessorRecord(_assessor(row), row.created_at, row.updated_at) if row else None


async def list_assessors(
    session: AsyncSession, *, limit: int | None = None, offset: int = 0
) -> list[AssessorRecord]:
    """The roster by assessor id (unique: pages never overlap or skip); all without a limit."""
    stmt = sa.select(assessors).order_by(assessors.c.assessor_id).offset(offset)
    if limit is not None:
        stmt = stmt.limit(limit)
    result = await execute_core(session, stmt)
    return [AssessorRecord(_assessor(row), row.created_at, row.updated_at) for row in result]


async def assignable_assessors(session: AsyncSession) -> list[Assessor]:
    """Active, calibrated assessors (the rest are filtered again by the domain rules)."""
    result = await execute_core(
        session,
        sa.select(assessors).where(
            assessors.c.active.is_(True),
            assessors.c.calibration_status == CalibrationStatus.CALIBRATED.value,
        ),
    )
    return [_assessor(row) for row in result]


async def weekly_loads(session: AsyncSession, since: datetime) -> dict[str, int]:
    result = await execute_core(
        session,
        sa.select(assignments.c.assessor_id, sa.func.count().label("n"))
        .where(assignments.c.assigned_at >= since)
        .group_by(assignments.c.assessor_id),
    )
    return {str(row.assessor_id): int(row.n) for row in result}


# -- reviews and assignments -----------------------------------------------------------------


async def lock_assignments(session: AsyncSession) -> None:
    await execute_core(
        session, sa.select(sa.func.pg_advisory_xact_lock(sa.literal(ASSIGNMENT_LOCK)))
    )


async def insert_review(session: AsyncSession, row: dict[str, Any]) -> bool:
    """Create the review of a submission; False if it exists (a redelivered submission)."""
    stmt = (
        pg_insert(reviews)
        .values(**row)
        .on_conflict_do_nothing(index_elements=["submission_id"])
        .returning(reviews.c.submission_id)
    )
    result = await execute_core(session, stmt)
    return result.scalar_one_or_none() is not None


async def get_review(session: AsyncSession, submission_id: str) -> Any | None:
    result = await execute_core(
        session, sa.select(reviews).where(reviews.c.submission_id == submission_id)
    )
    return result.one_or_none()


async def set_review_status(session: AsyncSession, submission_id: str, status: str) -> None:
    await execute_core(
        session,
        sa.update(reviews).where(reviews.c.submission_id == submission_id).values(status=status),
    )


async def awaiting_reviews(
    session: AsyncSession, limit: int, *, micro_credential: tuple[str, int] | None = None
) -> list[str]:
    query = sa.select(reviews.c.submission_id).where(
        reviews.c.status == ReviewStatus.AWAITING_ASSESSOR
    )
    if micro_credential is not None:
        query = query.where(
            reviews.c.micro_credential_id == micro_credential[0],
            reviews.c.micro_credential_version == micro_credential[1],
        )
    result = await execute_core(
        session,
        query.order_by(
            reviews.c.submitted_at, reviews.c.received_at, reviews.c.submission_id
        ).limit(limit),
    )
    return [row[0] for row in result]


async def assignments_of(session: AsyncSession, submission_id: str) -> list[Any]:
    result = await execute_core(
        session,
        sa.select(assignments)
        .where(assignments.c.submission_id == submission_id)
        .order_by(assignments.c.slot),
    )
    return list(result)


async def insert_assignment(session: AsyncSession, row: dict[str, Any]) -> bool:
    return await insert_once(session, assignments, row)


# -- scoring ---------------------------------------------------------------------------------


async def catalog_version(session: AsyncSession, mc_id: str, version: int) -> Any | None:
    result = await execute_core(
        session,
        sa.select(catalog_versions).where(
            catalog_versions.c.micro_credential_id == mc_id,
            catalog_versions.c.micro_credential_version == version,
        ),
    )
    return result.one_or_none()


async def lock_review(session: AsyncSession, submission_id: str) -> Any | None:
    """The review row, locked until commit: two raters finishing at once decide only once."""
    result = await execute_core(
        session,
        sa.select(reviews).where(reviews.c.submission_id == submission_id).with_for_update(),
    )
    return result.one_or_none()


async def lock_review_unless_busy(session: AsyncSession, submission_id: str) -> Any | None:
    """The review row locked until commit, or None if another transaction holds it (someone
    is scoring or ruling on it right now)."""
    result = await execute_core(
        session,
        sa.select(reviews)
        .where(reviews.c.submission_id == submission_id)
        .with_for_update(skip_locked=True),
    )
    return result.one_or_none()


async def get_assignment(session: AsyncSession, assignment_id: str) -> Any | None:
    result = await execute_core(
        session, sa.select(assignments).where(assignments.c.assignment_id == assignment_id)
    )
    return result.one_or_none()


_ASSIGNMENT = sa.bindparam("p_assignment_id", type_=sa.Text)
_ASSESSOR = sa.bindparam("p_assessor_id", type_=sa.Text)
_SUBMISSION = sa.bindparam("p_submission_id", type_=sa.Text)
_MC_ID = sa.bindparam("p_micro_credential_id", type_=sa.Text)
_MC_VERSION = sa.bindparam("p_micro_credential_version", type_=sa.Integer)

_LOCK_REVIEW_OF_ASSIGNMENT = (
    sa.select(reviews)
    .where(
        reviews.c.submission_id
        == sa.select(assignments.c.submission_id)
        .where(assignments.c.assignment_id == _ASSIGNMENT, assignments.c.assessor_id == _ASSESSOR)
        .scalar_subquery()
    )
    .with_for_update()
)


async def lock_review_of_assignment(
    session: AsyncSession, assignment_id: str, assessor_id: str
) -> Any | None:
    """The review of ``assessor_id``'s assignment ``assignment_id``, locked until commit as by
    :func:`lock_review`; None (nothing locked) if there is no such assignment of theirs."""
    result = await execute_core(
        session,
        _LOCK_REVIEW_OF_ASSIGNMENT,
        {"p_assignment_id": assignment_id, "p_assessor_id": assessor_id},
    )
    return result.one_or_none()


_CATALOG_OF_SUBMISSION = catalog_versions.alias("catalog")
_ASSIGNMENTS_AND_CATALOG = (
    sa.select(
        assignments,
        _CATALOG_OF_SUBMISSION.c.rubric.label("catalog_rubric"),
        _CATALOG_OF_SUBMISSION.c.attempt_cap.label("catalog_attempt_cap"),
    )
    .select_from(
        assignments.outerjoin(
            _CATALOG_OF_SUBMISSION,
            sa.and_(
                _CATALOG_OF_SUBMISSION.c.micro_credential_id == _MC_ID,
                _CATALOG_OF_SUBMISSION.c.micro_credential_version == _MC_VERSION,
            ),
        )
    )
    .where(assignments.c.submission_id == _SUBMISSION)
    .order_by(assignments.c.slot)
)


async def assignments_and_catalog(
    session: AsyncSession, submission_id: str, mc_id: str, version: int
) -> list[Any]:
    """:func:`assignments_of` a submission, each row with the rubric and attempt cap of the
    micro-credential version (``catalog_rubric``, ``catalog_attempt_cap``; None while the
    catalog entry has not arrived)."""
    result = await execute_core(
        session,
        _ASSIGNMENTS_AND_CATALOG,
        {
            "p_submission_id": submission_id,
            "p_micro_credential_id": mc_id,
            "p_micro_credential_version": version,
        },
    )
    return list(result)


# Only an open assignment: never one the overdue sweep released meanwhile.
_SAVE_SCORES = (
    sa.update(assignments)
    .where(
        assignments.c.assignment_id == _ASSIGNMENT,
        assignments.c.status == AssignmentStatus.OPEN,
    )
    .values(
        scores=sa.bindparam("p_scores", type_=assignments.c.scores.type),
        scored_at=sa.bindparam("p_scored_at", type_=assignments.c.scored_at.type),
        status=AssignmentStatus.SCORED,
    )
    .returning(assignments.c.assignment_id)
)
_SAVED = _SAVE_SCORES.cte("saved")
_REVIEW_OF_SAVED = reviews.update().where(
    reviews.c.submission_id == _SUBMISSION,
    sa.exists(sa.select(_SAVED.c.assignment_id)),
)
_SAVE_SCORES_SET_STATUS = (
    _REVIEW_OF_SAVED.values(status=sa.bindparam("p_status", type_=sa.Text))
    .add_cte(_SAVED)
    .returning(reviews.c.submission_id)
)
_SAVE_SCORES_MARK_DECIDED = (
    _REVIEW_OF_SAVED.values(
        status=ReviewStatus.DECIDED,
        decision_id=sa.bindparam("p_decision_id", type_=sa.Text),
        outcome=sa.bindparam("p_outcome", type_=sa.Text),
        decided_at=sa.bindparam("p_decided_at", type_=reviews.c.decided_at.type),
        results=sa.bindparam("p_results", type_=reviews.c.results.type),
    )
    .add_cte(_SAVED)
    .returning(reviews.c.submission_id)
)


async def save_scores(
    session: AsyncSession, assignment_id: str, scores: list[dict[str, str]], at: datetime
) -> bool:
    """Save a rater's scores; False if the assignment is not open."""
    result = await execute_core(
        session,
        _SAVE_SCORES,
        {"p_assignment_id": assignment_id, "p_scores": scores, "p_scored_at": at},
    )
    return result.first() is not None


async def save_scores_and_set_status(
    session: AsyncSession,
    assignment_id: str,
    scores: list[dict[str, str]],
    at: datetime,
    *,
    submission_id: str,
    status: str,
) -> bool:
    """:func:`save_scores` and, only if they were saved, :func:`set_review_status` of the
    (locked) review, in one statement."""
    result = await execute_core(
        session,
        _SAVE_SCORES_SET_STATUS,
        {
            "p_assignment_id": assignment_id,
            "p_scores": scores,
            "p_scored_at": at,
            "p_submission_id": submission_id,
            "p_status": status,
        },
    )
    return result.first() is not None


async def save_scores_and_mark_decided(
    session: AsyncSession,
    assignment_id: str,
    scores: list[dict[str, str]],
    at: datetime,
    *,
    submission_id: str,
    decision_id: str,
    outcome: str,
    results: list[dict[str, Any]],
) -> bool:
    """:func:`save_scores` and, only if they were saved, :func:`mark_decided` of the (locked)
    review at the same time ``at``, in one statement."""
    result = await execute_core(
        session,
        _SAVE_SCORES_MARK_DECIDED,
        {
            "p_assignment_id": assignment_id,
            "p_scores": scores,
            "p_scored_at": at,
            "p_submission_id": submission_id,
            "p_decision_id": decision_id,
            "p_outcome": outcome,
            "p_decided_at": at,
            "p_results": results,
        },
    )
    return result.first() is not None


async def assignments_for_assessor(session: AsyncSession, assessor_id: str) -> list[Any]:
    """An assessor's assignments with what the blind view may show (no educator columns)."""
    query = (
        sa.select(
            assignments.c.assignment_id,
            assignments.c.role,
            assignments.c.status,
            assignments.c.assigned_at,
            assignments.c.due_at,
            assignments.c.scores,
            reviews.c.attempt,
            reviews.c.micro_credential_id,
            reviews.c.micro_credential_version,
            reviews.c.artifacts,
            catalog_versions.c.rubric,
        )
        .join(reviews, reviews.c.submission_id == assignments.c.submission_id)
        .outerjoin(
            catalog_versions,
            sa.and_(
                catalog_versions.c.micro_credential_id == reviews.c.micro_credential_id,
                catalog_versions.c.micro_credential_version == reviews.c.micro_credential_version,
            ),
        )
        .where(assignments.c.assessor_id == assessor_id)
        .order_by(assignments.c.due_at, assignments.c.assignment_id)
    )
    return list(await execute_core(session, query))


async def reviews_awaiting_approver(session: AsyncSession, limit: int) -> list[Any]:
    result = await execute_core(
        session,
        sa.select(reviews)
        .where(reviews.c.status == ReviewStatus.AWAITING_APPROVER)
        .order_by(reviews.c.submitted_at, reviews.c.submission_id)
        .limit(limit),
    )
    return list(result)


async def mark_decided(
    session: AsyncSession,
    submission_id: str,
    *,
    decision_id: str,
    outcome: str,
    at: datetime,
    results: list[dict[str, Any]] | None = None,
) -> None:
    await execute_core(
        session,
        sa.update(reviews)
        .where(reviews.c.submission_id == submission_id)
        .values(
            status=ReviewStatus.DECIDED,
            decision_id=decision_id,
            outcome=outcome,
            decided_at=at,
            results=results,
        ),
    )


# -- overdue assignments and escalations -----------------------------------------------------


async def try_lock_sweep(session: AsyncSession) -> bool:
    result = await execute_core(
        session, sa.select(sa.func.pg_try_advisory_xact_lock(sa.literal(SWEEP_LOCK)))
    )
    return bool(result.scalar_one())


async def overdue_assignments(session: AsyncSession, now: datetime, limit: int) -> list[Any]:
    """Open rater assignments past due on reviews still being rated, locked (``SKIP LOCKED``),
    never escalated ones first, then the longest overdue; each with its escalation id if any."""
    query = (
        sa.select(assignments, escalations.c.escalation_id)
        .join(reviews, reviews.c.submission_id == assignments.c.submission_id)
        .outerjoin(escalations, escalations.c.assignment_id == assignments.c.assignment_id)
        .where(
            assignments.c.status == AssignmentStatus.OPEN,
            assignments.c.role == "rater",
            assignments.c.due_at < now,
            reviews.c.status.in_([ReviewStatus.AWAITING_ASSESSOR, ReviewStatus.IN_REVIEW]),
        )
        .order_by(
            escalations.c.escalation_id.is_not(None),
            assignments.c.due_at,
            assignments.c.assignment_id,
        )
        .limit(limit)
        .with_for_update(of=assignments, skip_locked=True)
    )
    return list(await execute_core(session, query))


async def release_assignment(session: AsyncSession, assignment_id: str, at: datetime) -> None:
    await execute_core(
        session,
        sa.update(assignments)
        .where(assignments.c.assignment_id == assignment_id)
        .values(status=AssignmentStatus.RELEASED, released_at=at),
    )


async def insert_escalation(session: AsyncSession, row: dict[str, Any]) -> bool:
    return await insert_once(session, escalations, row)


async def record_late_reassignment(
    session: AsyncSession, escalation_id: str, *, assignment_id: str, assessor_id: str, at: datetime
) -> bool:
    """Record who finally took an escalated assignment; False if that was recorded already."""
    result = await execute_core(
        session,
        sa.update(escalations)
        .where(
            escalations.c.escalation_id == escalation_id,
            escalations.c.reassigned_assignment_id.is_(None),
        )
        .values(
            reassigned_assignment_id=assignment_id, reassigned_to=assessor_id, reassigned_at=at
        ),
    )
    return bool(result.rowcount)


async def escalations_of(session: AsyncSession, submission_id: str) -> list[Any]:
    result = await execute_core(
        session,
        sa.select(escalations)
        .where(escalations.c.submission_id == submission_id)
        .order_by(escalations.c.escalated_at, escalations.c.escalation_id),
    )
    return list(result)


async def close_open_assignments(session: AsyncSession, submission_id: str) -> None:
    await execute_core(
        session,
        sa.update(assignments)
        .where(
            assignments.c.submission_id == submission_id,
            assignments.c.status == AssignmentStatus.OPEN,
        )
        .values(status=AssignmentStatus.CLOSED),
    )


async def extend_open_assignments(session: AsyncSession, submission_id: str, by: timedelta) -> None:
    await execute_core(
        session,
        sa.update(assignments)
        .where(
            assignments.c.submission_id == submission_id,
            assignments.c.status == AssignmentStatus.OPEN,
        )
        .values(due_at=assignments.c.due_at + by),
    )


# -- misconduct ------------------------------------------------------------------------------


async def insert_case(session: AsyncSession, row: dict[str, Any]) -> None:
    await execute_core(session, sa.insert(misconduct_cases).values(**row))


async def cases_of(session: AsyncSession, submission_id: str) -> list[Any]:
    result = await execute_core(
        session,
        sa.select(misconduct_cases)
        .where(misconduct_cases.c.submission_id == submission_id)
        .order_by(misconduct_cases.c.flagged_at, misconduct_cases.c.case_id),
    )
    return list(result)


async def lock_case(session: AsyncSession, case_id: str) -> Any | None:
    result = await execute_core(
        session,
        sa.select(misconduct_cases).where(misconduct_cases.c.case_id == case_id).with_for_update(),
    )
    return result.one_or_none()


async def open_cases(session: AsyncSession, limit: int) -> list[Any]:
    result = await execute_core(
        session,
        sa.select(misconduct_cases)
        .where(misconduct_cases.c.status == CaseStatus.OPEN)
        .order_by(misconduct_cases.c.flagged_at, misconduct_cases.c.case_id)
        .limit(limit),
    )
    return list(result)


async def resolve_case(
    session: AsyncSession,
    case_id: str,
    *,
    status: str,
    resolved_by: str,
    at: datetime,
    finding: str,
    effect: str,
) -> None:
    await execute_core(
        session,
        sa.update(misconduct_cases)
        .where(misconduct_cases.c.case_id == case_id)
        .values(
            status=status, resolved_by=resolved_by, resolved_at=at, finding=finding, effect=effect
        ),
    )


# -- calibration -----------------------------------------------------------------------------


async def insert_calibration_run(session: AsyncSession, row: dict[str, Any]) -> None:
    await execute_core(session, sa.insert(calibration_runs).values(**row))


async def set_calibration_status(session: AsyncSession, assessor_id: str, value: str) -> None:
    await execute_core(
        session,
        sa.update(assessors)
        .where(assessors.c.assessor_id == assessor_id)
        .values(calibration_status=value),
    )


async def calibration_history(session: AsyncSession, assessor_id: str) -> list[Any]:
    result = await execute_core(
        session,
        sa.select(calibration_runs)
        .where(calibration_runs.c.assessor_id == assessor_id)
        .order_by(calibration_runs.c.recorded_at, calibration_runs.c.seq),
    )
    return list(result)


async def calibration_runs_between(
    session: AsyncSession,
    *,
    since: datetime | None,
    until: datetime | None,
    assessor_id: str | None,
    limit: int,
) -> list[Any]:
    """Calibration runs in ``[since, until)``, in recording order (the drift report)."""
    query = sa.select(calibration_runs)
    if since is not None:
        query = query.where(calibration_runs.c.recorded_at >= since)
    if until is not None:
        query = query.where(calibration_runs.c.recorded_at < until)
    if assessor_id is not None:
        query = query.where(calibration_runs.c.assessor_id == assessor_id)
    result = await execute_core(
        session,
        query.order_by(calibration_runs.c.recorded_at, calibration_runs.c.seq).limit(limit),
    )
    return list(result)
