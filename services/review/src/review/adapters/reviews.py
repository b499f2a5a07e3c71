"""Reviews: the :class:`~review.domain.review.Review` aggregate in and out of the database, and
the queries that list reviews and assignments.

:meth:`ReviewRepository.get` loads a review with its assignments (each with its escalation),
and its misconduct cases when the command needs them; :meth:`ReviewRepository.save` writes
what changed since it was loaded. Scoring is the hot path: a rater's scores cost three
statements (the review locked through the assessor's assignment, its assignments and rubric
read under that lock, the scores saved with the review's new state in one statement).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from enum import Enum
from functools import cache
from typing import Any, TypeVar, get_args, get_type_hints

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlmodel.ext.asyncio.session import AsyncSession

from mc_events.contracts.enrollment import ArtifactRef
from mc_events.contracts.review import AssessorRole
from mc_events.db import execute_core, insert_once
from review.adapters.read_models import rubric_of
from review.adapters.tables import (
    assignments,
    catalog_versions,
    escalations,
    misconduct_cases,
    reviews,
)
from review.domain.conflicts import EducatorFacts
from review.domain.refusals import WrongState
from review.domain.review import (
    Assignment,
    AssignmentStatus,
    CaseStatus,
    Escalation,
    KeptResult,
    MisconductCase,
    Review,
    ReviewStatus,
)
from review.domain.scoring import Criterion, Rubric, Score

# One lock for every assignment decision: capacity and the "one assignment per slot" rule are
# checked and written without another transaction changing loads in between. Assignments are
# a few milliseconds each, far above the expected peak rate (tens per second statewide).
ASSIGNMENT_LOCK = 0x5EE1_A551
# Taken (without waiting) by the overdue sweep: one replica sweeps at a time, the others skip.
SWEEP_LOCK = 0x5EE1_0D0E

Row = dict[str, Any]


@dataclass(frozen=True)
class OverdueAssignment:
    assignment_id: str
    submission_id: str


@dataclass(frozen=True)
class AssessorAssignment:
    """One of an assessor's assignments with what the blind view may show (no educator)."""

    assignment_id: str
    role: AssessorRole
    status: AssignmentStatus
    assigned_at: datetime
    due_at: datetime
    scores: dict[str, Score] | None
    attempt: int
    micro_credential_id: str
    micro_credential_version: int
    artifacts: tuple[ArtifactRef, ...]
    rubric: tuple[Criterion, ...] | None


# -- rows <-> domain --------------------------------------------------------------------------


def _scores(stored: Any) -> dict[str, Score] | None:
    if stored is None:
        return None
    return {s["criterion_id"]: Score(s["level_id"], s["feedback"]) for s in stored}


def _stored_scores(scores: Mapping[str, Score]) -> list[dict[str, str]]:
    return [
        {"criterion_id": k, "level_id": v.level_id, "feedback": v.feedback}
        for k, v in sorted(scores.items())
    ]


def _artifacts(stored: Any) -> tuple[ArtifactRef, ...]:
    return tuple(ArtifactRef.model_validate(a) for a in stored)


E = TypeVar("E")


def _enum_fields(cls: type) -> dict[str, type[Enum]]:
    """The fields of dataclass ``cls`` that hold an enum (or None), with the enum."""
    found: dict[str, type[Enum]] = {}
    for name, hint in get_type_hints(cls).items():
        for option in (hint, *get_args(hint)):
            if isinstance(option, type) and issubclass(option, Enum):
                found[name] = option
    return found


_ENUM_FIELDS: dict[type, dict[str, type[Enum]]] = {
    cls: _enum_fields(cls) for cls in (Review, Assignment, Escalation, MisconductCase)
}


def _entity(cls: type[E], row: Mapping[str, Any], prefix: str = "", **given: Any) -> E:
    """A ``cls`` from the same-named columns of ``row`` (``prefix``-ed), enums parsed from
    their values; the fields ``given`` as they are."""
    enums = _ENUM_FIELDS[cls]
    values = dict(given)
    for f in fields(cls):  # type: ignore[arg-type]
        key = prefix + f.name
        if f.name in given or key not in row:
            continue
        value = row[key]
        values[f.name] = enums[f.name](value) if f.name in enums and value is not None else value
    return cls(**values)


