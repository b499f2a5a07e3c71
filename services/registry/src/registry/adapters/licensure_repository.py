"""Stack completions, the renewal-credit ledger and its rules, the roster's licenses. Queries
only; the caller's transaction commits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, aggregate_order_by
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from mc_events.contracts.common import Credits, CreditUnit, Grant
from mc_events.db import execute_core
from registry.adapters.catalog_repository import (
    approved_stacks_containing_query,
    entry_from_mapping,
)
from registry.adapters.licensure_tables import (
    educator_licenses,
    imported_credentials,
    recognition_rules,
    renewal_ledger,
    renewal_rules,
    stack_completions,
)
from registry.adapters.tables import credentials
from registry.domain.awards import CredentialStatus
from registry.domain.catalog import Stack
from registry.domain.licensure import (
    Cycle,
    LedgerEntry,
    RenewalRules,
    conversions_from_json,
)
from registry.domain.portability import (
    ExternalCredential,
    IssuerStatus,
    ProofStatus,
    RecognitionRule,
    RecognitionStatus,
)
from registry.domain.stacks import HeldCredential


@dataclass(frozen=True)
class Completion:
    completion_id: str
    educator_id: str
    district_id: str
    stack_id: str
    stack_version: int
    stack_name: str
    members: tuple[str, ...]
    member_credential_ids: tuple[str, ...]
    grants: tuple[Grant, ...]
    completed_at: datetime
    reversed_at: datetime | None = None
    reversed_by_credential_id: str | None = None


@dataclass(frozen=True)
class ImportRecord:
    """One imported credential and how the state recognised it."""

    import_id: str
    educator_id: str
    district_id: str
    external: ExternalCredential
    proof_status: ProofStatus
    recognition_status: RecognitionStatus
    rule_id: str | None
    equivalent_micro_credential_id: str | None
    credits: Credits | None
    imported_at: datetime
    issuer_status: IssuerStatus | None = None
    """The issuer's status list, as last read (None: recorded before it was read)."""
    status_checked_at: datetime | None = None
    status_detail: str | None = None
    revoked_at: datetime | None = None
    document: dict[str, Any] = field(default_factory=dict, repr=False)
    """The credential as imported (verbatim, as its issuer signed it)."""


@dataclass(frozen=True)
class EducatorCredential:
    """One awarded credential of an educator, as the CLR and Ed-Fi views need it."""

    credential_id: str
    micro_credential_id: str
    micro_credential_version: int
    achievement_name: str
    awarded_at: datetime
    valid_until: datetime | None
    status: str
    document: dict[str, Any]


@dataclass(frozen=True)
class RosterEntry:
    """What the registry keeps of an educator on the roster to match imports."""

    district_id: str
    email: str | None


@dataclass(frozen=True)
class Holder:
    """An educator holding a valid credential (or recognised import) of some micro-credentials,
    with their district and their latest such credential."""

    educator_id: str
    district_id: str
    credential_id: str


@dataclass(frozen=True)
class StackProgress:
    """Where an educator stands on some stacks: the ones with a standing completion, and the
    valid credentials (and recognised imports) of their members."""

    standing: frozenset[str]
    held: tuple[HeldCredential, ...]


@dataclass(frozen=True)
class RenewalContext:
    """What posting renewal credits to an educator reads: the rules in force (if any), the
    license's expiry on the roster and the start of the educator's first ledger cycle."""

    rules: RenewalRules | None
    license_expires_on: date | None
    first_cycle_start: date | None


@dataclass(frozen=True)
class AfterAward:
    """What an award's effects depend on, read under the educator's lock: the stacks with
    the award's micro-credential as a member, where the educator stands on them, and what
    posting renewal credits reads."""

    stacks: tuple[Stack, ...]
    progress: StackProgress
    renewal: RenewalContext


def _completion(row: sa.Row[Any]) -> Completion:
    return Completion(
        completion_id=row.completion_id,
        educator_id=row.educator_id,
        district_id=row.district_id,
        stack_id=row.stack_id,
        stack_version=row.stack_version,
        stack_name=row.stack_name,
        members=tuple(row.members),
        member_credential_ids=tuple(row.member_credential_ids),
        grants=tuple(Grant.model_validate(g) for g in row.grants),
        completed_at=row.completed_at,
        reversed_at=row.reversed_at,
        reversed_by_credential_id=row.reversed_by_credential_id,
    )


