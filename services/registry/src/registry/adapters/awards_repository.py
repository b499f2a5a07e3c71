"""Awarded credentials, status lists and the enrollment read model. Queries only; the caller's
transaction commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from mc_events.contracts.common import Credits, CreditUnit, CriterionResult, Purpose
from mc_events.contracts.registry import RevocationReason
from mc_events.db import execute_core
from registry.adapters.catalog_repository import awardable_digest
from registry.adapters.tables import credentials, enrollments, status_lists
from registry.domain import status_list
from registry.domain.awards import Award, CredentialStatus, Revocation, Suspension
from registry.domain.openbadges import StatusEntry

_ALLOCATION_ATTEMPTS = 8
"""Rounds of "read the open list, else create the next one" before giving up (a round fails
only when another transaction created the list this one tried to create)."""


@dataclass(frozen=True)
class AwardContext:
    """What recording an award reads first, in one statement."""

    credential_id: str | None
    """The enrollment's current credential, if it has one."""
    enrolled_purpose: Purpose | None
    """What the educator enrolled for, if the registry has seen the enrollment."""
    version_digest: str | None
    """The micro-credential version's digest (:func:`awardable_digest`); None if unknown."""


_AWARD_CONTEXT = sa.select(
    sa.select(credentials.c.credential_id)
    .where(
        credentials.c.enrollment_id == sa.bindparam("enrollment_id"),
        credentials.c.status != CredentialStatus.SUPERSEDED.value,
    )
    .limit(1)
    .scalar_subquery()
    .label("credential_id"),
    sa.select(enrollments.c.purpose)
    .where(enrollments.c.enrollment_id == sa.bindparam("enrollment_id"))
    .scalar_subquery()
    .label("purpose"),
    awardable_digest(sa.bindparam("mc_id"), sa.bindparam("version")).label("digest"),
)


_OPEN_LIST = (
    sa.select(status_lists.c.list_id)
    .where(status_lists.c.purpose == sa.bindparam("list_purpose"))
    .order_by(status_lists.c.sequence.desc())
    .limit(1)
    .with_for_update()
    .scalar_subquery()
)

_TAKE_NEXT_INDEX = (
    sa.update(status_lists)
    .where(status_lists.c.list_id == _OPEN_LIST, status_lists.c.next_index < status_lists.c.size)
    .values(next_index=status_lists.c.next_index + 1, updated_at=sa.bindparam("now"))
    .returning(status_lists.c.list_id, (status_lists.c.next_index - 1).label("taken_index"))
)
"""The next index of the open list (locked until commit), if it has one free."""


_INSERT_CREDENTIAL = (
    pg_insert(credentials)
    .on_conflict_do_nothing(
        index_elements=[credentials.c.enrollment_id],
        # A literal, as in the partial index: with a bound parameter PostgreSQL's
        # generic plans cannot match the index.
        index_where=sa.text("status <> 'superseded'"),
    )
    .returning(credentials.c.credential_id)
)
"""Insert a credential unless its enrollment has its (current) credential."""


@dataclass(frozen=True)
class StoredCredential:
    award: Award
    status: StatusEntry
    """Its revocation entry (its suspension bit: ``openbadges.suspension_entry`` of it)."""
    document: dict[str, Any]
    """The credential as served (verbatim JSON: its proof signs exactly this content)."""


@dataclass(frozen=True)
class StoredList:
    """A status list as kept: its purpose, its bits, and when they last changed."""

    purpose: str
    bits: bytes
    updated_at: datetime


@dataclass(frozen=True)
class Unsigned:
    """A credential recorded without its proof (awards are signed right after they commit)."""

    credential_id: str
    document: dict[str, Any]


@dataclass(frozen=True)
class CredentialPage:
    """One page of an educator's credential documents, and how many they hold in all."""

    total: int
    documents: list[dict[str, Any]]


@dataclass(frozen=True)
class SigningBacklog:
    """Credentials waiting for their proof, and when the oldest was recorded."""

    waiting: int
    oldest: datetime | None