def _row(entity: Any, table: sa.Table, **given: Any) -> Row:
    """``table``'s columns from the same-named fields of ``entity`` (enums as their values);
    the columns ``given`` as they are."""
    row = dict(given)
    for column in table.c:
        if column.name not in given and hasattr(entity, column.name):
            value = getattr(entity, column.name)
            row[column.name] = value.value if isinstance(value, Enum) else value
    return row


def _review(row: Any, held: list[Assignment], cases: list[MisconductCase] | None) -> Review:
    return _entity(
        Review,
        row._mapping,
        educator=EducatorFacts(row.educator_id, row.district_id, row.school_id, row.supervisor_id),
        artifacts=_artifacts(row.artifacts),
        results=None
        if row.results is None
        else tuple(KeptResult(r["criterion_id"], r["level_id"], r["met"]) for r in row.results),
        assignments=held,
        loaded_cases=cases,
    )


def _review_row(review: Review) -> Row:
    educator = review.educator
    return _row(
        review,
        reviews,
        educator_id=educator.educator_id,
        district_id=educator.district_id,
        school_id=educator.school_id,
        supervisor_id=educator.supervisor_id,
        artifacts=[a.model_dump(mode="json") for a in review.artifacts],
    ) | _review_state(review)


_DECISION_COLUMNS = ("status", "decision_id", "outcome", "decided_at", "results")
"""What changes on a review's row (the rest is the submission's, fixed). Written together
when a review is decided: its results as they are (JSON ``null`` when a misconduct decision
credits nothing, as review has always stored it)."""


def _review_state(review: Review) -> Row:
    """The columns of a review's row that change (:data:`_DECISION_COLUMNS`)."""
    return {
        "status": review.status.value,
        "decision_id": review.decision_id,
        "outcome": review.outcome.value if review.outcome is not None else None,
        "decided_at": review.decided_at,
        "results": None
        if review.results is None
        else [
            {"criterion_id": r.criterion_id, "level_id": r.level_id, "met": r.met}
            for r in review.results
        ],
    }


_ESCALATION_PREFIX = "escalation_"
_ESCALATION_COLUMNS = [c.label(f"{_ESCALATION_PREFIX}{c.name}") for c in escalations.c]


def _assignment(row: Any) -> Assignment:
    columns = row._mapping
    escalation = None
    if columns[f"{_ESCALATION_PREFIX}escalation_id"] is not None:
        escalation = _entity(Escalation, columns, _ESCALATION_PREFIX)
    return _entity(Assignment, columns, scores=_scores(row.scores), escalation=escalation)


def _assignment_row(a: Assignment) -> Row:
    return _row(a, assignments, scores=None if a.scores is None else _stored_scores(a.scores))


def _escalation_row(e: Escalation) -> Row:
    return _row(e, escalations)


def _case(row: Any) -> MisconductCase:
    return _entity(MisconductCase, row._mapping)


def _case_row(c: MisconductCase) -> Row:
    return _row(c, misconduct_cases)


def _new(row: Row) -> Row:
    """A row to insert: columns without a value are left to the table (SQL NULL, also for JSON
    columns, where a bound None would be JSON ``null``)."""
    return {k: v for k, v in row.items() if v is not None}


def _changes(before: Row, after: Row) -> Row:
    return {k: v for k, v in after.items() if before.get(k) != v}


@dataclass
class _Persisted:
    """A review's rows as they are in the database (what :meth:`ReviewRepository.save` diffs)."""

    review: Row
    """Only the columns that change (:func:`_review_state`)."""
    assignments: dict[str, Row]
    escalations: dict[str, Row]
    cases: dict[str, Row] | None


def _persisted(review: Review) -> _Persisted:
    return _Persisted(
        review=_review_state(review),
        assignments={a.assignment_id: _assignment_row(a) for a in review.assignments},
        escalations={
            a.escalation.escalation_id: _escalation_row(a.escalation)
            for a in review.assignments
            if a.escalation is not None
        },
        cases=None
        if review.loaded_cases is None
        else {c.case_id: _case_row(c) for c in review.loaded_cases},
    )


