"""Queries behind salary lanes and credential holds. They run in the caller's transaction and
never commit. Grants, grant reversals, lane changes and status history are append-only
(database triggers refuse UPDATE and DELETE); only ``credential_status`` (the current status
of a credential, a read model) is updated in place."""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from compensation.adapters.tables import (
    credential_status,
    credential_status_history,
    lane_changes,
    lane_grant_reversals,
    lane_grants,
    ledger_entries,
    payroll_items,
    salary_lane_rules,
)
from compensation.domain.lanes import LaneGrant, SalaryLaneRule
from mc_events.db import execute_core, insert_once

# -- rules ----------------------------------------------------------------------------------


def lane_rule_to_json(rule: SalaryLaneRule) -> dict[str, Any]:
    return {
        "rule_id": rule.rule_id,
        "version": rule.version,
        "name": rule.name,
        "state": rule.state,
        "district_id": rule.district_id,
        "lane": rule.lane,
        "rank": rule.rank,
        "effective_from": rule.effective_from.isoformat(),
        "effective_until": rule.effective_until.isoformat() if rule.effective_until else None,
        "stack_ids": sorted(rule.stack_ids),
        "eligible_roles": sorted(rule.eligible_roles),
    }


def lane_rule_from_json(data: Mapping[str, Any]) -> SalaryLaneRule:
    until = data.get("effective_until")
    return SalaryLaneRule(
        rule_id=data["rule_id"],
        version=int(data["version"]),
        name=data["name"],
        state=data["state"],
        district_id=data.get("district_id"),
        lane=data.get("lane"),
        rank=int(data["rank"]),
        effective_from=datetime.fromisoformat(data["effective_from"]),
        effective_until=datetime.fromisoformat(until) if until else None,
        stack_ids=frozenset(data.get("stack_ids", ())),
        eligible_roles=frozenset(data.get("eligible_roles", ())),
    )


async def lane_rule_versions(session: AsyncSession, rule_id: str) -> list[SalaryLaneRule]:
    rows = await execute_core(
        session,
        sa.select(salary_lane_rules.c.definition)
        .where(salary_lane_rules.c.rule_id == rule_id)
        .order_by(salary_lane_rules.c.version),
    )
    return [lane_rule_from_json(row.definition) for row in rows]


async def insert_lane_rule(
    session: AsyncSession, rule: SalaryLaneRule, *, created_by: str, at: datetime
) -> bool:
    """False if this (rule id, version) exists already (a concurrent publication won)."""
    return await insert_once(
        session,
        salary_lane_rules,
        {
            "rule_id": rule.rule_id,
            "version": rule.version,
            "state": rule.state,
            "district_id": rule.district_id,
            "definition": lane_rule_to_json(rule),
            "created_by": created_by,
            "created_at": at,
        },
    )


async def lane_rules_for(
    session: AsyncSession, state: str, district_id: str
) -> list[SalaryLaneRule]:
    rows = await execute_core(
        session,
        sa.select(salary_lane_rules.c.definition).where(
            salary_lane_rules.c.state == state,
            sa.or_(
                salary_lane_rules.c.district_id.is_(None),
                salary_lane_rules.c.district_id == district_id,
            ),
        ),
    )
    return [lane_rule_from_json(row.definition) for row in rows]


# -- grants and lane history ----------------------------------------------------------------


async def lock_lanes(session: AsyncSession, educator_id: str, district_id: str) -> None:
    """Serialise lane commands of one educator in one district (their lane is one value)."""
    key = zlib.crc32(f"lanes:{educator_id}:{district_id}".encode())
    await execute_core(session, sa.select(sa.func.pg_advisory_xact_lock(key)))


def _standing() -> sa.ColumnElement[bool]:
    return ~sa.exists().where(lane_grant_reversals.c.grant_id == lane_grants.c.grant_id)


async def standing_grants(
    session: AsyncSession, educator_id: str, district_id: str
) -> list[LaneGrant]:
    rows = await execute_core(
        session,
        sa.select(lane_grants.c.grant_id, lane_grants.c.lane, lane_grants.c.rank, lane_grants.c.seq)
        .where(
            lane_grants.c.educator_id == educator_id,
            lane_grants.c.district_id == district_id,
            _standing(),
        )
        .order_by(lane_grants.c.seq),
    )
    return [LaneGrant(row.grant_id, row.lane, row.rank, row.seq) for row in rows]


async def insert_grant(session: AsyncSession, values: Mapping[str, Any]) -> bool:
    """False if this completion was granted under this rule already."""
    return await insert_once(session, lane_grants, values)


async def get_grant(session: AsyncSession, grant_id: str) -> Any:
    return (
        await execute_core(
            session, sa.select(lane_grants).where(lane_grants.c.grant_id == grant_id)
        )
    ).first()


async def standing_grants_of_completion(
    session: AsyncSession, stack_completion_id: str
) -> list[Any]:
    rows = await execute_core(
        session,
        sa.select(lane_grants)
        .where(lane_grants.c.stack_completion_id == stack_completion_id, _standing())
        .order_by(lane_grants.c.rule_id),
    )
    return list(rows)


async def insert_grant_reversal(
    session: AsyncSession, grant_id: str, reason: str, reversed_at: datetime, at: datetime
) -> bool:
    """False if the grant was reversed already."""
    return await insert_once(
        session,
        lane_grant_reversals,
        {"grant_id": grant_id, "reason": reason, "reversed_at": reversed_at, "recorded_at": at},
    )


