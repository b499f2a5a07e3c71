"""The queries behind the registry's business gauges (``entrypoints/business_metrics.py``): one
row per labelled value, as :mod:`mc_platform.db_gauges` reads them."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from registry.adapters.licensure_tables import renewal_ledger
from registry.adapters.tables import credentials


def issued_query() -> sa.Select[Any]:
    return sa.select(sa.func.count()).select_from(credentials)


def by_status_query() -> sa.Select[Any]:
    return sa.select(credentials.c.status, sa.func.count()).group_by(credentials.c.status)


def renewal_credits_query() -> sa.CompoundSelect[Any]:
    credits = renewal_ledger.c.renewal_credits
    ledger = sa.select(
        sa.func.coalesce(sa.func.sum(credits).filter(credits > 0), 0).label("posted"),
        sa.func.coalesce(-sa.func.sum(credits).filter(credits < 0), 0).label("reversed"),
    ).cte("ledger")
    return sa.select(sa.literal("posted"), ledger.c.posted).union_all(
        sa.select(sa.literal("reversed"), ledger.c.reversed)
    )