# -- statements -------------------------------------------------------------------------------

_ASSIGNMENT = sa.bindparam("p_assignment_id", type_=sa.Text)
_ASSESSOR = sa.bindparam("p_assessor_id", type_=sa.Text)
_SUBMISSION = sa.bindparam("p_submission_id", type_=sa.Text)
_MC_ID = sa.bindparam("p_micro_credential_id", type_=sa.Text)
_MC_VERSION = sa.bindparam("p_micro_credential_version", type_=sa.Integer)

_SUBMISSION_OF_ASSIGNMENT = (
    sa.select(assignments.c.submission_id)
    .where(assignments.c.assignment_id == _ASSIGNMENT, assignments.c.assessor_id == _ASSESSOR)
    .scalar_subquery()
)
_LOCK_REVIEW_OF_ASSIGNMENT = (
    sa.select(reviews).where(reviews.c.submission_id == _SUBMISSION_OF_ASSIGNMENT).with_for_update()
)

_WITH_ESCALATIONS = assignments.outerjoin(
    escalations, escalations.c.assignment_id == assignments.c.assignment_id
)
_ASSIGNMENTS = (
    sa.select(assignments, *_ESCALATION_COLUMNS)
    .select_from(_WITH_ESCALATIONS)
    .where(assignments.c.submission_id == _SUBMISSION)
    .order_by(assignments.c.slot, assignments.c.generation)
)
_CATALOG_OF_SUBMISSION = catalog_versions.alias("catalog")
_ASSIGNMENTS_AND_CATALOG = (
    sa.select(
        assignments,
        *_ESCALATION_COLUMNS,
        _CATALOG_OF_SUBMISSION.c.rubric.label("catalog_rubric"),
        _CATALOG_OF_SUBMISSION.c.attempt_cap.label("catalog_attempt_cap"),
    )
    .select_from(
        _WITH_ESCALATIONS.outerjoin(
            _CATALOG_OF_SUBMISSION,
            sa.and_(
                _CATALOG_OF_SUBMISSION.c.micro_credential_id == _MC_ID,
                _CATALOG_OF_SUBMISSION.c.micro_credential_version == _MC_VERSION,
            ),
        )
    )
    .where(assignments.c.submission_id == _SUBMISSION)
    .order_by(assignments.c.slot, assignments.c.generation)
)
_CASES = (
    sa.select(misconduct_cases)
    .where(misconduct_cases.c.submission_id == _SUBMISSION)
    .order_by(misconduct_cases.c.flagged_at, misconduct_cases.c.case_id)
)


