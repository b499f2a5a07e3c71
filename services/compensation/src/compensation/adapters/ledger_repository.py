"""The ledger and what it draws on: award locks, usage counters, district budgets, ledger
entries, deferrals and revoked awards. Queries run in the caller's transaction and never commit.

Row locks are taken in one order everywhere (award advisory lock, then usage rows, then budget
rows, then deferral rows, each group in key order) so concurrent commands queue instead of
deadlocking; see service_layer/stipends.py.
"""

from __future__ import annotations

import json
import zlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from compensation.adapters.reissues_repository import original_credential_query
from compensation.adapters.rules_repository import rule_from_json
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
from compensation.domain.ledger import APPROVAL, BudgetStatus, Deferral, LedgerEntry
from compensation.domain.rules import (
    Award,
    Basis,
    Budget,
    BudgetKey,
    Educator,
    RuleKind,
    StipendRule,
    Usage,
    UsageKey,
)
from mc_events.db import execute_core

# -- typed rows -----------------------------------------------------------------------------

_ENTRY_FIELDS = tuple(f.name for f in fields(LedgerEntry))
_DEFERRAL_FIELDS = tuple(f.name for f in fields(Deferral))


def entry_of(row: sa.Row[Any]) -> LedgerEntry:
    """A ``ledger_entries`` row (``SELECT ledger_entries.*``, maybe with other columns)."""
    values = row._mapping
    return LedgerEntry(**{name: values[name] for name in _ENTRY_FIELDS})


def deferral_of(row: sa.Row[Any]) -> Deferral:
    """A ``stipend_deferrals`` row."""
    values = row._mapping
    return Deferral(**{name: values[name] for name in _DEFERRAL_FIELDS})


def _columns_of(item: LedgerEntry | Deferral) -> dict[str, Any]:
    """The values to insert for ``item`` (its ``seq`` is the table's to give)."""
    names = _ENTRY_FIELDS if isinstance(item, LedgerEntry) else _DEFERRAL_FIELDS
    return {name: getattr(item, name) for name in names if name != "seq"}


_PARSED_RULES_MAX = 4096
_parsed_rules: dict[str, StipendRule] = {}
"""Rule definitions (their stored JSON text) already parsed. A published version is never
edited, and the key is the content itself, so an entry can never go stale."""


def _rule_from_text(definition: str) -> StipendRule:
    rule = _parsed_rules.get(definition)
    if rule is None:
        if len(_parsed_rules) >= _PARSED_RULES_MAX:
            _parsed_rules.clear()
        rule = _parsed_rules[definition] = rule_from_json(json.loads(definition))
    return rule


@dataclass(frozen=True)
class AwardScope:
    """What deciding an award needs to know before its lock, read in one statement."""

    source_id: str
    """The award's source id; for a credential, the original credential (reissues followed
    back)."""
    state: str | None
    """The district's state; None: the district is not registered with compensation."""
    rules: list[StipendRule]
    """Every version of the stipend rules of the district's state and of the district itself
    that pay for the award's basis (which one is in force is the domain's decision)."""
    educator: Educator | None
    """The educator on the roster read model, if there."""


_SOURCE_ID = sa.bindparam("source_id", type_=sa.Text)
_DISTRICT_ID = sa.bindparam("district_id", type_=sa.Text)
_EDUCATOR_ID = sa.bindparam("educator_id", type_=sa.Text)
_AWARD_KEY = sa.bindparam("award_key", type_=sa.Text)


def _award_scope_query(basis: Basis) -> sa.Select[Any]:
    source: sa.ColumnElement[str] = (
        original_credential_query(_SOURCE_ID).scalar_subquery()
        if basis is Basis.CREDENTIAL
        else _SOURCE_ID
    )
    scope = sa.select(
        source.label("source_id"),
        sa.select(districts.c.state)
        .where(districts.c.district_id == _DISTRICT_ID)
        .scalar_subquery()
        .label("state"),
    ).subquery("scope")
    rules_of_scope = sa.and_(
        stipend_rules.c.state == scope.c.state,
        sa.or_(stipend_rules.c.district_id.is_(None), stipend_rules.c.district_id == _DISTRICT_ID),
        stipend_rules.c.kind.in_([kind.value for kind in RuleKind if kind.basis is basis]),
    )
    return sa.select(
        scope.c.source_id,
        scope.c.state,
        educators.c.educator_id,
        educators.c.district_id.label("educator_district_id"),
        educators.c.role,
        educators.c.license_type,
        educators.c.license_expires_on,
        sa.cast(stipend_rules.c.definition, sa.Text).label("definition"),
    ).select_from(
        scope.outerjoin(educators, educators.c.educator_id == _EDUCATOR_ID).outerjoin(
            stipend_rules, rules_of_scope
        )
    )


