"""The roster: import an HR file (CSV or JSON): validate, upsert in bulk, emit the changes; and
read one educator's record.

One transaction per import: every good row goes in (bad rows are reported, row by row), and the
roster events for real changes commit with them through the outbox. Re-importing the same file
finds nothing to change and emits nothing.

    report = await import_roster(uow, data, filename="staff.csv", now=clock())
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import io
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from enrollment.adapters.roster_repository import ChangedEducator
from enrollment.domain.roster import (
    EducatorRecord,
    RosterChange,
    RowError,
    ValidatedRows,
    canonical_field,
    roster_changes,
    validate_rows,
)
from enrollment.service_layer.unit_of_work import UnitOfWork
from mc_events.contracts.base import Event
from mc_events.contracts.roster import (
    EducatorMovedDistrict,
    EducatorRegistered,
    EducatorUpdated,
    License,
)
from mc_platform.refusals import ContentTooLarge, Invalid, NotFound

log = logging.getLogger(__name__)

MAX_IMPORT_BYTES = 64 * 1024 * 1024
"""About 300,000 rows of CSV; larger rosters go in several files."""
EVENT_CHUNK = 2000
"""Events written to the outbox per statement batch (keeps bind parameters well under
PostgreSQL's 32,767 per statement)."""
PROGRESS_EVERY = 20_000


class FileFormat(StrEnum):
    CSV = "csv"
    JSON = "json"


class UnreadableFile(Invalid):
    """The file as a whole cannot be read (not CSV/JSON, bad encoding, no usable columns):
    nothing changed (422)."""


class FileTooLarge(ContentTooLarge):
    """The file is larger than :data:`MAX_IMPORT_BYTES` (413): nothing was read."""


class UnknownEducator(NotFound):
    """No such educator, or not one the caller may see (the same answer for both)."""

    def __init__(self) -> None:
        super().__init__("no such educator")


@dataclass
class ImportReport:
    import_id: str
    rows: int = 0
    accepted: int = 0
    registered: int = 0
    updated: int = 0
    moved: int = 0
    unchanged: int = 0
    events: int = 0
    errors: list[RowError] = field(default_factory=list)
    seconds: float = 0.0


def detect_format(filename: str | None, content_type: str | None) -> FileFormat:
    name = (filename or "").lower()
    kind = (content_type or "").lower()
    if name.endswith(".json") or "json" in kind:
        return FileFormat.JSON
    if name.endswith(".csv") or "csv" in kind or kind.startswith("text/plain"):
        return FileFormat.CSV
    raise UnreadableFile("cannot tell the file format: name it .csv or .json")


def _canonical(raw: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in raw.items():
        name = canonical_field(str(key)) if key is not None else None
        if name is not None:
            out[name] = value
    return out


def parse_rows(data: bytes, fmt: FileFormat) -> list[tuple[int, dict[str, Any]]]:
    """Rows keyed by canonical field name, numbered from 1 (CSV header not counted)."""
    try:
        text = codecs.decode(data, "utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(f"the file is not UTF-8: {exc}") from exc
    if fmt is FileFormat.CSV:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        header = reader.fieldnames or []
        if "educator_id" not in {canonical_field(h) for h in header}:
            raise UnreadableFile("the CSV header has no educator id column (educator_id)")
        return [(n, _canonical(raw)) for n, raw in enumerate(reader, start=1)]
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UnreadableFile(f"the file is not JSON: {exc}") from exc
    if isinstance(document, dict):
        # Ed-Fi bulk files wrap records: {"staff": [...]}; accept any single list member.
        lists = [v for v in document.values() if isinstance(v, list)]
        if len(lists) != 1:
            raise UnreadableFile("a JSON object must hold exactly one list of staff records")
        document = lists[0]
    if not isinstance(document, list):
        raise UnreadableFile("the JSON file must be a list of staff records")
    rows: list[tuple[int, dict[str, Any]]] = []
    for n, item in enumerate(document, start=1):
        rows.append((n, _canonical(item) if isinstance(item, dict) else {}))
    return rows


def _license(record: EducatorRecord) -> License | None:
    if record.license_number is None or record.license_type is None:
        return None
    return License(
        number=record.license_number,
        license_type=record.license_type,
        expires_on=record.license_expires_on,
    )


def _snapshot(record: EducatorRecord) -> dict[str, Any]:
    return {
        "educator_id": record.educator_id,
        "first_name": record.first_name,
        "middle_name": record.middle_name,
        "last_name": record.last_name,
        "email": record.email,
        "district_id": record.district_id,
        "school_id": record.school_id,
        "role": record.role,
        "supervisor_id": record.supervisor_id,
        "license": _license(record),
    }


def events_for(change: ChangedEducator, now: datetime) -> list[Event]:
    events: list[Event] = []
    for kind in roster_changes(change.before, change.after):
        after = change.after
        if kind is RosterChange.REGISTERED:
            events.append(EducatorRegistered(**_snapshot(after), registered_at=now))
        elif kind is RosterChange.UPDATED:
            events.append(EducatorUpdated(**_snapshot(after), updated_at=now))
        else:
            assert change.before is not None
            events.append(
                EducatorMovedDistrict(
                    educator_id=after.educator_id,
                    from_district_id=change.before.district_id,
                    from_school_id=change.before.school_id,
                    to_district_id=after.district_id,
                    to_school_id=after.school_id,
                    supervisor_id=after.supervisor_id,
                    effective_at=now,
                )
            )
    return events


async def add_events_in_bulk(
    uow: UnitOfWork, events: Sequence[Event], *, progress: Callable[[int], None]
) -> None:
    """Write events to the outbox in chunks (one multi-row statement pair per chunk): emitted
    on the unit of work and flushed into its transaction chunk by chunk, committed with the
    roster."""
    for start in range(0, len(events), EVENT_CHUNK):
        chunk = events[start : start + EVENT_CHUNK]
        for event in chunk:
            uow.emit(event)
        await uow.flush()
        progress(start + len(chunk))


async def import_roster(
    uow: UnitOfWork,
    data: bytes,
    *,
    filename: str | None = None,
    content_type: str | None = None,
    only_district: str | None = None,
    now: datetime,
) -> ImportReport:
    """Import one HR file. ``only_district``: a district admin's import, limited to the rows of
    their district and to educators not employed by another district.

    Refused, with nothing changed, when the file is larger than :data:`MAX_IMPORT_BYTES`
    (:class:`FileTooLarge`) or cannot be read at all (:class:`UnreadableFile`).
    """
    if len(data) > MAX_IMPORT_BYTES:
        raise FileTooLarge(f"the file exceeds {MAX_IMPORT_BYTES} bytes")
    started = time.perf_counter()
    report = ImportReport(import_id=str(uuid.uuid4()))
    fmt = detect_format(filename, content_type)

    def parse_and_validate() -> tuple[int, ValidatedRows]:
        rows = parse_rows(data, fmt)
        return len(rows), validate_rows(iter_rows(rows), only_district=only_district)

    def iter_rows(rows: list[tuple[int, dict[str, Any]]]) -> Iterator[tuple[int, dict[str, Any]]]:
        for n, (row, raw) in enumerate(rows, start=1):
            if n % PROGRESS_EVERY == 0:
                log.info("roster import %s: %d/%d rows validated", report.import_id, n, len(rows))
            yield row, raw

    # Parsing and validating is CPU work: keep the event loop (and the API) responsive.
    report.rows, validated = await asyncio.to_thread(parse_and_validate)
    report.errors.extend(validated.errors)
    log.info(
        "roster import %s: %d rows read, %d valid, %d with errors",
        report.import_id,
        report.rows,
        len(validated.records),
        report.rows - len(validated.records),
    )
    async with uow:
        repo = uow.roster
        await repo.lock_for_import()
        await repo.stage(validated.records)
        refused: set[int] = set()
        if only_district is not None:
            for row, district in await repo.unstage_foreign(only_district):
                refused.add(row)
                report.errors.append(
                    RowError(
                        row,
                        "educator_id",
                        f"the educator is employed by district {district}: "
                        "only the state admin may move them",
                    )
                )
        log.info("roster import %s: %d rows staged", report.import_id, len(validated.records))
        changed = await repo.upsert_staged(now, dict(validated.records))
        events: list[Event] = []
        for change in changed:
            kinds = roster_changes(change.before, change.after)
            report.registered += RosterChange.REGISTERED in kinds
            report.moved += RosterChange.MOVED_DISTRICT in kinds
            report.updated += kinds == [RosterChange.UPDATED]
            events.extend(events_for(change, now))
        report.accepted = len(validated.records) - len(refused)
        report.unchanged = report.accepted - len(changed)
        log.info(
            "roster import %s: %d rows applied (%d registered, %d updated, %d moved)",
            report.import_id,
            report.accepted,
            report.registered,
            report.updated,
            report.moved,
        )

        def progress(done: int) -> None:
            if done % PROGRESS_EVERY < EVENT_CHUNK or done == len(events):
                log.info(
                    "roster import %s: %d/%d events written", report.import_id, done, len(events)
                )

        await add_events_in_bulk(uow, events, progress=progress)
        report.events = len(events)
        await uow.commit()
    report.errors.sort(key=lambda e: (e.row, e.field))
    report.seconds = round(time.perf_counter() - started, 3)
    log.info(
        "roster import %s: done, %d rows in %.1f s (%d errors, %d events)",
        report.import_id,
        report.rows,
        report.seconds,
        len(report.errors),
        report.events,
    )
    return report


@dataclass(frozen=True)
class Viewer:
    """Who asks for an educator's record: the state sees anyone, a district admin their
    district's staff, an educator themselves."""

    state_admin: bool = False
    district_id: str | None = None
    """Set for a district admin."""
    educator_id: str | None = None
    """Set for an educator."""


async def educator(uow: UnitOfWork, educator_id: str, viewer: Viewer) -> EducatorRecord:
    """One educator's roster record, if ``viewer`` may see it, else :class:`UnknownEducator`
    (the same answer for unknown and not yours: ids of other districts' staff do not leak)."""
    async with uow:
        record = await uow.roster.get(educator_id)
    if record is None:
        raise UnknownEducator()
    if not (
        viewer.state_admin
        or (viewer.district_id is not None and viewer.district_id == record.district_id)
        or (viewer.educator_id is not None and viewer.educator_id == educator_id)
    ):
        raise UnknownEducator()
    return record
