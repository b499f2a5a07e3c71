"""Catalog read model, enrollments and their deadline reminders: queries and writes, never
commits (the unit of work does)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from enrollment.adapters.tables import catalog_versions, deadline_reminders, enrollments
from enrollment.domain.enrollment import (
    WAITING_ON_EDUCATOR,
    CatalogEntry,
    DeadlineReminder,
    EndReason,
    Enrollment,
    EnrollmentRefused,
    EnrollmentStatus,
    Policy,
    Refusal,
)
from mc_events.contracts.catalog import MicroCredentialPublished
from mc_events.contracts.common import Purpose
from mc_events.contracts.review import MisconductKind
from mc_events.db import execute_core


def _policy(row: Any) -> Policy:
    return Policy(
        attempt_cap=row.attempt_cap,
        completion_window=timedelta(days=row.completion_window_days),
        cooldown=timedelta(days=row.cooldown_days),
    )


def _entry(row: Any) -> CatalogEntry:
    return CatalogEntry(
        micro_credential_id=row.micro_credential_id,
        version=row.version,
        policy=_policy(row),
        allowed_purposes=frozenset(Purpose(p) for p in row.allowed_purposes),
        retired=row.retired_at is not None,
    )


def _enrollment(row: Any) -> Enrollment:
    return Enrollment(
        enrollment_id=row.enrollment_id,
        educator_id=row.educator_id,
        district_id=row.district_id,
        micro_credential_id=row.micro_credential_id,
        micro_credential_version=row.micro_credential_version,
        purpose=Purpose(row.purpose),
        policy=_policy(row),
        enrolled_at=row.enrolled_at,
        deadline_at=row.deadline_at,
        status=EnrollmentStatus(row.status),
        attempts_used=row.attempts_used,
        closed_at=row.closed_at,
        end_reason=EndReason(row.end_reason) if row.end_reason else None,
        may_reenroll_from=row.may_reenroll_from,
        misconduct=MisconductKind(row.misconduct) if row.misconduct else None,
    )


def _days(delta: timedelta) -> int:
    return delta.days


@dataclass(frozen=True)
class CatalogVersion:
    """One micro-credential version as this service knows it from the registry's events."""

    micro_credential_id: str
    version: int
    title: str
    attempt_cap: int
    completion_window_days: int
    cooldown_days: int
    allowed_purposes: tuple[str, ...]
    retired_at: datetime | None

    @property
    def retired(self) -> bool:
        return self.retired_at is not None


class CatalogRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def publish(self, event: MicroCredentialPublished) -> None:
        """Record a published version (a redelivery or replay rewrites the same values; a
        retirement already recorded stays)."""
        values = {
            "micro_credential_id": event.micro_credential_id,
            "version": event.micro_credential_version,
            "title": event.title,
            "attempt_cap": event.attempt_cap,
            "completion_window_days": event.completion_window_days,
            "cooldown_days": event.cooldown_days,
            "allowed_purposes": [p.value for p in event.allowed_purposes],
            "evidence_requirements": [
                r.model_dump(mode="json") for r in event.evidence_requirements
            ],
            "approved_at": event.approved_at,
        }
        statement = pg_insert(catalog_versions).values(values)
        statement = statement.on_conflict_do_update(
            index_elements=[catalog_versions.c.micro_credential_id, catalog_versions.c.version],
            set_={k: statement.excluded[k] for k in values if k not in ("micro_credential_id",)},
        )
        await execute_core(self._session, statement)

    async def retire(self, micro_credential_id: str, version: int, at: datetime) -> bool:
        """Mark a version retired; False if this service never saw it published."""
        result = await execute_core(
            self._session,
            catalog_versions.update()
            .where(
                catalog_versions.c.micro_credential_id == micro_credential_id,
                catalog_versions.c.version == version,
            )
            .values(retired_at=sa.func.coalesce(catalog_versions.c.retired_at, at))
            .returning(catalog_versions.c.version),
        )
        return result.first() is not None

    async def enrollable(self, micro_credential_id: str) -> CatalogEntry | None:
        """The newest version that is not retired (None if there is none)."""
        result = await execute_core(
            self._session,
            sa.select(catalog_versions)
            .where(
                catalog_versions.c.micro_credential_id == micro_credential_id,
                catalog_versions.c.retired_at.is_(None),
            )
            .order_by(catalog_versions.c.version.desc())
            .limit(1),
        )
        row = result.first()
        return _entry(row) if row is not None else None

    async def versions(self, micro_credential_id: str) -> list[CatalogVersion]:
        """Every version known, oldest first (empty for an unknown micro-credential)."""
        result = await execute_core(
            self._session,
            sa.select(catalog_versions)
            .where(catalog_versions.c.micro_credential_id == micro_credential_id)
            .order_by(catalog_versions.c.version),
        )
        return [
            CatalogVersion(
                micro_credential_id=row.micro_credential_id,
                version=row.version,
                title=row.title,
                attempt_cap=row.attempt_cap,
                completion_window_days=row.completion_window_days,
                cooldown_days=row.cooldown_days,
                allowed_purposes=tuple(row.allowed_purposes),
                retired_at=row.retired_at,
            )
            for row in result.all()
        ]


class EnrollmentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, enrollment: Enrollment) -> None:
        """Insert; refused (``already_active``) if the educator already has an open enrollment
        in the MC: a concurrent request enrolled them first, and the unique index
        ``uq_enrollments_one_active`` decides."""
        try:
            await execute_core(self._session, enrollments.insert().values(self._values(enrollment)))
        except IntegrityError as exc:
            raise EnrollmentRefused(Refusal.ALREADY_ACTIVE, "already enrolled") from exc

    async def save(self, enrollment: Enrollment) -> None:
        await execute_core(
            self._session,
            enrollments.update()
            .where(enrollments.c.enrollment_id == enrollment.enrollment_id)
            .values(self._values(enrollment)),
        )

    async def get(self, enrollment_id: str, *, for_update: bool = False) -> Enrollment | None:
        statement = sa.select(enrollments).where(enrollments.c.enrollment_id == enrollment_id)
        if for_update:
            statement = statement.with_for_update()
        row = (await execute_core(self._session, statement)).first()
        return _enrollment(row) if row is not None else None

    async def history(self, educator_id: str, micro_credential_id: str) -> list[Enrollment]:
        result = await execute_core(
            self._session,
            sa.select(enrollments).where(
                enrollments.c.educator_id == educator_id,
                enrollments.c.micro_credential_id == micro_credential_id,
            ),
        )
        return [_enrollment(row) for row in result.all()]

    async def for_educator(self, educator_id: str) -> list[Enrollment]:
        result = await execute_core(
            self._session,
            sa.select(enrollments)
            .where(enrollments.c.educator_id == educator_id)
            .order_by(enrollments.c.enrolled_at.desc(), enrollments.c.enrollment_id),
        )
        return [_enrollment(row) for row in result.all()]

    # -- the deadline sweep ---------------------------------------------------------------------

    async def due_for_expiry(self, now: datetime, limit: int) -> list[Enrollment]:
        """Enrollments waiting on the educator whose deadline has passed, oldest deadline
        first, locked; rows another sweep holds are skipped (sweeps may run side by side)."""
        result = await execute_core(
            self._session,
            sa.select(enrollments)
            .where(
                enrollments.c.status.in_([s.value for s in WAITING_ON_EDUCATOR]),
                enrollments.c.deadline_at <= now,
            )
            .order_by(enrollments.c.deadline_at, enrollments.c.enrollment_id)
            .limit(limit)
            .with_for_update(skip_locked=True),
        )
        return [_enrollment(row) for row in result.all()]

    async def due_for_reminder(
        self, now: datetime, days: int, nearer: int | None, limit: int
    ) -> list[Enrollment]:
        """Enrollments waiting on the educator for which ``days`` is the nearest reminder
        threshold reached at ``now`` (the next nearer one, ``nearer`` days, not reached yet),
        that began before the threshold and have no reminder for it yet; locked, skipping rows
        another transaction holds. The SQL form of :meth:`Enrollment.reminder_due`, to scan
        only those."""
        window = sa.text(f"interval '{int(days)} days'")
        statement = (
            sa.select(enrollments)
            .where(
                enrollments.c.status.in_([s.value for s in WAITING_ON_EDUCATOR]),
                enrollments.c.deadline_at > now,
                enrollments.c.deadline_at - window <= now,
                enrollments.c.deadline_at - window >= enrollments.c.enrolled_at,
                ~sa.exists().where(
                    deadline_reminders.c.enrollment_id == enrollments.c.enrollment_id,
                    deadline_reminders.c.days_before == days,
                ),
            )
            .order_by(enrollments.c.deadline_at, enrollments.c.enrollment_id)
            .limit(limit)
            .with_for_update(of=enrollments, skip_locked=True)
        )
        if nearer is not None:
            statement = statement.where(
                enrollments.c.deadline_at - sa.text(f"interval '{int(nearer)} days'") > now
            )
        result = await execute_core(self._session, statement)
        return [_enrollment(row) for row in result.all()]

    async def record_reminders(self, reminders: Sequence[DeadlineReminder]) -> set[str]:
        """Insert reminder rows; returns the enrollment ids whose row this call inserted (a row
        that exists already, from an earlier or concurrent sweep, is left alone)."""
        if not reminders:
            return set()
        statement = (
            pg_insert(deadline_reminders)
            .values(
                [
                    {
                        "enrollment_id": r.enrollment_id,
                        "days_before": r.days_before,
                        "deadline_at": r.deadline_at,
                        "reminded_at": r.reminded_at,
                    }
                    for r in reminders
                ]
            )
            .on_conflict_do_nothing(
                index_elements=[
                    deadline_reminders.c.enrollment_id,
                    deadline_reminders.c.days_before,
                ]
            )
            .returning(deadline_reminders.c.enrollment_id)
        )
        result = await execute_core(self._session, statement)
        return {row.enrollment_id for row in result.all()}

    @staticmethod
    def _values(e: Enrollment) -> dict[str, Any]:
        return {
            "enrollment_id": e.enrollment_id,
            "educator_id": e.educator_id,
            "district_id": e.district_id,
            "micro_credential_id": e.micro_credential_id,
            "micro_credential_version": e.micro_credential_version,
            "purpose": e.purpose.value,
            "status": e.status.value,
            "attempt_cap": e.policy.attempt_cap,
            "completion_window_days": _days(e.policy.completion_window),
            "cooldown_days": _days(e.policy.cooldown),
            "attempts_used": e.attempts_used,
            "enrolled_at": e.enrolled_at,
            "deadline_at": e.deadline_at,
            "closed_at": e.closed_at,
            "end_reason": e.end_reason.value if e.end_reason else None,
            "may_reenroll_from": e.may_reenroll_from,
            "misconduct": e.misconduct.value if e.misconduct else None,
        }
