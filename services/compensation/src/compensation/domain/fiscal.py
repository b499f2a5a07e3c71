"""Fiscal calendars: which fiscal year and period a moment falls in.

A fiscal year is named by the calendar year it ends in (Florida's FY 2026 runs from 1 July 2025
to 30 June 2026). Boundaries are drawn in the calendar's own time zone, not in UTC: an award at
23:30 on 30 June in Tallahassee is 03:30 UTC on 1 July, and still belongs to the old year.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mc_platform.refusals import Invalid


class InvalidCalendar(Invalid, ValueError):
    """A fiscal calendar that cannot be used (bad start date or time zone)."""


@dataclass(frozen=True)
class FiscalCalendar:
    """Where a district's (or state's) fiscal year starts, and in which time zone."""

    start_month: int = 7
    start_day: int = 1
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        if not 1 <= self.start_month <= 12:
            raise InvalidCalendar("start_month must be 1..12")
        # Days after the 28th would not exist in every month (periods are counted in months).
        if not 1 <= self.start_day <= 28:
            raise InvalidCalendar("start_day must be 1..28")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise InvalidCalendar(f"unknown time zone {self.timezone!r}") from exc

    @property
    def _starts_on_new_year(self) -> bool:
        return (self.start_month, self.start_day) == (1, 1)

    def local_date(self, at: datetime) -> date:
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError("a fiscal date needs a timezone-aware datetime")
        return at.astimezone(ZoneInfo(self.timezone)).date()

    def fiscal_year(self, at: datetime) -> int:
        """The fiscal year ``at`` falls in, named by the calendar year it ends in."""
        day = self.local_date(at)
        if self._starts_on_new_year:
            return day.year
        start = date(day.year, self.start_month, self.start_day)
        return day.year + 1 if day >= start else day.year

    def year_start(self, fiscal_year: int) -> date:
        """First day of ``fiscal_year`` (local date)."""
        year = fiscal_year if self._starts_on_new_year else fiscal_year - 1
        return date(year, self.start_month, self.start_day)

    def fiscal_period(self, at: datetime) -> int:
        """The month of the fiscal year ``at`` falls in: 1 for the first month, up to 12."""
        day = self.local_date(at)
        start = self.year_start(self.fiscal_year(at))
        months = (day.year - start.year) * 12 + day.month - start.month
        if day.day < start.day:
            months -= 1
        return months + 1
