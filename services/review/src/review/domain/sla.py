"""Review SLA due dates in business days (weekends skipped, holidays as data)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime, timedelta


def is_business_day(day: date, holidays: Collection[date] = ()) -> bool:
    return day.weekday() < 5 and day not in holidays


def add_business_days(
    start: datetime, business_days: int, holidays: Collection[date] = ()
) -> datetime:
    """``start`` moved forward by ``business_days`` business days, same time of day.

    Friday 15:00 + 5 business days is the next Friday 15:00; Saturday + 1 is Monday. Days are
    counted in the timezone of ``start`` (UTC in this service). ``start`` must be aware.
    """
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    if business_days < 0:
        raise ValueError("business_days must be >= 0")
    current = start
    remaining = business_days
    while remaining > 0:
        current += timedelta(days=1)
        if is_business_day(current.date(), holidays):
            remaining -= 1
    return current


def week_start(now: datetime) -> datetime:
    """Monday 00:00 of ``now``'s week, in ``now``'s timezone: weekly capacity counts from it."""
    monday = now.date() - timedelta(days=now.weekday())
    return datetime(monday.year, monday.month, monday.day, tzinfo=now.tzinfo)
