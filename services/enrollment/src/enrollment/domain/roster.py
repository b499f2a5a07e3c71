"""The educator roster as HR sends it: one Ed-Fi ``Staff``-like record per row.

Pure rules only: how a raw row (CSV cells or JSON values) becomes a valid :class:`EducatorRecord`
or a list of :class:`RowError`, and which roster events a change calls for. Parsing files,
staging rows and diffing against the database happen in the service layer and adapters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import date
from enum import StrEnum
from functools import lru_cache
from typing import Any

from mc_events.contracts.roster import StaffRole

MAX_ID_LENGTH = 64
MAX_TEXT_LENGTH = 200

# Canonical field names, in the order of a CSV header we document.
FIELDS: tuple[str, ...] = (
    "educator_id",
    "first_name",
    "middle_name",
    "last_name",
    "email",
    "district_id",
    "school_id",
    "role",
    "supervisor_id",
    "license_number",
    "license_type",
    "license_expires_on",
)
REQUIRED: frozenset[str] = frozenset(
    {"educator_id", "first_name", "last_name", "email", "district_id", "role"}
)

# Ed-Fi Staff / StaffEducationOrganizationAssignment names (and common HR spellings) accepted
# as aliases, compared case-insensitively with '_', '-' and spaces removed.
_ALIASES: dict[str, str] = {
    "staffuniqueid": "educator_id",
    "stateeducatorid": "educator_id",
    "firstname": "first_name",
    "middlename": "middle_name",
    "lastsurname": "last_name",
    "lastname": "last_name",
    "electronicmailaddress": "email",
    "emailaddress": "email",
    "localeducationagencyid": "district_id",
    "districtid": "district_id",
    "schoolid": "school_id",
    "staffclassification": "role",
    "staffclassificationdescriptor": "role",
    "supervisorstaffuniqueid": "supervisor_id",
    "supervisorid": "supervisor_id",
    "credentialidentifier": "license_number",
    "licensenumber": "license_number",
    "credentialtype": "license_type",
    "credentialtypedescriptor": "license_type",
    "licensetype": "license_type",
    "expirationdate": "license_expires_on",
    "licenseexpireson": "license_expires_on",
    "licenseexpiry": "license_expires_on",
}

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@lru_cache(maxsize=1024)
def canonical_field(name: str) -> str | None:
    """The canonical field a column or JSON key stands for, or None if it is not one of ours."""
    squashed = re.sub(r"[\s_\-]", "", name).lower()
    for canonical in FIELDS:
        if canonical.replace("_", "") == squashed:
            return canonical
    return _ALIASES.get(squashed)


@dataclass(frozen=True)
class RowError:
    """One problem with one row: ``row`` is the 1-based record number (CSV header excluded)."""

    row: int
    field: str
    message: str


@dataclass(frozen=True)
class EducatorRecord:
    """One educator as the roster holds them (the state educator id is the identity)."""

    educator_id: str
    first_name: str
    middle_name: str | None
    last_name: str
    email: str
    district_id: str
    school_id: str | None
    role: StaffRole
    supervisor_id: str | None
    license_number: str | None
    license_type: str | None
    license_expires_on: date | None


RECORD_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(EducatorRecord))
"""The same names as :data:`FIELDS` (a unit test holds them equal)."""


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def validate_row(raw: Mapping[str, Any], row: int) -> EducatorRecord | list[RowError]:
    """``raw`` keyed by canonical field names (unknown keys ignored) → a record, or every problem
    found in the row (not just the first, so HR can fix a file in one pass)."""
    errors: list[RowError] = []
    values = {name: _text(raw.get(name)) for name in FIELDS}

    def bad(name: str, message: str) -> None:
        errors.append(RowError(row, name, message))

    for name in FIELDS:
        value = values[name]
        if value is None:
            if name in REQUIRED:
                bad(name, "is required")
            continue
        limit = MAX_ID_LENGTH if name.endswith("_id") or name == "license_number" else None
        limit = limit or MAX_TEXT_LENGTH
        if len(value) > limit:
            bad(name, f"is longer than {limit} characters")
    email = values["email"]
    if email is not None and not _EMAIL.match(email):
        bad("email", f"{email!r} is not an email address")
    role: StaffRole | None = None
    if values["role"] is not None:
        key = re.sub(r"[\s\-]+", "_", values["role"]).lower()
        try:
            role = StaffRole(key)
        except ValueError:
            allowed = ", ".join(r.value for r in StaffRole)
            bad("role", f"{values['role']!r} is not one of: {allowed}")
    if values["supervisor_id"] is not None and values["supervisor_id"] == values["educator_id"]:
        bad("supervisor_id", "an educator cannot supervise themselves")
    expires: date | None = None
    if values["license_expires_on"] is not None:
        try:
            expires = date.fromisoformat(values["license_expires_on"])
        except ValueError:
            bad(
                "license_expires_on", f"{values['license_expires_on']!r} is not a date (YYYY-MM-DD)"
            )
    has_license = any(
        values[name] is not None
        for name in ("license_number", "license_type", "license_expires_on")
    )
    if has_license:
        for name in ("license_number", "license_type"):
            if values[name] is None:
                bad(name, "is required when the row has a license")
    if errors or role is None:
        return errors
    return EducatorRecord(
        educator_id=values["educator_id"] or "",
        first_name=values["first_name"] or "",
        middle_name=values["middle_name"],
        last_name=values["last_name"] or "",
        email=email or "",
        district_id=values["district_id"] or "",
        school_id=values["school_id"],
        role=role,
        supervisor_id=values["supervisor_id"],
        license_number=values["license_number"],
        license_type=values["license_type"],
        license_expires_on=expires,
    )


@dataclass
class ValidatedRows:
    records: list[tuple[int, EducatorRecord]]
    errors: list[RowError]


def validate_rows(
    rows: Iterable[tuple[int, Mapping[str, Any]]], *, only_district: str | None = None
) -> ValidatedRows:
    """Validate every row; a second row for the same educator is an error (the first stands),
    and with ``only_district`` (a district admin's import) rows of other districts are errors."""
    result = ValidatedRows([], [])
    first_seen: dict[str, int] = {}
    for row, raw in rows:
        outcome = validate_row(raw, row)
        if isinstance(outcome, list):
            result.errors.extend(outcome)
            continue
        if only_district is not None and outcome.district_id != only_district:
            result.errors.append(
                RowError(row, "district_id", f"not your district ({only_district})")
            )
            continue
        earlier = first_seen.get(outcome.educator_id)
        if earlier is not None:
            result.errors.append(
                RowError(row, "educator_id", f"appears again (first on row {earlier})")
            )
            continue
        first_seen[outcome.educator_id] = row
        result.records.append((row, outcome))
    return result


class RosterChange(StrEnum):
    REGISTERED = "registered"
    UPDATED = "updated"
    MOVED_DISTRICT = "moved_district"


_PLACEMENT = frozenset({"district_id", "school_id", "supervisor_id"})


def roster_changes(before: EducatorRecord | None, after: EducatorRecord) -> list[RosterChange]:
    """The roster events a change calls for, in order.

    A new educator is registered. A district change is a move (it carries the new school and
    supervisor); if anything else changed too (name, email, role, license), an update with the
    whole record follows, so snapshot consumers never miss it. Anything else is an update.
    """
    if before is None:
        return [RosterChange.REGISTERED]
    if before == after:
        return []
    if before.district_id != after.district_id:
        others_changed = any(
            getattr(before, name) != getattr(after, name)
            for name in RECORD_FIELDS
            if name not in _PLACEMENT
        )
        return [RosterChange.MOVED_DISTRICT] + ([RosterChange.UPDATED] if others_changed else [])
    return [RosterChange.UPDATED]