class ReviewRepository:
    """Reviews of one transaction. A review is saved by the repository that loaded (or added)
    it; loading it again replaces what :meth:`save` compares with."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._persisted: dict[str, _Persisted] = {}

    # -- locks --------------------------------------------------------------------------------

    async def lock_assignments(self) -> None:
        """The lock every assignment decision holds until commit."""
        await execute_core(
            self._session, sa.select(sa.func.pg_advisory_xact_lock(sa.literal(ASSIGNMENT_LOCK)))
        )

    async def try_lock_sweep(self) -> bool:
        """The overdue sweep's lock, without waiting: False if another sweep holds it."""
        result = await execute_core(
            self._session, sa.select(sa.func.pg_try_advisory_xact_lock(sa.literal(SWEEP_LOCK)))
        )
        return bool(result.scalar_one())

    # -- the aggregate ------------------------------------------------------------------------

    async def add(self, review: Review) -> bool:
        """Store a new review; False (nothing stored) if its submission has one already (a
        redelivered submission)."""
        row = _review_row(review)
        stmt = (
            pg_insert(reviews)
            .values(**_new(row))
            .on_conflict_do_nothing(index_elements=["submission_id"])
            .returning(reviews.c.submission_id)
        )
        created = (await execute_core(self._session, stmt)).scalar_one_or_none() is not None
        if created:
            # Only its row so far: whatever else it holds is written by :meth:`save`.
            self._persisted[review.submission_id] = _Persisted(_review_state(review), {}, {}, {})
        return created

    async def get(
        self,
        submission_id: str,
        *,
        for_update: bool = False,
        skip_locked: bool = False,
        with_cases: bool = False,
    ) -> Review | None:
        """The review of a submission with its assignments (and misconduct cases if asked),
        the review row locked until commit ``for_update``; ``skip_locked``: None if another
        transaction holds it."""
        query = sa.select(reviews).where(reviews.c.submission_id == submission_id)
        if for_update or skip_locked:
            query = query.with_for_update(skip_locked=skip_locked)
        row = (await execute_core(self._session, query)).one_or_none()
        if row is None:
            return None
        held = await self._assignments(submission_id)
        cases = await self._cases(submission_id) if with_cases else None
        return self._loaded(_review(row, held, cases))

    async def get_for_scoring(
        self, assignment_id: str, assessor_id: str
    ) -> tuple[Review, Rubric | None] | None:
        """The review of ``assessor_id``'s assignment ``assignment_id``, locked until commit,
        with its assignments and the rubric of its micro-credential version (None while the
        catalog entry has not arrived); None (nothing locked) if there is no such assignment of
        theirs. Two statements: the assignments are read under the review's lock."""
        row = (
            await execute_core(
                self._session,
                _LOCK_REVIEW_OF_ASSIGNMENT,
                {"p_assignment_id": assignment_id, "p_assessor_id": assessor_id},
            )
        ).one_or_none()
        if row is None:
            return None
        rows = list(
            await execute_core(
                self._session,
                _ASSIGNMENTS_AND_CATALOG,
                {
                    "p_submission_id": row.submission_id,
                    "p_micro_credential_id": row.micro_credential_id,
                    "p_micro_credential_version": row.micro_credential_version,
                },
            )
        )
        catalog = rows[0]
        rubric = (
            None
            if catalog.catalog_rubric is None
            else rubric_of(catalog.catalog_rubric, catalog.catalog_attempt_cap)
        )
        return self._loaded(_review(row, [_assignment(r) for r in rows], None)), rubric

    async def submission_of_assignment(self, assignment_id: str, assessor_id: str) -> str | None:
        """The submission of ``assessor_id``'s assignment ``assignment_id`` (nothing locked)."""
        result = await execute_core(
            self._session,
            sa.select(assignments.c.submission_id).where(
                assignments.c.assignment_id == assignment_id,
                assignments.c.assessor_id == assessor_id,
            ),
        )
        return result.scalar_one_or_none()

    async def submission_of_case(self, case_id: str) -> str | None:
        """The submission of a misconduct case, the case row locked until commit."""
        result = await execute_core(
            self._session,
            sa.select(misconduct_cases.c.submission_id)
            .where(misconduct_cases.c.case_id == case_id)
            .with_for_update(),
        )
        return result.scalar_one_or_none()

    async def save(self, review: Review) -> None:
        """Write what changed since the review was loaded (or added): its row, its assignments
        (an assignment is only updated as it was loaded, else :class:`WrongState`), their
        escalations and its misconduct cases. New assignments, escalations and cases are
        inserted; one that is there already is a bug (raised), never a second event."""
        before = self._persisted[review.submission_id]
        after = _persisted(review)
        changed = _changes(before.review, after.review)
        if "decision_id" in changed:
            changed |= {k: after.review[k] for k in _DECISION_COLUMNS}
        updated = [
            (before.assignments[key], _changes(before.assignments[key], row))
            for key, row in after.assignments.items()
            if key in before.assignments and before.assignments[key] != row
        ]
        if changed and len(updated) == 1:
            await self._save_assignment_and_review(review, *updated[0], changed)
        else:
            if changed:
                await execute_core(
                    self._session,
                    sa.update(reviews)
                    .where(reviews.c.submission_id == review.submission_id)
                    .values(**changed),
                )
            for loaded, changes in updated:
                await self._update_assignment(loaded, changes)
        for key, row in after.assignments.items():
            if key not in before.assignments:
                await self._insert(assignments, row)
        await self._write(escalations, "escalation_id", before.escalations, after.escalations)
        await self._write(misconduct_cases, "case_id", before.cases or {}, after.cases or {})
        self._persisted[review.submission_id] = after

    # -- queries ------------------------------------------------------------------------------

    async def awaiting_assessor(
        self, limit: int, *, micro_credential: tuple[str, int] | None = None
    ) -> list[str]:
        """The oldest reviews waiting for an assessor (all, or one micro-credential
        version's)."""
        query = sa.select(reviews.c.submission_id).where(
            reviews.c.status == ReviewStatus.AWAITING_ASSESSOR.value
        )
        if micro_credential is not None:
            query = query.where(
                reviews.c.micro_credential_id == micro_credential[0],
                reviews.c.micro_credential_version == micro_credential[1],
            )
        result = await execute_core(
            self._session,
            query.order_by(
                reviews.c.submitted_at, reviews.c.received_at, reviews.c.submission_id
            ).limit(limit),
        )
        return [str(row[0]) for row in result]

    async def awaiting_approver(self, limit: int) -> list[Review]:
        """The oldest reviews whose raters disagreed, with their assignments."""
        result = await execute_core(
            self._session,
            sa.select(reviews)
            .where(reviews.c.status == ReviewStatus.AWAITING_APPROVER.value)
            .order_by(reviews.c.submitted_at, reviews.c.submission_id)
            .limit(limit),
        )
        return [
            self._loaded(_review(row, await self._assignments(row.submission_id), None))
            for row in list(result)
        ]

    async def overdue(self, now: datetime, limit: int) -> list[OverdueAssignment]:
        """Open rater assignments past due on reviews still being rated, locked (``SKIP
        LOCKED``), never escalated ones first, then the longest overdue."""
        query = (
            sa.select(assignments.c.assignment_id, assignments.c.submission_id)
            .join(reviews, reviews.c.submission_id == assignments.c.submission_id)
            .outerjoin(escalations, escalations.c.assignment_id == assignments.c.assignment_id)
            .where(
                assignments.c.status == AssignmentStatus.OPEN.value,
                assignments.c.role == AssessorRole.RATER.value,
                assignments.c.due_at < now,
                reviews.c.status.in_(
                    [ReviewStatus.AWAITING_ASSESSOR.value, ReviewStatus.IN_REVIEW.value]
                ),
            )
            .order_by(
                escalations.c.escalation_id.is_not(None),
                assignments.c.due_at,
                assignments.c.assignment_id,
            )
            .limit(limit)
            .with_for_update(of=assignments, skip_locked=True)
        )
        return [
            OverdueAssignment(row.assignment_id, row.submission_id)
            for row in await execute_core(self._session, query)
        ]

    async def open_cases(self, limit: int) -> list[MisconductCase]:
        """The oldest misconduct cases waiting for a ruling."""
        result = await execute_core(
            self._session,
            sa.select(misconduct_cases)
            .where(misconduct_cases.c.status == CaseStatus.OPEN.value)
            .order_by(misconduct_cases.c.flagged_at, misconduct_cases.c.case_id)
            .limit(limit),
        )
        return [_case(row) for row in result]

    async def assignments_of_assessor(self, assessor_id: str) -> list[AssessorAssignment]:
        """An assessor's assignments, soonest due first, as the blind view shows them."""
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
                catalog_versions.c.attempt_cap,
            )
            .join(reviews, reviews.c.submission_id == assignments.c.submission_id)
            .outerjoin(
                catalog_versions,
                sa.and_(
                    catalog_versions.c.micro_credential_id == reviews.c.micro_credential_id,
                    catalog_versions.c.micro_credential_version
                    == reviews.c.micro_credential_version,
                ),
            )
            .where(assignments.c.assessor_id == assessor_id)
            .order_by(assignments.c.due_at, assignments.c.assignment_id)
        )
        return [
            AssessorAssignment(
                assignment_id=r.assignment_id,
                role=AssessorRole(r.role),
                status=AssignmentStatus(r.status),
                assigned_at=r.assigned_at,
                due_at=r.due_at,
                scores=_scores(r.scores),
                attempt=r.attempt,
                micro_credential_id=r.micro_credential_id,
                micro_credential_version=r.micro_credential_version,
                artifacts=_artifacts(r.artifacts),
                rubric=None if r.rubric is None else rubric_of(r.rubric, r.attempt_cap).criteria,
            )
            for r in await execute_core(self._session, query)
        ]

    # -- helpers ------------------------------------------------------------------------------

    def _loaded(self, review: Review) -> Review:
        self._persisted[review.submission_id] = _persisted(review)
        return review

    async def _assignments(self, submission_id: str) -> list[Assignment]:
        result = await execute_core(self._session, _ASSIGNMENTS, {"p_submission_id": submission_id})
        return [_assignment(row) for row in result]

    async def _cases(self, submission_id: str) -> list[MisconductCase]:
        result = await execute_core(self._session, _CASES, {"p_submission_id": submission_id})
        return [_case(row) for row in result]

    async def _insert(self, table: sa.Table, row: Row) -> None:
        """Insert a new row; one that is there already is a bug, never published twice."""
        if not await insert_once(self._session, table, _new(row)):
            raise RuntimeError(f"{table.name}: {row} is there already")

    async def _write(
        self, table: sa.Table, key: str, before: dict[str, Row], after: dict[str, Row]
    ) -> None:
        """Insert the rows (by ``key``) that are new, update those that changed."""
        for value, row in after.items():
            if value not in before:
                await self._insert(table, row)
            elif before[value] != row:
                await execute_core(
                    self._session,
                    sa.update(table)
                    .where(table.c[key] == value)
                    .values(**_changes(before[value], row)),
                )

    async def _update_assignment(self, loaded: Row, changes: Row) -> None:
        """Update an assignment as it was loaded (its status unchanged meanwhile)."""
        statement = _guarded(tuple(changes))
        if (await execute_core(self._session, statement, _params(loaded, changes))).first() is None:
            raise _no_longer_open()

    async def _save_assignment_and_review(
        self, review: Review, loaded: Row, changes: Row, review_changes: Row
    ) -> None:
        """One assignment and its review in one statement (a rater's scores and the review's
        new status or decision): the review only if the assignment was still as loaded."""
        statement = _guarded_with_review(tuple(changes), tuple(review_changes))
        params = _params(loaded, changes) | {f"r_{k}": v for k, v in review_changes.items()}
        params["r_submission_id"] = review.submission_id
        if (await execute_core(self._session, statement, params)).first() is None:
            raise _no_longer_open()