def _entry(row: sa.Row[Any]) -> LedgerEntry:
    return LedgerEntry(
        entry_id=row.entry_id,
        posting_key=row.posting_key,
        educator_id=row.educator_id,
        district_id=row.district_id,
        credential_id=row.credential_id,
        state=row.state,
        credits=Decimal(row.credits),
        unit=CreditUnit(row.unit),
        renewal_credits=Decimal(row.renewal_credits),
        cycle=Cycle(row.cycle_start, row.cycle_end),
        reason=row.reason,
        reverses_entry_id=row.reverses_entry_id,
        posted_at=row.posted_at,
    )


def _import(row: sa.Row[Any]) -> ImportRecord:
    return ImportRecord(
        import_id=row.import_id,
        educator_id=row.educator_id,
        district_id=row.district_id,
        external=ExternalCredential(
            credential_id=row.external_credential_id,
            issuer_id=row.external_issuer_id,
            achievement_id=row.external_achievement_id,
            achievement_name=row.achievement_name,
        ),
        proof_status=ProofStatus(row.proof_status),
        recognition_status=RecognitionStatus(row.recognition_status),
        rule_id=row.rule_id,
        equivalent_micro_credential_id=row.equivalent_micro_credential_id,
        credits=(
            Credits(value=Decimal(row.credits_value), unit=CreditUnit(row.credits_unit))
            if row.credits_value is not None
            else None
        ),
        imported_at=row.imported_at,
        issuer_status=IssuerStatus(row.issuer_status) if row.issuer_status else None,
        status_checked_at=row.status_checked_at,
        status_detail=row.status_detail,
        revoked_at=row.revoked_at,
        document=row.document,
    )


def _valid_at(at: datetime | sa.BindParameter[datetime]) -> sa.ColumnElement[bool]:
    return sa.and_(
        credentials.c.status == CredentialStatus.ACTIVE.value,
        sa.or_(credentials.c.valid_until.is_(None), credentials.c.valid_until > at),
    )


def _valid_credentials(mc_ids: Any = None) -> list[sa.Select[Any]]:
    """``(kind 'held', id, micro-credential id, at)`` of the valid credentials of educator
    ``:educator_id`` of the micro-credentials ``mc_ids`` (a subquery; default the list
    ``:mc_ids``) at ``:at``, and of the recognised imports counting as one of them."""
    if mc_ids is None:
        mc_ids = sa.bindparam("mc_ids", expanding=True)
    awarded = sa.select(
        sa.literal("held").label("kind"),
        credentials.c.credential_id.label("id"),
        credentials.c.micro_credential_id.label("micro_credential_id"),
        credentials.c.awarded_at.label("at"),
    ).where(
        credentials.c.educator_id == sa.bindparam("educator_id"),
        credentials.c.micro_credential_id.in_(mc_ids),
        _valid_at(sa.bindparam("at", type_=credentials.c.awarded_at.type)),
    )
    # A recognised import counts as its equivalent state micro-credential.
    imported = sa.select(
        sa.literal("held"),
        imported_credentials.c.import_id,
        imported_credentials.c.equivalent_micro_credential_id,
        imported_credentials.c.imported_at,
    ).where(
        imported_credentials.c.educator_id == sa.bindparam("educator_id"),
        imported_credentials.c.recognition_status == RecognitionStatus.RECOGNIZED.value,
        imported_credentials.c.equivalent_micro_credential_id.in_(mc_ids),
    )
    return [awarded, imported]


_VALID_CREDENTIALS = sa.union_all(*_valid_credentials())

_STACK_PROGRESS = sa.union_all(
    *_valid_credentials(),
    sa.select(sa.literal("standing"), stack_completions.c.stack_id, sa.null(), sa.null()).where(
        stack_completions.c.educator_id == sa.bindparam("educator_id"),
        stack_completions.c.stack_id.in_(sa.bindparam("stack_ids", expanding=True)),
        stack_completions.c.reversed_at.is_(None),
    ),
)
""":data:`_VALID_CREDENTIALS` and the educator's standing completions of ``:stack_ids``
(kind 'standing', the stack id)."""

_LOCK_EDUCATOR = sa.select(
    sa.func.pg_advisory_xact_lock(
        sa.func.hashtextextended(sa.bindparam("lock_key", type_=sa.Text), 0)
    )
)

