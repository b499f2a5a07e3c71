"""The educator roster (enrollment service, topic ``enrollment.roster``, key = state educator id).

The enrollment service imports the roster from state and district HR systems (an Ed-Fi
``Staff``-like record) and publishes every change as a full snapshot, so review (conflicts of
interest) and compensation (who is paid by which district) keep their read models from this
topic alone.

Contains personal data (names, email): consumers keep only what they need. Review, for one,
must not show names or districts to assessors (blind review).
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import ClassVar

from pydantic import AwareDatetime, Field

from mc_events.contracts.base import Event
from mc_events.contracts.common import Id, ValueObject
from mc_events.topics import ROSTER


class StaffRole(StrEnum):
    """The educator's role (a coarse Ed-Fi ``StaffClassification``)."""

    TEACHER = "teacher"
    INSTRUCTIONAL_COACH = "instructional_coach"
    COUNSELOR = "counselor"
    LIBRARIAN = "librarian"
    PARAPROFESSIONAL = "paraprofessional"
    SCHOOL_ADMINISTRATOR = "school_administrator"
    DISTRICT_ADMINISTRATOR = "district_administrator"
    OTHER = "other"


class License(ValueObject):
    """The educator's state license (certificate)."""

    number: str
    license_type: str = Field(description="The state's certificate type, e.g. 'professional'.")
    expires_on: date | None = Field(
        default=None, description="Last day of the current certificate cycle."
    )


class _EducatorSnapshot(Event):
    """The full roster record of one educator (abstract: not an event itself)."""

    topic: ClassVar[str] = ROSTER.name
    key_field: ClassVar[str] = "educator_id"

    educator_id: Id = Field(description="The state educator id.")
    first_name: str
    middle_name: str | None = None
    last_name: str
    email: str
    district_id: Id = Field(description="The district (LEA) that employs the educator.")
    school_id: Id | None = Field(
        default=None, description="The school, if the educator is assigned to one."
    )
    role: StaffRole
    supervisor_id: Id | None = Field(
        default=None, description="State educator id of the educator's supervisor."
    )
    license: License | None = Field(default=None, description="None: not (yet) licensed.")


class EducatorRegistered(_EducatorSnapshot):
    """An educator appeared on the roster for the first time.

    Emitted by the enrollment service when an HR import (or a manual registration) brings in a
    state educator id it has not seen before.
    """

    event_type: ClassVar[str] = "enrollment.educator_registered"

    registered_at: AwareDatetime


class EducatorUpdated(_EducatorSnapshot):
    """An educator's roster record changed (name, email, school, role, supervisor, license).

    Emitted by the enrollment service when an HR import or a correction changes the record
    within the same district. Carries the whole record, not a diff. A change of district is
    :class:`EducatorMovedDistrict` instead.
    """

    event_type: ClassVar[str] = "enrollment.educator_updated"

    updated_at: AwareDatetime


class EducatorMovedDistrict(Event):
    """An educator moved to another district.

    Emitted by the enrollment service when an HR import shows the educator employed by a
    different district. From ``effective_at`` on, awards, stipends and payroll go to the new
    district, and conflicts of interest are computed against it.
    """

    event_type: ClassVar[str] = "enrollment.educator_moved_district"
    topic: ClassVar[str] = ROSTER.name
    key_field: ClassVar[str] = "educator_id"

    educator_id: Id = Field(description="The state educator id.")
    from_district_id: Id
    from_school_id: Id | None = None
    to_district_id: Id
    to_school_id: Id | None = None
    supervisor_id: Id | None = Field(
        default=None, description="The supervisor in the new district, if known."
    )
    effective_at: AwareDatetime


__all__ = [
    "EducatorMovedDistrict",
    "EducatorRegistered",
    "EducatorUpdated",
    "License",
    "StaffRole",
]