# The statements that save an assignment (with its review), built once per set of changed
# columns: scoring, the hot path, runs the same few again and again.


def _params(loaded: Row, changes: Row) -> Row:
    return {f"a_{k}": v for k, v in changes.items()} | {
        "a_assignment_id": loaded["assignment_id"],
        "a_loaded_status": loaded["status"],
    }


def _set(table: sa.Table, prefix: str, columns: tuple[str, ...]) -> dict[str, Any]:
    return {c: sa.bindparam(f"{prefix}{c}", type_=table.c[c].type) for c in columns}


@cache
def _guarded(columns: tuple[str, ...]) -> sa.Update:
    """Update an assignment only while its status is the one it was loaded with."""
    return (
        sa.update(assignments)
        .where(
            assignments.c.assignment_id == sa.bindparam("a_assignment_id", type_=sa.Text),
            assignments.c.status == sa.bindparam("a_loaded_status", type_=sa.Text),
        )
        .values(_set(assignments, "a_", columns))
        .returning(assignments.c.assignment_id)
    )


@cache
def _guarded_with_review(columns: tuple[str, ...], review_columns: tuple[str, ...]) -> sa.Update:
    """:func:`_guarded` and, only if the assignment was updated, its review."""
    saved = _guarded(columns).cte("saved")
    return (
        sa.update(reviews)
        .where(
            reviews.c.submission_id == sa.bindparam("r_submission_id", type_=sa.Text),
            sa.exists(sa.select(saved.c.assignment_id)),
        )
        .values(_set(reviews, "r_", review_columns))
        .add_cte(saved)
        .returning(reviews.c.submission_id)
    )


def _no_longer_open() -> WrongState:
    return WrongState("this assignment is no longer open")