_INSERT_COMPLETION = (
    pg_insert(stack_completions)
    .on_conflict_do_nothing()
    .returning(stack_completions.c.completion_id)
)

_INSERT_ENTRY = (
    pg_insert(renewal_ledger)
    .on_conflict_do_nothing(index_elements=[renewal_ledger.c.posting_key])
    .returning(renewal_ledger.c.entry_id)
)


def _held(rows: Any) -> tuple[HeldCredential, ...]:
    return tuple(
        HeldCredential(row.id, row.micro_credential_id, row.at)
        for row in rows
        if row.kind == "held"
    )


def _after_award() -> sa.Select[Any]:
    """One row: the stacks with the member ``:members`` (their latest approved versions, as
    JSON), the educator's standing completions of them, the educator's valid credentials of
    their members (JSON ``[id, micro-credential id, at]``), the renewal rules in force (JSON),
    the license's expiry and the first cycle's start."""
    stacks = approved_stacks_containing_query().cte("stacks_with_member")
    members = sa.select(sa.func.unnest(stacks.c.members)).scalar_subquery()
    held = sa.union_all(*_valid_credentials(members)).subquery("held")
    stack_json = sa.func.jsonb_build_object(
        *("id", stacks.c.id, "version", stacks.c.version, "issuer_id", stacks.c.issuer_id),
        *("status", stacks.c.status, "history", stacks.c.history, "spec", stacks.c.spec),
    )
    rules_json = sa.func.jsonb_build_object(
        *("state", renewal_rules.c.state, "cycle_years", renewal_rules.c.cycle_years),
        *("required_credits", sa.cast(renewal_rules.c.required_credits, sa.Text)),
        *("conversions", renewal_rules.c.conversions),
        type_=JSONB,
    )
    educator: sa.BindParameter[str] = sa.bindparam("educator_id")
    return sa.select(
        sa.select(sa.func.jsonb_agg(aggregate_order_by(stack_json, stacks.c.id), type_=JSONB))
        .scalar_subquery()
        .label("stacks"),
        sa.select(sa.func.array_agg(stack_completions.c.stack_id, type_=ARRAY(sa.Text)))
        .where(
            stack_completions.c.educator_id == educator,
            stack_completions.c.stack_id.in_(sa.select(stacks.c.id)),
            stack_completions.c.reversed_at.is_(None),
        )
        .scalar_subquery()
        .label("standing"),
        sa.select(
            sa.func.jsonb_agg(
                sa.func.jsonb_build_array(held.c.id, held.c.micro_credential_id, held.c.at),
                type_=JSONB,
            )
        )
        .scalar_subquery()
        .label("held"),
        sa.select(rules_json)
        .where(renewal_rules.c.in_force)
        .limit(1)
        .scalar_subquery()
        .label("rules"),
        sa.select(educator_licenses.c.expires_on)
        .where(educator_licenses.c.educator_id == educator)
        .scalar_subquery()
        .label("license_expires_on"),
        sa.select(sa.func.min(renewal_ledger.c.cycle_start))
        .where(renewal_ledger.c.educator_id == educator)
        .scalar_subquery()
        .label("first_cycle_start"),
    )


_AFTER_AWARD = _after_award()


def _rules(values: Mapping[str, Any] | None) -> RenewalRules | None:
    if values is None:
        return None
    return RenewalRules(
        state=values["state"],
        cycle_years=values["cycle_years"],
        required_credits=Decimal(values["required_credits"]),
        conversions=conversions_from_json(values["conversions"]),
    )


_RENEWAL_CONTEXT = (
    sa.select(
        renewal_rules,
        sa.select(educator_licenses.c.expires_on)
        .where(educator_licenses.c.educator_id == sa.bindparam("educator_id"))
        .scalar_subquery()
        .label("license_expires_on"),
        sa.select(sa.func.min(renewal_ledger.c.cycle_start))
        .where(renewal_ledger.c.educator_id == sa.bindparam("educator_id"))
        .scalar_subquery()
        .label("first_cycle_start"),
    )
    .select_from(
        sa.select(sa.literal(1).label("one"))
        .subquery("one")
        .outerjoin(renewal_rules, renewal_rules.c.in_force)
    )
    .limit(1)
)


class LicensureRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_educator(self, educator_id: str) -> None:
        """Serialise this transaction's stack and ledger work for one educator until commit.

        Awards for one educator arrive on different partitions (decisions are keyed by
        enrollment), so two could be recorded concurrently; without the lock each would miss
        the other's credential and a stack both complete would never be recorded.
        """
        await execute_core(
            self.session, _LOCK_EDUCATOR, {"lock_key": "registry.educator:" + educator_id}
        )

    # -- credentials -------------------------------------------------------------------------

    async def valid_credentials(
        self, educator_id: str, mc_ids: list[str], at: datetime
    ) -> list[HeldCredential]:
        rows = await execute_core(
            self.session,
            _VALID_CREDENTIALS,
            {"educator_id": educator_id, "mc_ids": mc_ids, "at": at},
        )
        return list(_held(rows))

    async def stack_progress(
        self, educator_id: str, stack_ids: list[str], mc_ids: list[str], at: datetime
    ) -> StackProgress:
        """The educator's standing completions among ``stack_ids`` and valid credentials of
        ``mc_ids`` (the stacks' members), in one statement."""
        rows = (
            await execute_core(
                self.session,
                _STACK_PROGRESS,
                {"educator_id": educator_id, "stack_ids": stack_ids, "mc_ids": mc_ids, "at": at},
            )
        ).all()
        return StackProgress(
            standing=frozenset(row.id for row in rows if row.kind == "standing"),
            held=_held(rows),
        )

    async def educator_credentials(
        self, educator_id: str, *, valid_at: datetime | None = None
    ) -> list[EducatorCredential]:
        query = sa.select(
            credentials.c.credential_id,
            credentials.c.micro_credential_id,
            credentials.c.micro_credential_version,
            credentials.c.achievement_name,
            credentials.c.awarded_at,
            credentials.c.valid_until,
            credentials.c.status,
            credentials.c.document,
        ).where(credentials.c.educator_id == educator_id)
        if valid_at is not None:
            query = query.where(_valid_at(valid_at))
        rows = await execute_core(
            self.session, query.order_by(credentials.c.awarded_at, credentials.c.credential_id)
        )
        return [EducatorCredential(**row._mapping) for row in rows]

    # -- stack completions -------------------------------------------------------------------

    async def add_completion(self, completion: Completion) -> bool:
        """Insert; False if the educator already has a standing completion of the stack."""
        result = await execute_core(
            self.session,
            _INSERT_COMPLETION,
            {
                "completion_id": completion.completion_id,
                "educator_id": completion.educator_id,
                "district_id": completion.district_id,
                "stack_id": completion.stack_id,
                "stack_version": completion.stack_version,
                "stack_name": completion.stack_name,
                "members": list(completion.members),
                "member_credential_ids": list(completion.member_credential_ids),
                "grants": [g.model_dump(mode="json") for g in completion.grants],
                "completed_at": completion.completed_at,
            },
        )
        return result.first() is not None

    async def standing_completions_with_member(
        self, educator_id: str, mc_id: str
    ) -> list[Completion]:
        rows = await execute_core(
            self.session,
            sa.select(stack_completions)
            .where(
                stack_completions.c.educator_id == educator_id,
                stack_completions.c.reversed_at.is_(None),
                stack_completions.c.members.contains([mc_id]),
            )
            .order_by(stack_completions.c.completed_at, stack_completions.c.completion_id),
        )
        return [_completion(row) for row in rows]

    async def reverse_completion(
        self, completion_id: str, at: datetime, credential_id: str
    ) -> bool:
        """Mark reversed; False if it already was (a reversal happens once)."""
        result = await execute_core(
            self.session,
            sa.update(stack_completions)
            .where(
                stack_completions.c.completion_id == completion_id,
                stack_completions.c.reversed_at.is_(None),
            )
            .values(reversed_at=at, reversed_by_credential_id=credential_id)
            .returning(stack_completions.c.completion_id),
        )
        return result.first() is not None

    async def completions_for(self, educator_id: str, *, standing: bool) -> list[Completion]:
        query = sa.select(stack_completions).where(stack_completions.c.educator_id == educator_id)
        if standing:
            query = query.where(stack_completions.c.reversed_at.is_(None))
        rows = await execute_core(
            self.session,
            query.order_by(stack_completions.c.completed_at, stack_completions.c.completion_id),
        )
        return [_completion(row) for row in rows]

    # -- renewal rules and the ledger --------------------------------------------------------

    async def rules_in_force(self) -> RenewalRules | None:
        row = (
            await execute_core(
                self.session, sa.select(renewal_rules).where(renewal_rules.c.in_force)
            )
        ).first()
        if row is None:
            return None
        return RenewalRules(
            state=row.state,
            cycle_years=row.cycle_years,
            required_credits=Decimal(row.required_credits),
            conversions=conversions_from_json(row.conversions),
        )

    async def renewal_context(self, educator_id: str) -> RenewalContext:
        row = (
            await execute_core(self.session, _RENEWAL_CONTEXT, {"educator_id": educator_id})
        ).one()
        rules = None
        if row.state is not None:
            rules = RenewalRules(
                state=row.state,
                cycle_years=row.cycle_years,
                required_credits=Decimal(row.required_credits),
                conversions=conversions_from_json(row.conversions),
            )
        return RenewalContext(rules, row.license_expires_on, row.first_cycle_start)

    async def after_award(self, educator_id: str, mc_id: str, at: datetime) -> AfterAward:
        """:class:`AfterAward` for an award of ``mc_id``, in one statement."""
        row = (
            await execute_core(
                self.session,
                _AFTER_AWARD,
                {"educator_id": educator_id, "members": [mc_id], "at": at},
            )
        ).one()
        held = tuple(
            HeldCredential(credential_id, micro_credential_id, datetime.fromisoformat(awarded_at))
            for credential_id, micro_credential_id, awarded_at in row.held or ()
        )
        return AfterAward(
            stacks=tuple(entry_from_mapping(Stack, stack) for stack in row.stacks or ()),
            progress=StackProgress(standing=frozenset(row.standing or ()), held=held),
            renewal=RenewalContext(
                _rules(row.rules), row.license_expires_on, row.first_cycle_start
            ),
        )

    async def license_expiry(self, educator_id: str) -> date | None:
        row = (
            await execute_core(
                self.session,
                sa.select(educator_licenses.c.expires_on).where(
                    educator_licenses.c.educator_id == educator_id
                ),
            )
        ).first()
        return row.expires_on if row else None

    async def record_license(
        self,
        *,
        educator_id: str,
        district_id: str,
        email: str | None,
        license_number: str | None,
        license_type: str | None,
        expires_on: date | None,
        as_of: datetime,
    ) -> None:
        """Keep the newest roster snapshot (an older one arriving late changes nothing)."""
        values = {
            "district_id": district_id,
            "email": email,
            "license_number": license_number,
            "license_type": license_type,
            "expires_on": expires_on,
            "as_of": as_of,
        }
        statement = pg_insert(educator_licenses).values(educator_id=educator_id, **values)
        await execute_core(
            self.session,
            statement.on_conflict_do_update(
                index_elements=[educator_licenses.c.educator_id],
                set_=values,
                where=educator_licenses.c.as_of <= statement.excluded.as_of,
            ),
        )

    async def add_entry(self, entry: LedgerEntry) -> bool:
        """Insert; False if an entry with the same posting key exists (posted once)."""
        result = await execute_core(
            self.session,
            _INSERT_ENTRY,
            {
                "entry_id": entry.entry_id,
                "posting_key": entry.posting_key,
                "educator_id": entry.educator_id,
                "district_id": entry.district_id,
                "credential_id": entry.credential_id,
                "state": entry.state,
                "credits": entry.credits,
                "unit": entry.unit.value,
                "renewal_credits": entry.renewal_credits,
                "certificate_cycle": entry.cycle.label,
                "cycle_start": entry.cycle.start,
                "cycle_end": entry.cycle.end,
                "reason": entry.reason,
                "reverses_entry_id": entry.reverses_entry_id,
                "posted_at": entry.posted_at,
            },
        )
        return result.first() is not None

    async def credential_lineage(self, credential_id: str) -> list[str]:
        """``credential_id`` and the credentials it was reissued from (a reissue is the same
        award in a new document, so its credits were posted under the first one)."""
        lineage = [credential_id]
        while len(lineage) < 100:
            row = (
                await execute_core(
                    self.session,
                    sa.select(credentials.c.reissued_from).where(
                        credentials.c.credential_id == lineage[-1]
                    ),
                )
            ).first()
            if row is None or row.reissued_from is None or row.reissued_from in lineage:
                break
            lineage.append(row.reissued_from)
        return lineage

    async def entries_for_credentials(self, credential_ids: list[str]) -> list[LedgerEntry]:
        rows = await execute_core(
            self.session,
            sa.select(renewal_ledger)
            .where(renewal_ledger.c.credential_id.in_(credential_ids))
            .order_by(renewal_ledger.c.posted_at, renewal_ledger.c.entry_id),
        )
        return [_entry(row) for row in rows]

    async def ledger(self, educator_id: str, cycle: str | None = None) -> list[LedgerEntry]:
        query = sa.select(renewal_ledger).where(renewal_ledger.c.educator_id == educator_id)
        if cycle is not None:
            query = query.where(renewal_ledger.c.certificate_cycle == cycle)
        rows = await execute_core(
            self.session, query.order_by(renewal_ledger.c.posted_at, renewal_ledger.c.entry_id)
        )
        return [_entry(row) for row in rows]

    # -- roster ------------------------------------------------------------------------------

    async def roster_entry(self, educator_id: str) -> RosterEntry | None:
        """The educator on the roster, if known."""
        row = (
            await execute_core(
                self.session,
                sa.select(educator_licenses.c.district_id, educator_licenses.c.email).where(
                    educator_licenses.c.educator_id == educator_id
                ),
            )
        ).first()
        return RosterEntry(row.district_id, row.email) if row else None

    # -- portability -------------------------------------------------------------------------

    async def add_recognition_rule(self, rule: RecognitionRule, now: datetime) -> bool:
        result = await execute_core(
            self.session,
            pg_insert(recognition_rules)
            .values(
                rule_id=rule.rule_id,
                external_issuer_id=rule.external_issuer_id,
                external_achievement_id=rule.external_achievement_id,
                achievement_name=rule.achievement_name,
                equivalent_micro_credential_id=rule.equivalent_micro_credential_id,
                credits_value=rule.credits.value,
                credits_unit=rule.credits.unit.value,
                created_at=now,
            )
            .on_conflict_do_nothing()
            .returning(recognition_rules.c.rule_id),
        )
        return result.first() is not None

    async def recognition_rules(self, issuer_id: str | None = None) -> list[RecognitionRule]:
        query = sa.select(recognition_rules).order_by(recognition_rules.c.rule_id)
        if issuer_id is not None:
            query = query.where(recognition_rules.c.external_issuer_id == issuer_id)
        return [
            RecognitionRule(
                rule_id=row.rule_id,
                external_issuer_id=row.external_issuer_id,
                external_achievement_id=row.external_achievement_id,
                achievement_name=row.achievement_name,
                equivalent_micro_credential_id=row.equivalent_micro_credential_id,
                credits=Credits(
                    value=Decimal(row.credits_value), unit=CreditUnit(row.credits_unit)
                ),
            )
            for row in await execute_core(self.session, query)
        ]

    async def add_import(self, record: ImportRecord, actor: str) -> bool:
        """Insert; False if the educator already imported this credential."""
        result = await execute_core(
            self.session,
            pg_insert(imported_credentials)
            .values(
                import_id=record.import_id,
                educator_id=record.educator_id,
                district_id=record.district_id,
                external_credential_id=record.external.credential_id,
                external_issuer_id=record.external.issuer_id,
                external_achievement_id=record.external.achievement_id,
                achievement_name=record.external.achievement_name,
                proof_status=record.proof_status.value,
                recognition_status=record.recognition_status.value,
                rule_id=record.rule_id,
                equivalent_micro_credential_id=record.equivalent_micro_credential_id,
                credits_value=record.credits.value if record.credits else None,
                credits_unit=record.credits.unit.value if record.credits else None,
                document=record.document,
                imported_at=record.imported_at,
                imported_by=actor,
                issuer_status=record.issuer_status.value if record.issuer_status else None,
                status_checked_at=record.status_checked_at,
                status_detail=record.status_detail,
            )
            .on_conflict_do_nothing()
            .returning(imported_credentials.c.import_id),
        )
        return result.first() is not None

    async def imports_for(
        self, educator_id: str, external_credential_id: str | None = None
    ) -> list[ImportRecord]:
        query = sa.select(imported_credentials).where(
            imported_credentials.c.educator_id == educator_id
        )
        if external_credential_id is not None:
            query = query.where(
                imported_credentials.c.external_credential_id == external_credential_id
            )
        rows = await execute_core(
            self.session,
            query.order_by(imported_credentials.c.imported_at, imported_credentials.c.import_id),
        )
        return [_import(row) for row in rows]

    async def get_import(self, import_id: str, *, for_update: bool = False) -> ImportRecord | None:
        query = sa.select(imported_credentials).where(imported_credentials.c.import_id == import_id)
        if for_update:
            query = query.with_for_update()
        row = (await execute_core(self.session, query)).first()
        return _import(row) if row else None

    async def imports_to_recheck(self, limit: int) -> list[str]:
        """Ids of the imports not revoked that name a status list, least recently checked
        first (never checked before all)."""
        rows = await execute_core(
            self.session,
            sa.select(imported_credentials.c.import_id)
            .where(
                imported_credentials.c.revoked_at.is_(None),
                imported_credentials.c.document.has_key("credentialStatus"),
            )
            .order_by(
                imported_credentials.c.status_checked_at.asc().nulls_first(),
                imported_credentials.c.import_id,
            )
            .limit(limit),
        )
        return [row.import_id for row in rows]

    async def save_import_status(
        self,
        import_id: str,
        *,
        issuer_status: IssuerStatus,
        detail: str,
        checked_at: datetime,
        revoked: bool = False,
    ) -> None:
        values: dict[str, Any] = {
            "issuer_status": issuer_status.value,
            "status_detail": detail[:1000],
            "status_checked_at": checked_at,
        }
        if revoked:
            values |= {
                "revoked_at": checked_at,
                "recognition_status": RecognitionStatus.REVOKED.value,
            }
        await execute_core(
            self.session,
            sa.update(imported_credentials)
            .where(imported_credentials.c.import_id == import_id)
            .values(**values),
        )

    async def recognized_imports(self, educator_id: str) -> list[ImportRecord]:
        """The recognised (and not revoked) imports of an educator, oldest first."""
        rows = await execute_core(
            self.session,
            sa.select(imported_credentials)
            .where(
                imported_credentials.c.educator_id == educator_id,
                imported_credentials.c.recognition_status == RecognitionStatus.RECOGNIZED.value,
            )
            .order_by(imported_credentials.c.imported_at, imported_credentials.c.import_id),
        )
        return [_import(row) for row in rows]

    async def holders_of(self, mc_ids: list[str], at: datetime) -> list[Holder]:
        """Every educator holding a valid credential (or recognised import) of one of
        ``mc_ids``, by educator id."""
        found: dict[str, Holder] = {}
        imports = await execute_core(
            self.session,
            sa.select(
                imported_credentials.c.educator_id,
                imported_credentials.c.district_id,
                imported_credentials.c.import_id,
            )
            .where(
                imported_credentials.c.recognition_status == RecognitionStatus.RECOGNIZED.value,
                imported_credentials.c.equivalent_micro_credential_id.in_(mc_ids),
            )
            .order_by(imported_credentials.c.imported_at),
        )
        for row in imports:
            found[row.educator_id] = Holder(row.educator_id, row.district_id, row.import_id)
        awarded = await execute_core(
            self.session,
            sa.select(
                credentials.c.educator_id, credentials.c.district_id, credentials.c.credential_id
            )
            .where(credentials.c.micro_credential_id.in_(mc_ids), _valid_at(at))
            .order_by(credentials.c.awarded_at, credentials.c.credential_id),
        )
        for row in awarded:  # the latest award wins (its district is the current one)
            found[row.educator_id] = Holder(row.educator_id, row.district_id, row.credential_id)
        return [found[educator_id] for educator_id in sorted(found)]

    async def save_rules(self, rules: RenewalRules, now: datetime) -> None:
        """Replace the rules of ``rules.state`` (in force if it is the state in force, or if
        none is)."""
        values = {
            "cycle_years": rules.cycle_years,
            "required_credits": rules.required_credits,
            "conversions": rules.as_json()["conversions"],
            "updated_at": now,
        }
        any_in_force = (
            await execute_core(
                self.session, sa.select(renewal_rules.c.state).where(renewal_rules.c.in_force)
            )
        ).first()
        statement = pg_insert(renewal_rules).values(
            state=rules.state, in_force=any_in_force is None, **values
        )
        await execute_core(
            self.session,
            statement.on_conflict_do_update(index_elements=[renewal_rules.c.state], set_=values),
        )