def _award(row: sa.Row[Any]) -> Award:
    revocation = None
    if row.revoked_at is not None:
        revocation = Revocation(
            reason=RevocationReason(row.revocation_reason),
            detail=row.revocation_detail or "",
            at=row.revoked_at,
            by=row.revoked_by or "",
        )
    suspension = None
    if row.status == CredentialStatus.SUSPENDED.value and row.suspended_at is not None:
        suspension = Suspension(
            reason=row.suspension_reason or "",
            at=row.suspended_at,
            by=row.suspended_by or "",
            until=row.suspended_until,
        )
    return Award(
        credential_id=row.credential_id,
        enrollment_id=row.enrollment_id,
        decision_id=row.decision_id,
        submission_id=row.submission_id,
        educator_id=row.educator_id,
        district_id=row.district_id,
        micro_credential_id=row.micro_credential_id,
        micro_credential_version=row.micro_credential_version,
        issuer_id=row.issuer_id,
        achievement_name=row.achievement_name,
        purpose=Purpose(row.purpose),
        credits=Credits(value=Decimal(row.credits_value), unit=CreditUnit(row.credits_unit)),
        results=tuple(CriterionResult.model_validate(r) for r in row.results),
        awarded_at=row.awarded_at,
        valid_until=row.valid_until,
        status=CredentialStatus(row.status),
        revocation=revocation,
        suspension=suspension,
        reissued_from=row.reissued_from,
        superseded_by=row.superseded_by,
    )


class AwardsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def credential_for_enrollment(self, enrollment_id: str) -> str | None:
        row = (
            await execute_core(
                self.session,
                sa.select(credentials.c.credential_id).where(
                    credentials.c.enrollment_id == enrollment_id,
                    credentials.c.status != CredentialStatus.SUPERSEDED.value,
                ),
            )
        ).first()
        return row.credential_id if row else None

    async def award_context(
        self, enrollment_id: str, micro_credential_id: str, micro_credential_version: int
    ) -> AwardContext:
        row = (
            await execute_core(
                self.session,
                _AWARD_CONTEXT,
                {
                    "enrollment_id": enrollment_id,
                    "mc_id": micro_credential_id,
                    "version": micro_credential_version,
                },
            )
        ).one()
        return AwardContext(
            credential_id=row.credential_id,
            enrolled_purpose=Purpose(row.purpose) if row.purpose is not None else None,
            version_digest=row.digest,
        )

    async def allocate_status_index(
        self, purpose: status_list.StatusPurpose, now: datetime
    ) -> StatusEntry:
        """The next free index of the open list for ``purpose`` (a new list when it is full,
        or when there is none yet).

        The list row stays locked until commit, so indexes are handed out one at a time. A new
        list is inserted with ``ON CONFLICT DO NOTHING`` on its ``(purpose, sequence)`` (and its
        id): when concurrent awards both find no open list, one inserts it, the others wait for
        that insert to commit, then read the list again and take the next index of it. Under
        READ COMMITTED each statement sees what committed before it, so the re-read finds it.

        The common case, a free index in the open list, is one statement.
        """
        taken = (
            await execute_core(
                self.session, _TAKE_NEXT_INDEX, {"list_purpose": purpose.value, "now": now}
            )
        ).first()
        if taken is not None:
            return StatusEntry(
                list_id=taken.list_id, index=taken.taken_index, purpose=purpose.value
            )
        for _ in range(_ALLOCATION_ATTEMPTS):
            current = (
                await execute_core(
                    self.session,
                    sa.select(status_lists.c.list_id, status_lists.c.sequence)
                    .add_columns(status_lists.c.next_index, status_lists.c.size)
                    .where(status_lists.c.purpose == purpose.value)
                    .order_by(status_lists.c.sequence.desc())
                    .limit(1)
                    .with_for_update(),
                )
            ).first()
            if current is not None and current.next_index < current.size:
                await execute_core(
                    self.session,
                    sa.update(status_lists)
                    .where(status_lists.c.list_id == current.list_id)
                    .values(next_index=status_lists.c.next_index + 1, updated_at=now),
                )
                return StatusEntry(
                    list_id=current.list_id, index=current.next_index, purpose=purpose.value
                )
            sequence = 1 if current is None else current.sequence + 1
            list_id = f"{purpose.value}-{sequence}"
            created = await execute_core(
                self.session,
                pg_insert(status_lists)
                .values(
                    list_id=list_id,
                    purpose=purpose.value,
                    sequence=sequence,
                    size=status_list.MIN_BITS,
                    next_index=1,
                    bits=status_list.empty_list(),
                    updated_at=now,
                )
                .on_conflict_do_nothing()
                .returning(status_lists.c.list_id),
            )
            if created.first() is not None:
                return StatusEntry(list_id=list_id, index=0, purpose=purpose.value)
            # Another transaction created this list first (and has committed): take from it.
        raise RuntimeError(
            f"no {purpose.value} status list index after {_ALLOCATION_ATTEMPTS} tries"
        )

    async def set_status(self, entry: StatusEntry, value: bool, now: datetime) -> None:
        row = (
            await execute_core(
                self.session,
                sa.select(status_lists.c.bits)
                .where(status_lists.c.list_id == entry.list_id)
                .with_for_update(),
            )
        ).one()
        bits = status_list.set_bit(bytes(row.bits), entry.index, value)
        await execute_core(
            self.session,
            sa.update(status_lists)
            .where(status_lists.c.list_id == entry.list_id)
            .values(bits=bits, updated_at=now),
        )

    async def status_list(self, list_id: str) -> StoredList | None:
        row = (
            await execute_core(
                self.session,
                sa.select(
                    status_lists.c.purpose, status_lists.c.bits, status_lists.c.updated_at
                ).where(status_lists.c.list_id == list_id),
            )
        ).first()
        return StoredList(row.purpose, bytes(row.bits), row.updated_at) if row else None

    async def awaiting_signature(
        self,
        limit: int,
        *,
        credential_id: str | None = None,
        educator_id: str | None = None,
        wait: bool = False,
    ) -> list[Unsigned]:
        """Credentials still without a proof (oldest first), locked for this transaction.
        ``wait=False`` skips rows another signer holds (workers share the queue); readers wait
        instead, and then find the row signed."""
        query = (
            sa.select(credentials.c.credential_id, credentials.c.document)
            .where(credentials.c.signed_at.is_(None))
            .order_by(credentials.c.recorded_at)
            .limit(limit)
        )
        if credential_id is not None:
            query = query.where(credentials.c.credential_id == credential_id)
        if educator_id is not None:
            query = query.where(credentials.c.educator_id == educator_id)
        query = query.with_for_update(skip_locked=not wait)
        rows = await execute_core(self.session, query)
        return [Unsigned(row.credential_id, row.document) for row in rows]

    async def signing_backlog(self) -> SigningBacklog:
        row = (
            await execute_core(
                self.session,
                sa.select(sa.func.count(), sa.func.min(credentials.c.recorded_at)).where(
                    credentials.c.signed_at.is_(None)
                ),
            )
        ).one()
        waiting, oldest = tuple(row)
        return SigningBacklog(int(waiting), oldest)

    async def store_signature(
        self, credential_id: str, document: dict[str, Any], key_id: str, at: datetime
    ) -> None:
        await execute_core(
            self.session,
            sa.update(credentials)
            .where(credentials.c.credential_id == credential_id)
            .values(document=document, signing_key_id=key_id, signed_at=at),
        )

    async def add_credential(
        self,
        award: Award,
        status: StatusEntry,
        document: dict[str, Any],
        now: datetime,
        signing_key_id: str | None = None,
    ) -> bool:
        """Insert; False if the enrollment already has its (current) credential."""
        result = await execute_core(
            self.session,
            _INSERT_CREDENTIAL,
            {
                "credential_id": award.credential_id,
                "enrollment_id": award.enrollment_id,
                "decision_id": award.decision_id,
                "submission_id": award.submission_id,
                "educator_id": award.educator_id,
                "district_id": award.district_id,
                "micro_credential_id": award.micro_credential_id,
                "micro_credential_version": award.micro_credential_version,
                "issuer_id": award.issuer_id,
                "achievement_name": award.achievement_name,
                "purpose": award.purpose.value,
                "credits_value": award.credits.value,
                "credits_unit": award.credits.unit.value,
                "results": [r.model_dump(mode="json") for r in award.results],
                "awarded_at": award.awarded_at,
                "valid_until": award.valid_until,
                "status": award.status.value,
                "status_list_id": status.list_id,
                "status_list_index": status.index,
                "document": document,
                "recorded_at": now,
                "signing_key_id": signing_key_id,
                "signed_at": now if signing_key_id is not None else None,
                "reissued_from": award.reissued_from,
            },
        )
        return result.first() is not None

    async def get(self, credential_id: str, *, for_update: bool = False) -> StoredCredential | None:
        query = sa.select(credentials).where(credentials.c.credential_id == credential_id)
        if for_update:
            query = query.with_for_update()
        row = (await execute_core(self.session, query)).first()
        if row is None:
            return None
        return StoredCredential(
            award=_award(row),
            status=StatusEntry(list_id=row.status_list_id, index=row.status_list_index),
            document=row.document,
        )

    async def educator_documents(
        self, educator_id: str, *, limit: int, offset: int
    ) -> CredentialPage:
        """One page of the documents of the credentials issued to the educator, oldest award
        first; a superseded credential is left out (its reissue stands in)."""
        held = sa.and_(
            credentials.c.educator_id == educator_id,
            credentials.c.status != CredentialStatus.SUPERSEDED.value,
        )
        total = (
            await execute_core(
                self.session, sa.select(sa.func.count()).select_from(credentials).where(held)
            )
        ).scalar_one()
        rows = await execute_core(
            self.session,
            sa.select(credentials.c.document)
            .where(held)
            .order_by(credentials.c.awarded_at, credentials.c.credential_id)
            .limit(limit)
            .offset(offset),
        )
        return CredentialPage(int(total), [row.document for row in rows])

    async def save_state(self, award: Award) -> None:
        """Save what changes in an awarded credential: its status, revocation, suspension and
        successor."""
        revocation, suspension = award.revocation, award.suspension
        await execute_core(
            self.session,
            sa.update(credentials)
            .where(credentials.c.credential_id == award.credential_id)
            .values(
                status=award.status.value,
                revoked_at=revocation.at if revocation else None,
                revoked_by=revocation.by if revocation else None,
                revocation_reason=revocation.reason.value if revocation else None,
                revocation_detail=revocation.detail if revocation else None,
                suspended_at=suspension.at if suspension else None,
                suspended_by=suspension.by if suspension else None,
                suspension_reason=suspension.reason if suspension else None,
                suspended_until=suspension.until if suspension else None,
                superseded_by=award.superseded_by,
            ),
        )

    async def due_suspensions(self, now: datetime, limit: int) -> list[str]:
        """Suspended credentials whose planned end has passed, the earliest first."""
        rows = await execute_core(
            self.session,
            sa.select(credentials.c.credential_id)
            .where(
                credentials.c.status == CredentialStatus.SUSPENDED.value,
                credentials.c.suspended_until <= now,
            )
            .order_by(credentials.c.suspended_until)
            .limit(limit),
        )
        return list(rows.scalars())

    async def ensure_list(self, entry: StatusEntry, now: datetime) -> None:
        """The list of ``entry`` exists (a parallel suspension list is made on the first
        suspension from it; this never hands out indexes)."""
        await execute_core(
            self.session,
            pg_insert(status_lists)
            .values(
                list_id=entry.list_id,
                purpose=entry.purpose,
                sequence=int(entry.list_id.rsplit("-", 1)[1]),
                size=status_list.MIN_BITS,
                next_index=status_list.MIN_BITS,
                bits=status_list.empty_list(),
                updated_at=now,
            )
            .on_conflict_do_nothing(),
        )

    # -- enrollments read model --------------------------------------------------------------

    async def record_enrollment(
        self,
        *,
        enrollment_id: str,
        educator_id: str,
        micro_credential_id: str,
        micro_credential_version: int,
        purpose: Purpose,
        enrolled_at: datetime,
    ) -> None:
        await execute_core(
            self.session,
            pg_insert(enrollments)
            .values(
                enrollment_id=enrollment_id,
                educator_id=educator_id,
                micro_credential_id=micro_credential_id,
                micro_credential_version=micro_credential_version,
                purpose=purpose.value,
                enrolled_at=enrolled_at,
            )
            .on_conflict_do_nothing(),
        )

    async def enrolled_purpose(self, enrollment_id: str) -> Purpose | None:
        row = (
            await execute_core(
                self.session,
                sa.select(enrollments.c.purpose).where(
                    enrollments.c.enrollment_id == enrollment_id
                ),
            )
        ).first()
        return Purpose(row.purpose) if row else None
