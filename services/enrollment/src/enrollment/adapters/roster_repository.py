"""Set-based roster writes: COPY the validated rows into a staging table, then one upsert that
changes only rows that differ and returns each changed educator with their previous record."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from enrollment.domain.roster import FIELDS, EducatorRecord
from mc_events.contracts.roster import StaffRole
from mc_events.db import execute_core

_STAGING = "roster_staging"
_COLUMNS = ", ".join(FIELDS)
# The advisory lock key serialising roster imports: two imports bringing in the same new
# educator would otherwise both see them as new and both emit EducatorRegistered.
_IMPORT_LOCK = 7262104


@dataclass(frozen=True)
class ChangedEducator:
    row: int
    before: EducatorRecord | None
    after: EducatorRecord


def _record(values: sa.RowMapping, prefix: str = "") -> EducatorRecord:
    return EducatorRecord(
        **{name: values[f"{prefix}{name}"] for name in FIELDS if name != "role"},
        role=StaffRole(values[f"{prefix}role"]),
    )


class RosterRepository:
    """Queries and writes on ``educators``; never commits (the unit of work does)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def _driver(self) -> Any:
        conn = await self._session.connection()
        raw = await conn.get_raw_connection()
        return raw.driver_connection

    async def lock_for_import(self) -> None:
        await execute_core(self._session, sa.text(f"SELECT pg_advisory_xact_lock({_IMPORT_LOCK})"))

    async def stage(self, rows: Sequence[tuple[int, EducatorRecord]]) -> None:
        """COPY the rows into a temporary table that disappears at commit."""
        await execute_core(
            self._session,
            sa.text(
                f"CREATE TEMP TABLE {_STAGING} (row_no integer NOT NULL,"
                " educator_id text PRIMARY KEY, first_name text, middle_name text,"
                " last_name text, email text, district_id text, school_id text, role text,"
                " supervisor_id text, license_number text, license_type text,"
                " license_expires_on date) ON COMMIT DROP"
            ),
        )
        driver = await self._driver()
        await driver.copy_records_to_table(
            _STAGING,
            records=[
                (
                    row,
                    r.educator_id,
                    r.first_name,
                    r.middle_name,
                    r.last_name,
                    r.email,
                    r.district_id,
                    r.school_id,
                    r.role.value,
                    r.supervisor_id,
                    r.license_number,
                    r.license_type,
                    r.license_expires_on,
                )
                for row, r in rows
            ],
            columns=["row_no", *FIELDS],
        )

    async def unstage_foreign(self, district_id: str) -> list[tuple[int, str]]:
        """Drop staged rows for educators another district employs; returns (row, district)."""
        result = await execute_core(
            self._session,
            sa.text(
                f"DELETE FROM {_STAGING} s USING educators e"
                " WHERE e.educator_id = s.educator_id AND e.district_id <> :district"
                " RETURNING s.row_no, e.district_id"
            ),
            {"district": district_id},
        )
        return [(int(row.row_no), str(row.district_id)) for row in result.all()]

    async def upsert_staged(
        self, now: datetime, staged: Mapping[int, EducatorRecord]
    ) -> list[ChangedEducator]:
        """Insert new educators and update changed ones; unchanged rows are not touched.

        Returns only the rows that were inserted or changed, with the record before the change
        (the statement's snapshot predates its own writes), ``None`` for new ones. The record
        after is the staged one (``staged``, by row number), so only the previous values travel
        back from the database.
        """
        assignments = ", ".join(f"{name} = EXCLUDED.{name}" for name in FIELDS[1:])
        current = ", ".join(f"educators.{name}" for name in FIELDS[1:])
        incoming = ", ".join(f"EXCLUDED.{name}" for name in FIELDS[1:])
        previous = ", ".join(f"prev.{name} AS prev_{name}" for name in FIELDS)
        statement = sa.text(
            f"WITH prev AS (SELECT e.* FROM educators e JOIN {_STAGING} s USING (educator_id)),"
            f" up AS (INSERT INTO educators ({_COLUMNS}, registered_at, updated_at)"
            f" SELECT {_COLUMNS}, :now, :now FROM {_STAGING} ORDER BY educator_id"
            f" ON CONFLICT (educator_id) DO UPDATE SET {assignments},"
            " updated_at = EXCLUDED.updated_at"
            f" WHERE ({current}) IS DISTINCT FROM ({incoming})"
            " RETURNING educators.educator_id)"
            f" SELECT s.row_no, {previous} FROM up"
            f" JOIN {_STAGING} s USING (educator_id)"
            " LEFT JOIN prev USING (educator_id) ORDER BY s.row_no"
        )
        result = await execute_core(self._session, statement, {"now": now})
        changed = []
        for values in result.mappings():
            before = _record(values, "prev_") if values["prev_educator_id"] is not None else None
            changed.append(ChangedEducator(values["row_no"], before, staged[values["row_no"]]))
        return changed

    async def get(self, educator_id: str) -> EducatorRecord | None:
        result = await execute_core(
            self._session,
            sa.text(f"SELECT {_COLUMNS} FROM educators WHERE educator_id = :id"),
            {"id": educator_id},
        )
        row = result.mappings().first()
        return _record(row) if row is not None else None
