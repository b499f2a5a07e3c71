"""Stipend rules and salary-lane rules as stored: one row per version of a rule id, holding the
version's definition as JSON. Versions are never edited; they run in the caller's transaction
and never commit."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from compensation.adapters.tables import salary_lane_rules, stipend_rules
from compensation.domain.fiscal import FiscalCalendar
from compensation.domain.lanes import SalaryLaneRule
from compensation.domain.rules import RuleKind, StipendRule
from mc_events.db import execute_core, insert_once

R = TypeVar("R", StipendRule, SalaryLaneRule)

# -- definitions as JSON --------------------------------------------------------------------


def _version_to_json(rule: StipendRule | SalaryLaneRule) -> dict[str, Any]:
    """What every kind of rule stores: its id, version, name, scope and dates."""
    return {
        "rule_id": rule.rule_id,
        "version": rule.version,
        "name": rule.name,
        "state": rule.state,
        "district_id": rule.district_id,
        "effective_from": rule.effective_from.isoformat(),
        "effective_until": rule.effective_until.isoformat() if rule.effective_until else None,
    }


def _version_from_json(data: Mapping[str, Any]) -> dict[str, Any]:
    until = data.get("effective_until")
    return {
        "rule_id": data["rule_id"],
        "version": int(data["version"]),
        "name": data["name"],
        "state": data["state"],
        "district_id": data.get("district_id"),
        "effective_from": datetime.fromisoformat(data["effective_from"]),
        "effective_until": datetime.fromisoformat(until) if until else None,
    }


def rule_to_json(rule: StipendRule) -> dict[str, Any]:
    return {
        **_version_to_json(rule),
        "kind": rule.kind.value,
        "amount_cents": rule.amount_cents,
        "funding_source": rule.funding_source,
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
    return StipendRule(
        **_version_from_json(data),
        kind=RuleKind(data["kind"]),
        amount_cents=int(data["amount_cents"]),
        funding_source=data["funding_source"],
        subject_ids=frozenset(data.get("subject_ids", ())),
        eligible_roles=frozenset(data.get("eligible_roles", ())),
        eligible_license_types=frozenset(data.get("eligible_license_types", ())),
        requires_valid_license=bool(data.get("requires_valid_license", False)),
        annual_cap_cents=data.get("annual_cap_cents"),
        calendar=FiscalCalendar(**data.get("calendar", {})),
    )


def lane_rule_to_json(rule: SalaryLaneRule) -> dict[str, Any]:
    return {
        **_version_to_json(rule),
        "lane": rule.lane,
        "rank": rule.rank,
        "stack_ids": sorted(rule.stack_ids),
        "eligible_roles": sorted(rule.eligible_roles),
    }


def lane_rule_from_json(data: Mapping[str, Any]) -> SalaryLaneRule:
    return SalaryLaneRule(
        **_version_from_json(data),
        lane=data.get("lane"),
        rank=int(data["rank"]),
        stack_ids=frozenset(data.get("stack_ids", ())),
        eligible_roles=frozenset(data.get("eligible_roles", ())),
    )


# -- versions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleStore(Generic[R]):
    """Where one kind of rule is stored, and how its definition is written and read."""

    table: sa.Table
    encode: Callable[[R], dict[str, Any]]
    decode: Callable[[Mapping[str, Any]], R]
    columns: Callable[[R], dict[str, str]] = lambda rule: {}
    """Columns of the row besides the scope and the definition."""


STIPEND_RULES: RuleStore[StipendRule] = RuleStore(
    stipend_rules, rule_to_json, rule_from_json, lambda rule: {"kind": rule.kind.value}
)
LANE_RULES: RuleStore[SalaryLaneRule] = RuleStore(
    salary_lane_rules, lane_rule_to_json, lane_rule_from_json
)


class RuleVersions(Generic[R]):
    """Every version of one kind of rule."""

    store: RuleStore[R]

    def __init__(self, session: AsyncSession, store: RuleStore[R]) -> None:
        self.session = session
        self.store = store

    async def _definitions(self, *where: sa.ColumnElement[bool], latest: bool = False) -> list[R]:
        version = self.store.table.c.version
        stmt = sa.select(self.store.table.c.definition).where(*where)
        stmt = stmt.order_by(version.desc()).limit(1) if latest else stmt.order_by(version)
        rows = await execute_core(self.session, stmt)
        return [self.store.decode(row.definition) for row in rows]

    async def versions(self, rule_id: str) -> list[R]:
        """Oldest first."""
        return await self._definitions(self.store.table.c.rule_id == rule_id)

    async def latest(self, rule_id: str) -> R | None:
        found = await self._definitions(self.store.table.c.rule_id == rule_id, latest=True)
        return found[0] if found else None

    async def version(self, rule_id: str, version: int) -> R | None:
        table = self.store.table
        found = await self._definitions(table.c.rule_id == rule_id, table.c.version == version)
        return found[0] if found else None

    async def of_scope(self, state: str, district_id: str) -> list[R]:
        """Every version of the rules of ``state`` that apply in ``district_id``."""
        table = self.store.table
        return await self._definitions(
            table.c.state == state,
            sa.or_(table.c.district_id.is_(None), table.c.district_id == district_id),
        )

    async def insert(self, rule: R, *, created_by: str, at: datetime) -> bool:
        """False if this (rule id, version) exists already (a concurrent publication won)."""
        return await insert_once(
            self.session,
            self.store.table,
            {
                "rule_id": rule.rule_id,
                "version": rule.version,
                "state": rule.state,
                "district_id": rule.district_id,
                **self.store.columns(rule),
                "definition": self.store.encode(rule),
                "created_by": created_by,
                "created_at": at,
            },
        )