_AWARD_SCOPE = {basis: _award_scope_query(basis) for basis in Basis}


_LOCK_AWARD = sa.select(sa.func.pg_advisory_xact_lock(sa.bindparam("key", type_=sa.BigInteger)))


def _unnest(name: str, columns: Iterable[sa.Column[Any]]) -> sa.TableValuedAlias:
    """Rows named ``name``, with the names and types of ``columns``, passed as one array
    parameter per column (``<name>_<column>``) and read back in array order: one cached
    statement whatever the number of rows."""
    columns = list(columns)
    return (
        sa.func.unnest(*(sa.bindparam(f"{name}_{c.name}", type_=pg.ARRAY(c.type)) for c in columns))
        .table_valued(*(sa.column(c.name, c.type) for c in columns), name=name)
        .render_derived(name=name)
    )


def _arrays(name: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> dict[str, Any]:
    """The parameters of ``_unnest(name, ...)`` for ``rows`` (one value per column each)."""
    values = list(zip(*rows, strict=True)) or [()] * len(columns)
    return {f"{name}_{column}": list(value) for column, value in zip(columns, values, strict=True)}


_USAGE_KEY = ("educator_id", "rule_id", "period")
_WANTED_USAGE = _unnest("wanted", (stipend_usage.c[c] for c in (*_USAGE_KEY, "cap_cents")))
_LOCK_USAGE = (
    pg_insert(stipend_usage)
    .from_select([*_USAGE_KEY, "cap_cents"], sa.select(_WANTED_USAGE))
    .on_conflict_do_update(
        index_elements=list(_USAGE_KEY), set_={"paid_count": stipend_usage.c.paid_count}
    )
    .returning(
        *(stipend_usage.c[c] for c in _USAGE_KEY),
        stipend_usage.c.paid_count,
        stipend_usage.c.paid_cents,
    )
)


_USAGE_DELTA = _unnest(
    "usage_delta",
    (
        *(stipend_usage.c[c] for c in _USAGE_KEY),
        sa.Column("paid_count", sa.Integer),
        sa.Column("paid_cents", sa.BigInteger),
    ),
)
_ADD_USAGE = (
    stipend_usage.update()
    .where(*(stipend_usage.c[c] == _USAGE_DELTA.c[c] for c in _USAGE_KEY))
    .values(
        paid_count=stipend_usage.c.paid_count + _USAGE_DELTA.c.paid_count,
        paid_cents=stipend_usage.c.paid_cents + _USAGE_DELTA.c.paid_cents,
    )
)
"""Add (count, cents) to each counter (the rows are locked already)."""


_BUDGET_KEY = ("district_id", "funding_source", "fiscal_year")
_WANTED_BUDGETS = _unnest("wanted", (budgets.c[c] for c in _BUDGET_KEY))
_LOCK_BUDGETS = (
    pg_insert(budgets)
    .from_select(list(_BUDGET_KEY), sa.select(_WANTED_BUDGETS))
    .on_conflict_do_update(
        index_elements=list(_BUDGET_KEY), set_={"allocated_cents": budgets.c.allocated_cents}
    )
    .returning(
        *(budgets.c[c] for c in _BUDGET_KEY), budgets.c.allocated_cents, budgets.c.committed_cents
    )
)


_BUDGET_DELTA = _unnest(
    "budget_delta",
    (*(budgets.c[c] for c in _BUDGET_KEY), sa.Column("committed_cents", sa.BigInteger)),
)
_COMMIT_TO_BUDGETS = (
    budgets.update()
    .where(*(budgets.c[c] == _BUDGET_DELTA.c[c] for c in _BUDGET_KEY))
    .values(committed_cents=budgets.c.committed_cents + _BUDGET_DELTA.c.committed_cents)
)
"""Add cents to the committed cents of each budget (the rows are locked already;
ck_budget_within_allocation aborts an over-commitment)."""


def _budget_is(table: sa.Table, key: BudgetKey) -> sa.ColumnElement[bool]:
    """Rows of ``table`` (budgets, deferrals) about the budget ``key``."""
    district_id, funding_source, fiscal_year = key
    return sa.and_(
        table.c.district_id == district_id,
        table.c.funding_source == funding_source,
        table.c.fiscal_year == fiscal_year,
    )


@dataclass(frozen=True)
class AwardHistory:
    revoked: bool
    """The award was revoked (nothing is paid for it, now or later)."""
    decided: frozenset[tuple[str, int]]
    """(rule id, fiscal year) of the award's approvals and deferrals (whatever their status)."""


_AWARD_HISTORY = sa.union_all(
    sa.select(
        sa.literal("decided", sa.Text).label("what"),
        ledger_entries.c.rule_id,
        ledger_entries.c.fiscal_year,
    ).where(ledger_entries.c.award_key == _AWARD_KEY, ledger_entries.c.kind == APPROVAL),
    sa.select(sa.literal("decided", sa.Text), deferrals.c.rule_id, deferrals.c.fiscal_year).where(
        deferrals.c.award_key == _AWARD_KEY
    ),
    sa.select(
        sa.literal("revoked", sa.Text),
        sa.cast(sa.null(), sa.Text),
        sa.cast(sa.null(), sa.Integer),
    ).where(revoked_awards.c.award_key == _AWARD_KEY),
)


APPROVAL_COLUMNS = (
    "entry_id",
    "kind",
    "educator_id",
    "district_id",
    "basis",
    "award_key",
    "credential_id",
    "stack_completion_id",
    "rule_id",
    "rule_version",
    "fiscal_year",
    "fiscal_period",
    "cap_period",
    "amount_cents",
    "funding_source",
    "awarded_at",
    "recorded_at",
)
"""The columns of an approval ledger entry (the others are those of reversals)."""

_NEW_ENTRIES = _unnest("entry", (ledger_entries.c[c] for c in APPROVAL_COLUMNS))
_WRITTEN = (
    ledger_entries.insert()
    .from_select(list(APPROVAL_COLUMNS), sa.select(_NEW_ENTRIES))
    .returning(ledger_entries.c.entry_id)
    .cte("written")
)
_COUNTED = _ADD_USAGE.returning(stipend_usage.c.rule_id).cte("counted")
_CHARGED = _COMMIT_TO_BUDGETS.returning(budgets.c.fiscal_year).cte("charged")
_RECORD_APPROVALS = sa.select(
    *(
        sa.select(sa.func.count()).select_from(cte).scalar_subquery()
        for cte in (_WRITTEN, _COUNTED, _CHARGED)
    )
)


class Ledger:
    """The ledger of one transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _execute(
        self, statement: sa.Executable, params: Mapping[str, Any] | None = None
    ) -> sa.CursorResult[Any]:
        return await execute_core(self.session, statement, params)

    # -- what an award needs -----------------------------------------------------------------

    async def award_scope(self, award: Award) -> AwardScope:
        """The award's original source id, its district's state, the rules that may pay it
        and the educator, in one statement (reads only: nothing is locked)."""
        rows = (
            await self._execute(
                _AWARD_SCOPE[award.basis],
                {
                    "source_id": award.source_id,
                    "district_id": award.district_id,
                    "educator_id": award.educator_id,
                },
            )
        ).all()
        first = rows[0]
        educator = (
            Educator(
                first.educator_id,
                first.educator_district_id,
                first.role,
                first.license_type,
                first.license_expires_on,
            )
            if first.educator_id is not None
            else None
        )
        return AwardScope(
            source_id=str(first.source_id),
            state=None if first.state is None else str(first.state),
            rules=[_rule_from_text(row.definition) for row in rows if row.definition is not None],
            educator=educator,
        )

    async def lock_award(self, award_key: str) -> None:
        """Serialise every command about one award (duplicates, award vs. revocation)."""
        await self._execute(_LOCK_AWARD, {"key": zlib.crc32(award_key.encode())})

    async def award_history(self, award_key: str) -> AwardHistory:
        """Whether the award was revoked and what was decided for it already, in one
        statement (read under the award lock, so it is up to date)."""
        rows = (await self._execute(_AWARD_HISTORY, {"award_key": award_key})).all()
        return AwardHistory(
            revoked=any(row.what == "revoked" for row in rows),
            decided=frozenset(
                (row.rule_id, row.fiscal_year) for row in rows if row.what == "decided"
            ),
        )

    async def mark_revoked(self, award_key: str, reason: str, at: datetime) -> None:
        await self._execute(
            pg_insert(revoked_awards)
            .values(award_key=award_key, reason=reason, revoked_at=at)
            .on_conflict_do_nothing()
        )

    async def is_revoked(self, award_key: str) -> bool:
        row = (
            await self._execute(
                sa.select(revoked_awards.c.award_key).where(revoked_awards.c.award_key == award_key)
            )
        ).first()
        return row is not None

    # -- usage counters and budgets ----------------------------------------------------------

    async def lock_usage(self, keys: Mapping[UsageKey, int | None]) -> dict[UsageKey, Usage]:
        """Row-lock (creating if needed) the usage counters, in key order; keys map to the
        cap.

        One statement: the rows are inserted in key order, and an existing row is locked by a
        no-op update (its cap is kept)."""
        if not keys:
            return {}
        rows = await self._execute(
            _LOCK_USAGE,
            _arrays(
                "wanted",
                (*_USAGE_KEY, "cap_cents"),
                ((*key, cap) for key, cap in sorted(keys.items())),
            ),
        )
        return {
            (row.educator_id, row.rule_id, row.period): Usage(row.paid_count, row.paid_cents)
            for row in rows
        }

    async def lock_budgets(self, keys: Iterable[BudgetKey]) -> dict[BudgetKey, Budget]:
        """Row-lock (creating empty ones if needed) the budgets, in key order.

        One statement: the rows are inserted in key order, and an existing row is locked by a
        no-op update."""
        ordered = sorted(set(keys))
        if not ordered:
            return {}
        rows = await self._execute(_LOCK_BUDGETS, _arrays("wanted", _BUDGET_KEY, ordered))
        return {
            (row.district_id, row.funding_source, row.fiscal_year): Budget(
                row.allocated_cents, row.committed_cents
            )
            for row in rows
        }

    async def _add_usage(self, key: UsageKey, count: int, cents: int) -> None:
        educator_id, rule_id, period = key
        await self._execute(
            stipend_usage.update()
            .where(
                stipend_usage.c.educator_id == educator_id,
                stipend_usage.c.rule_id == rule_id,
                stipend_usage.c.period == period,
            )
            .values(
                paid_count=stipend_usage.c.paid_count + count,
                paid_cents=stipend_usage.c.paid_cents + cents,
            )
        )

    async def _change_budget(
        self, key: BudgetKey, *, allocated: int = 0, committed: int = 0
    ) -> None:
        # ck_budget_within_allocation backs this up: an over-commitment aborts the transaction.
        await self._execute(
            budgets.update()
            .where(_budget_is(budgets, key))
            .values(
                allocated_cents=budgets.c.allocated_cents + allocated,
                committed_cents=budgets.c.committed_cents + committed,
            )
        )

    async def add_funds(
        self, key: BudgetKey, amount_cents: int, *, added_by: str, at: datetime
    ) -> None:
        """Raise the budget's allocation (its row locked already) and record who did."""
        await self._change_budget(key, allocated=amount_cents)
        district_id, funding_source, fiscal_year = key
        await self._execute(
            budget_allocations.insert().values(
                district_id=district_id,
                funding_source=funding_source,
                fiscal_year=fiscal_year,
                amount_cents=amount_cents,
                added_by=added_by,
                added_at=at,
            )
        )

    async def budget_status(self, key: BudgetKey) -> BudgetStatus:
        row = (
            await self._execute(
                sa.select(budgets.c.allocated_cents, budgets.c.committed_cents).where(
                    _budget_is(budgets, key)
                )
            )
        ).first()
        deferred = (
            await self._execute(
                sa.select(
                    sa.func.count().label("n"),
                    sa.func.coalesce(sa.func.sum(deferrals.c.amount_cents), 0).label("cents"),
                ).where(_budget_is(deferrals, key), deferrals.c.status == "deferred")
            )
        ).one()
        allocated, committed = (row.allocated_cents, row.committed_cents) if row else (0, 0)
        return BudgetStatus(
            allocated_cents=int(allocated),
            committed_cents=int(committed),
            deferred_count=int(deferred.n),
            deferred_cents=int(deferred.cents),
        )

    # -- ledger entries ----------------------------------------------------------------------

    async def record_approvals(self, entries: Sequence[LedgerEntry]) -> None:
        """Approval ledger entries (in the given order: their ``seq`` follows it), what they
        add to the usage counters and to the budgets' committed cents, in one statement. The
        counters and budgets must be row-locked already (``lock_usage``, ``lock_budgets``): the
        three writes then wait for nothing, and the database constraints still abort the
        transaction if one would break a cap or a budget."""
        if not entries:
            return
        counted: Counter[UsageKey] = Counter()
        usage: Counter[UsageKey] = Counter()
        committed: Counter[BudgetKey] = Counter()
        for entry in entries:
            counted[entry.usage_key] += 1
            usage[entry.usage_key] += entry.amount_cents
            committed[entry.budget_key] += entry.amount_cents
        await self._execute(
            _RECORD_APPROVALS,
            {
                **_arrays(
                    "entry",
                    APPROVAL_COLUMNS,
                    ([getattr(e, c) for c in APPROVAL_COLUMNS] for e in entries),
                ),
                **_arrays(
                    "usage_delta",
                    (*_USAGE_KEY, "paid_count", "paid_cents"),
                    ((*key, counted[key], cents) for key, cents in sorted(usage.items())),
                ),
                **_arrays(
                    "budget_delta",
                    (*_BUDGET_KEY, "committed_cents"),
                    ((*key, cents) for key, cents in sorted(committed.items())),
                ),
            },
        )

    async def record_reversal(self, reversal: LedgerEntry) -> bool:
        """The reversal entry, and what it gives back to the usage counter and the budget
        (their rows locked already). False, and nothing written, if the original entry was
        reversed already (uq_ledger_reverses)."""
        inserted = (
            await self._execute(
                pg_insert(ledger_entries)
                .values(**_columns_of(reversal))
                .on_conflict_do_nothing(index_elements=[ledger_entries.c.reverses_entry_id])
                .returning(ledger_entries.c.entry_id)
            )
        ).first()
        if inserted is None:
            return False
        await self._add_usage(reversal.usage_key, -1, reversal.amount_cents)
        await self._change_budget(reversal.budget_key, committed=reversal.amount_cents)
        return True

    async def insert_entry(self, entry: LedgerEntry) -> None:
        """One entry as it is, nothing else (fixtures: commands record approvals and
        reversals with their counters)."""
        await self._execute(ledger_entries.insert().values(**_columns_of(entry)))

    async def unreversed_approvals(self, award_key: str) -> list[LedgerEntry]:
        reversal = ledger_entries.alias("reversal")
        rows = await self._execute(
            sa.select(ledger_entries)
            .where(
                ledger_entries.c.award_key == award_key,
                ledger_entries.c.kind == APPROVAL,
                ~sa.exists().where(reversal.c.reverses_entry_id == ledger_entries.c.entry_id),
            )
            .order_by(ledger_entries.c.rule_id, ledger_entries.c.fiscal_year)
        )
        return [entry_of(row) for row in rows]

    async def educator_entries(self, educator_id: str) -> list[LedgerEntry]:
        rows = await self._execute(
            sa.select(ledger_entries)
            .where(ledger_entries.c.educator_id == educator_id)
            .order_by(ledger_entries.c.seq)
        )
        return [entry_of(row) for row in rows]

    # -- deferrals ---------------------------------------------------------------------------

    async def insert_deferrals(self, waiting: Sequence[Deferral]) -> None:
        """Waiting deferrals in one statement, in the given order (their ``seq`` follows
        it)."""
        if waiting:
            await self._execute(
                deferrals.insert().values([_columns_of(deferral) for deferral in waiting])
            )

    async def waiting_deferrals(self, key: BudgetKey) -> list[Deferral]:
        """The budget's deferrals still waiting, oldest first."""
        rows = await self._execute(
            sa.select(deferrals)
            .where(_budget_is(deferrals, key), deferrals.c.status == "deferred")
            .order_by(deferrals.c.seq)
        )
        return [deferral_of(row) for row in rows]

    async def lock_deferral(self, deferral_id: str) -> str | None:
        """Row-lock a deferral; its status now (it may have been cancelled meanwhile)."""
        row = (
            await self._execute(
                sa.select(deferrals.c.status)
                .where(deferrals.c.deferral_id == deferral_id)
                .with_for_update()
            )
        ).first()
        return str(row.status) if row else None

    async def resolve_deferral(
        self, deferral_id: str, status: str, at: datetime, entry_id: str | None
    ) -> None:
        await self._execute(
            deferrals.update()
            .where(deferrals.c.deferral_id == deferral_id)
            .values(status=status, resolved_at=at, entry_id=entry_id)
        )

    async def cancel_deferrals(self, award_key: str, at: datetime) -> list[Deferral]:
        """Cancel the award's waiting deferrals; returns those cancelled now, oldest first (a
        deferral is cancelled at most once: only ``deferred`` ones match)."""
        result = await self._execute(
            deferrals.update()
            .where(deferrals.c.award_key == award_key, deferrals.c.status == "deferred")
            .values(status="cancelled", resolved_at=at)
            .returning(*deferrals.c)
        )
        return sorted((deferral_of(row) for row in result.all()), key=lambda d: d.seq or 0)