async def insert_lane_change(session: AsyncSession, values: Mapping[str, Any]) -> bool:
    return await insert_once(session, lane_changes, values)


async def change_that_set(
    session: AsyncSession, educator_id: str, district_id: str, grant_id: str
) -> str | None:
    """The lane change ``grant_id`` made when granted; else the educator's latest change."""
    own = (
        await execute_core(
            session,
            sa.select(lane_changes.c.change_id).where(
                lane_changes.c.grant_id == grant_id,
                lane_changes.c.reason == "stack_completed",
            ),
        )
    ).first()
    if own is not None:
        return str(own.change_id)
    latest = (
        await execute_core(
            session,
            sa.select(lane_changes.c.change_id)
            .where(
                lane_changes.c.educator_id == educator_id,
                lane_changes.c.district_id == district_id,
            )
            .order_by(lane_changes.c.seq.desc())
            .limit(1),
        )
    ).first()
    return str(latest.change_id) if latest else None


async def educator_lane_changes(session: AsyncSession, educator_id: str) -> list[Any]:
    rows = await execute_core(
        session,
        sa.select(lane_changes)
        .where(lane_changes.c.educator_id == educator_id)
        .order_by(lane_changes.c.seq),
    )
    return list(rows)


async def educator_grants(session: AsyncSession, educator_id: str) -> list[Any]:
    rows = await execute_core(
        session,
        sa.select(
            lane_grants,
            lane_grant_reversals.c.reversed_at,
            lane_grant_reversals.c.reason.label("reversal_reason"),
        )
        .outerjoin(lane_grant_reversals, lane_grant_reversals.c.grant_id == lane_grants.c.grant_id)
        .where(lane_grants.c.educator_id == educator_id)
        .order_by(lane_grants.c.seq),
    )
    return list(rows)


async def district_lane_changes(
    session: AsyncSession, district_id: str, *, after_seq: int, limit: int
) -> list[Any]:
    rows = await execute_core(
        session,
        sa.select(lane_changes)
        .where(lane_changes.c.district_id == district_id, lane_changes.c.seq > after_seq)
        .order_by(lane_changes.c.seq)
        .limit(limit),
    )
    return list(rows)


# -- credential status and holds ------------------------------------------------------------


async def get_status(session: AsyncSession, credential_id: str, *, lock: bool = False) -> Any:
    stmt = sa.select(credential_status).where(credential_status.c.credential_id == credential_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await execute_core(session, stmt)).first()


async def set_status(
    session: AsyncSession,
    *,
    credential_id: str,
    educator_id: str,
    district_id: str,
    status: str,
    changed_at: datetime,
    reason: str,
    at: datetime,
) -> None:
    values = {
        "educator_id": educator_id,
        "district_id": district_id,
        "status": status,
        "changed_at": changed_at,
        "reason": reason,
    }
    await execute_core(
        session,
        pg_insert(credential_status)
        .values(credential_id=credential_id, **values)
        .on_conflict_do_update(index_elements=[credential_status.c.credential_id], set_=values),
    )
    await execute_core(
        session,
        pg_insert(credential_status_history)
        .values(
            credential_id=credential_id,
            status=status,
            changed_at=changed_at,
            reason=reason,
            recorded_at=at,
        )
        .on_conflict_do_nothing(),
    )


def suspended_credential(credential_id: sa.ColumnElement[Any]) -> sa.Exists:
    """True where ``credential_id`` is currently suspended."""
    return sa.exists().where(
        credential_status.c.credential_id == credential_id,
        credential_status.c.status == "suspended",
    )


def _live_item() -> sa.Exists:
    return sa.exists().where(
        payroll_items.c.entry_id == ledger_entries.c.entry_id,
        payroll_items.c.status != "rejected",
    )


def held_entries_query() -> sa.Select[Any]:
    """Ledger entries held from payroll: their credential is suspended and no live batch
    carries them (an entry already exported stays in its batch)."""
    return sa.select(ledger_entries).where(
        ledger_entries.c.credential_id.is_not(None),
        suspended_credential(ledger_entries.c.credential_id),
        ~_live_item(),
    )


async def held_entries_of_credential(session: AsyncSession, credential_id: str) -> list[str]:
    rows = await execute_core(
        session,
        held_entries_query()
        .where(ledger_entries.c.credential_id == credential_id)
        .order_by(ledger_entries.c.seq),
    )
    return [row.entry_id for row in rows]


async def unexported_entries_of_credential(session: AsyncSession, credential_id: str) -> list[str]:
    rows = await execute_core(
        session,
        sa.select(ledger_entries.c.entry_id)
        .where(ledger_entries.c.credential_id == credential_id, ~_live_item())
        .order_by(ledger_entries.c.seq),
    )
    return [row.entry_id for row in rows]


async def held_entries(
    session: AsyncSession,
    *,
    district_id: str | None = None,
    educator_id: str | None = None,
    fiscal_year: int | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[Any]:
    """Held entries by ledger seq (unique: pages never overlap or skip); all without a limit."""
    stmt = held_entries_query()
    if district_id is not None:
        stmt = stmt.where(ledger_entries.c.district_id == district_id)
    if educator_id is not None:
        stmt = stmt.where(ledger_entries.c.educator_id == educator_id)
    if fiscal_year is not None:
        stmt = stmt.where(ledger_entries.c.fiscal_year == fiscal_year)
    stmt = stmt.order_by(ledger_entries.c.seq).offset(offset)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(await execute_core(session, stmt))
