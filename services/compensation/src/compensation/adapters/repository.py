"""Queries of the compensation database. They run in the caller's transaction and never commit.

Row locks are taken in one order everywhere (award advisory lock, then usage rows, then budget
rows, then deferral rows, each group in key order) so concurrent commands queue instead of
deadlocking; see service_layer/stipends.py.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from compensation.adapters.tables import (
    budget_allocations,
    budgets,
    deferrals,
    districts,
    educators,
    ledger_entries,
    revoked_awards,
    stipend_rules,
    stipend_usage,
)
from compensation.domain.fiscal import FiscalCalendar
from compensation.domain.rules import Budget, Educator, RuleKind, StipendRule, Usage
from mc_events.db import execute_core, insert_once

UsageKey = tuple[str, str, int]
"""(educator_id, rule_id, cap period)."""
BudgetKey = tuple[str, str, int]
"""(district_id, funding_source, fiscal_year)."""


# -- rules ----------------------------------------------------------------------------------


def rule_to_json(rule: StipendRule) -> dict[str, Any]:
    return {
        "rule_id": rule.rule_id,
        "version": rule.version,
        "name": rule.name,
        "state": rule.state,
        "district_id": rule.district_id,
        "kind": rule.kind.value,
        "amount_cents": rule.amount_cents,
        "funding_source": rule.funding_source,
        "effective_from": rule.effective_from.isoformat(),
        "effective_until": rule.effective_until.isoformat() if rule.effective_until else None,
        "subject_ids": sorted(rule.subject_ids),
        "eligible_roles": sorted(rule.eligible_roles),
        "eligible_license_types": sorted(rule.eligible_license_types),
        "requires_valid_license": rule.requires_valid_license,
        "annual_cap_cents": rule.annual_cap_cents,
        "calendar": {
            "start_month": rule.calendar.start_month,
            "start_day": rule.calendar.start_day,
            "timezone": rule.calendar.timezone,
        },
    }


def rule_from_json(data: Mapping[str, Any]) -> StipendRule:
    until = data.get("effective_until")
    return StipendRule(
        rule_id=data["rule_id"],
        version=int(data["version"]),
        name=data["name"],
        state=data["state"],
        district_id=data.get("district_id"),
        kind=RuleKind(data["kind"]),
        amount_cents=int(data["amount_cents"]),
        funding_source=data["funding_source"],
        effective_from=datetime.fromisoformat(data["effective_from"]),
        effective_until=datetime.fromisoformat(until) if until else None,
        subject_ids=frozenset(data.get("subject_ids", ())),
        eligible_roles=frozenset(data.get("eligible_roles", ())),
        eligible_license_types=frozenset(data.get("eligible_license_types", ())),
        requires_valid_license=bool(data.get("requires_valid_license", False)),
        annual_cap_cents=data.get("annual_cap_cents"),
        calendar=FiscalCalendar(**data.get("calendar", {})),
    )


async def latest_rule_version(session: AsyncSession, rule_id: str) -> StipendRule | None:
    row = (
        await execute_core(
            session,
            sa.select(stipend_rules.c.definition)
            .where(stipend_rules.c.rule_id == rule_id)
            .order_by(stipend_rules.c.version.desc())
            .limit(1),
        )
    ).first()
    return rule_from_json(row.definition) if row else None


async def insert_rule(
    session: AsyncSession, rule: StipendRule, *, created_by: str, at: datetime
) -> bool:
    """False if this (rule id, version) exists already (a concurrent publication won)."""
    return await insert_once(
        session,
        stipend_rules,
        {
            "rule_id": rule.rule_id,
            "version": rule.version,
            "state": rule.state,
            "district_id": rule.district_id,
            "kind": rule.kind.value,
            "definition": rule_to_json(rule),
            "created_by": created_by,
            "created_at": at,
        },
    )


async def rule_versions(session: AsyncSession, rule_id: str) -> list[StipendRule]:
    rows = await execute_core(
        session,
        sa.select(stipend_rules.c.definition)
        .where(stipend_rules.c.rule_id == rule_id)
        .order_by(stipend_rules.c.version),
    )
    return [rule_from_json(row.definition) for row in rows]


async def rule_version(session: AsyncSession, rule_id: str, version: int) -> StipendRule | None:
    row = (
        await execute_core(
            session,
            sa.select(stipend_rules.c.definition).where(
                stipend_rules.c.rule_id == rule_id, stipend_rules.c.version == version
            ),
        )
    ).first()
    return rule_from_json(row.definition) if row else None


async def rules_for(session: AsyncSession, state: str, district_id: str) -> list[StipendRule]:
    rows = await execute_core(
        session,
        sa.select(stipend_rules.c.definition).where(
            stipend_rules.c.state == state,
            sa.or_(
                stipend_rules.c.district_id.is_(None),
                stipend_rules.c.district_id == district_id,
            ),
        ),
    )
    return [rule_from_json(row.definition) for row in rows]


# -- districts and the roster read model ----------------------------------------------------


async def upsert_district(
    session: AsyncSession, district_id: str, state: str, name: str, at: datetime
) -> None:
    stmt = pg_insert(districts).values(
        district_id=district_id, state=state, name=name, registered_at=at
    )
    await execute_core(
        session,
        stmt.on_conflict_do_update(
            index_elements=[districts.c.district_id],
            set_={"state": stmt.excluded.state, "name": stmt.excluded.name},
        ),
    )


async def district_state(session: AsyncSession, district_id: str) -> str | None:
    row = (
        await execute_core(
            session, sa.select(districts.c.state).where(districts.c.district_id == district_id)
        )
    ).first()
    return str(row.state) if row else None


async def upsert_educator(session: AsyncSession, educator: Educator, at: datetime) -> None:
    values = {
        "district_id": educator.district_id,
        "role": educator.role,
        "license_type": educator.license_type,
        "license_expires_on": educator.license_expires_on,
        "updated_at": at,
    }
    await execute_core(
        session,
        pg_insert(educators)
        .values(educator_id=educator.educator_id, **values)
        .on_conflict_do_update(index_elements=[educators.c.educator_id], set_=values),
    )


async def move_educator(
    session: AsyncSession, educator_id: str, district_id: str, at: datetime
) -> bool:
    result = await execute_core(
        session,
        educators.update()
        .where(educators.c.educator_id == educator_id)
        .values(district_id=district_id, updated_at=at)
        .returning(educators.c.educator_id),
    )
    return result.first() is not None


async def get_educator(session: AsyncSession, educator_id: str) -> Educator | None:
    row = (
        await execute_core(
            session, sa.select(educators).where(educators.c.educator_id == educator_id)
        )
    ).first()
    if row is None:
        return None
    expires: date | None = row.license_expires_on
    return Educator(row.educator_id, row.district_id, row.role, row.license_type, expires)


# -- locks, usage and budgets ---------------------------------------------------------------


async def lock_award(session: AsyncSession, award_key: str) -> None:
    """Serialise every command about one award (duplicates, award vs. revocation)."""
    key = zlib.crc32(award_key.encode())
    await execute_core(session, sa.select(sa.func.pg_advisory_xact_lock(key)))


async def lock_usage(
    session: AsyncSession, keys: Mapping[UsageKey, int | None]
) -> dict[UsageKey, Usage]:
    """Row-lock (creating if needed) the usage counters, in key order; keys map to the cap."""
    found: dict[UsageKey, Usage] = {}
    for key in sorted(keys):
        educator_id, rule_id, period = key
        await execute_core(
            session,
            pg_insert(stipend_usage)
            .values(educator_id=educator_id, rule_id=rule_id, period=period, cap_cents=keys[key])
            .on_conflict_do_nothing(),
        )
        row = (
            await execute_core(
                session,
                sa.select(stipend_usage.c.paid_count, stipend_usage.c.paid_cents)
                .where(
                    stipend_usage.c.educator_id == educator_id,
                    stipend_usage.c.rule_id == rule_id,
                    stipend_usage.c.period == period,
                )
                .with_for_update(),
            )
        ).one()
        found[key] = Usage(row.paid_count, row.paid_cents)
    return found


async def add_usage(session: AsyncSession, key: UsageKey, count: int, cents: int) -> None:
    educator_id, rule_id, period = key
    await execute_core(
        session,
        stipend_usage.update()
        .where(
            stipend_usage.c.educator_id == educator_id,
            stipend_usage.c.rule_id == rule_id,
            stipend_usage.c.period == period,
        )
        .values(
            paid_count=stipend_usage.c.paid_count + count,
            paid_cents=stipend_usage.c.paid_cents + cents,
        ),
    )


def _budget_where(key: BudgetKey) -> sa.ColumnElement[bool]:
    district_id, funding_source, fiscal_year = key
    return sa.and_(
        budgets.c.district_id == district_id,
        budgets.c.funding_source == funding_source,
        budgets.c.fiscal_year == fiscal_year,
    )


async def lock_budgets(session: AsyncSession, keys: Iterable[BudgetKey]) -> dict[BudgetKey, Budget]:
    """Row-lock (creating empty ones if needed) the budgets, in key order."""
    found: dict[BudgetKey, Budget] = {}
    for key in sorted(set(keys)):
        district_id, funding_source, fiscal_year = key
        await execute_core(
            session,
            pg_insert(budgets)
            .values(district_id=district_id, funding_source=funding_source, fiscal_year=fiscal_year)
            .on_conflict_do_nothing(),
        )
        row = (
            await execute_core(
                session,
                sa.select(budgets.c.allocated_cents, budgets.c.committed_cents)
                .where(_budget_where(key))
                .with_for_update(),
            )
        ).one()
        found[key] = Budget(row.allocated_cents, row.committed_cents)
    return found


async def change_budget(
    session: AsyncSession, key: BudgetKey, *, allocated: int = 0, committed: int = 0
) -> None:
    # ck_budget_within_allocation backs this up: an over-commitment aborts the transaction.
    await execute_core(
        session,
        budgets.update()
        .where(_budget_where(key))
        .values(
            allocated_cents=budgets.c.allocated_cents + allocated,
            committed_cents=budgets.c.committed_cents + committed,
        ),
    )


async def record_allocation(
    session: AsyncSession, key: BudgetKey, amount_cents: int, added_by: str, at: datetime
) -> None:
    district_id, funding_source, fiscal_year = key
    await execute_core(
        session,
        budget_allocations.insert().values(
            district_id=district_id,
            funding_source=funding_source,
            fiscal_year=fiscal_year,
            amount_cents=amount_cents,
            added_by=added_by,
            added_at=at,
        ),
    )


async def budget_report(session: AsyncSession, key: BudgetKey) -> dict[str, int]:
    row = (
        await execute_core(
            session,
            sa.select(budgets.c.allocated_cents, budgets.c.committed_cents).where(
                _budget_where(key)
            ),
        )
    ).first()
    deferred = (
        await execute_core(
            session,
            sa.select(
                sa.func.count().label("n"),
                sa.func.coalesce(sa.func.sum(deferrals.c.amount_cents), 0).label("cents"),
            ).where(
                deferrals.c.district_id == key[0],
                deferrals.c.funding_source == key[1],
                deferrals.c.fiscal_year == key[2],
                deferrals.c.status == "deferred",
            ),
        )
    ).one()
    allocated, committed = (row.allocated_cents, row.committed_cents) if row else (0, 0)
    return {
        "allocated_cents": int(allocated),
        "committed_cents": int(committed),
        "remaining_cents": int(allocated - committed),
        "deferred_count": int(deferred.n),
        "deferred_cents": int(deferred.cents),
    }


# -- ledger, deferrals, revocations ---------------------------------------------------------


async def already_decided(
    session: AsyncSession, award_key: str, rule_id: str, fiscal_year: int
) -> bool:
    """An approval or deferral exists for (award, rule, fiscal year)."""
    entry = sa.select(ledger_entries.c.entry_id).where(
        ledger_entries.c.award_key == award_key,
        ledger_entries.c.rule_id == rule_id,
        ledger_entries.c.fiscal_year == fiscal_year,
        ledger_entries.c.kind == "approval",
    )
    deferral = sa.select(deferrals.c.deferral_id).where(
        deferrals.c.award_key == award_key,
        deferrals.c.rule_id == rule_id,
        deferrals.c.fiscal_year == fiscal_year,
    )
    row = (await execute_core(session, sa.select(sa.exists(entry.union_all(deferral))))).scalar()
    return bool(row)


async def insert_entry(session: AsyncSession, values: Mapping[str, Any]) -> None:
    await execute_core(session, ledger_entries.insert().values(**values))


async def insert_reversal(session: AsyncSession, values: Mapping[str, Any]) -> bool:
    """False if the original entry was reversed already (uq_ledger_reverses)."""
    result = await execute_core(
        session,
        pg_insert(ledger_entries)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[ledger_entries.c.reverses_entry_id])
        .returning(ledger_entries.c.entry_id),
    )
    return result.first() is not None


async def unreversed_approvals(session: AsyncSession, award_key: str) -> list[Any]:
    reversal = ledger_entries.alias("reversal")
    rows = await execute_core(
        session,
        sa.select(ledger_entries)
        .where(
            ledger_entries.c.award_key == award_key,
            ledger_entries.c.kind == "approval",
            ~sa.exists().where(reversal.c.reverses_entry_id == ledger_entries.c.entry_id),
        )
        .order_by(ledger_entries.c.rule_id, ledger_entries.c.fiscal_year),
    )
    return list(rows)


async def insert_deferral(session: AsyncSession, values: Mapping[str, Any]) -> None:
    await execute_core(session, deferrals.insert().values(status="deferred", **values))


async def waiting_deferrals(session: AsyncSession, key: BudgetKey) -> list[Any]:
    rows = await execute_core(
        session,
        sa.select(deferrals)
        .where(
            deferrals.c.district_id == key[0],
            deferrals.c.funding_source == key[1],
            deferrals.c.fiscal_year == key[2],
            deferrals.c.status == "deferred",
        )
        .order_by(deferrals.c.seq),
    )
    return list(rows)


async def lock_deferral(session: AsyncSession, deferral_id: str) -> str | None:
    """Row-lock a deferral; its status now (it may have been cancelled meanwhile)."""
    row = (
        await execute_core(
            session,
            sa.select(deferrals.c.status)
            .where(deferrals.c.deferral_id == deferral_id)
            .with_for_update(),
        )
    ).first()
    return str(row.status) if row else None


async def resolve_deferral(
    session: AsyncSession, deferral_id: str, status: str, at: datetime, entry_id: str | None
) -> None:
    await execute_core(
        session,
        deferrals.update()
        .where(deferrals.c.deferral_id == deferral_id)
        .values(status=status, resolved_at=at, entry_id=entry_id),
    )


async def cancel_deferrals(session: AsyncSession, award_key: str, at: datetime) -> list[Any]:
    """Cancel the award's waiting deferrals; returns the rows cancelled now (a deferral is
    cancelled at most once: only ``deferred`` ones match)."""
    result = await execute_core(
        session,
        deferrals.update()
        .where(deferrals.c.award_key == award_key, deferrals.c.status == "deferred")
        .values(status="cancelled", resolved_at=at)
        .returning(*deferrals.c),
    )
    return sorted(result.all(), key=lambda row: row.seq)


async def mark_revoked(session: AsyncSession, award_key: str, reason: str, at: datetime) -> None:
    await execute_core(
        session,
        pg_insert(revoked_awards)
        .values(award_key=award_key, reason=reason, revoked_at=at)
        .on_conflict_do_nothing(),
    )


async def is_revoked(session: AsyncSession, award_key: str) -> bool:
    row = (
        await execute_core(
            session,
            sa.select(revoked_awards.c.award_key).where(revoked_awards.c.award_key == award_key),
        )
    ).first()
    return row is not None


async def educator_entries(session: AsyncSession, educator_id: str) -> list[Any]:
    rows = await execute_core(
        session,
        sa.select(ledger_entries)
        .where(ledger_entries.c.educator_id == educator_id)
        .order_by(ledger_entries.c.seq),
    )
    return list(rows)
