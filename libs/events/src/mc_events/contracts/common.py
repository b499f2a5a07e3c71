"""Value types and enumerations shared by several contracts.

Rules every contract follows: money is integer cents, never float;
credit amounts are :class:`~decimal.Decimal` (sent as JSON strings, so no binary rounding);
datetimes are timezone-aware; ids are opaque strings; states and kinds are ``StrEnum``.

Value types are frozen and, like events, ignore fields they do not know, so a producer may add
an optional field to a nested object without breaking consumers.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

Id = Annotated[str, Field(min_length=1)]
"""An opaque identifier. Ids are strings everywhere: never parse meaning out of them."""

Sha256 = Annotated[
    str,
    Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 digest, 64 lowercase hex digits."),
]

Cents = Annotated[int, Field(description="An amount of money in integer cents (USD).")]


class ValueObject(BaseModel):
    """Base of the nested value types: frozen, and tolerant of fields added later."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class EvidenceKind(StrEnum):
    """What kind of artifact an evidence requirement asks for."""

    VIDEO = "video"
    DOCUMENT = "document"
    STUDENT_WORK = "student_work"
    REFLECTION = "reflection"
    LINK = "link"


class CreditUnit(StrEnum):
    """The unit a credit amount is counted in.

    ``renewal_credits`` is the state's license-renewal currency; the others are converted into
    it by the registry (e.g. South Carolina: 1 semester hour = 20 credits, 15 contact hours =
    20 credits, 1 CEU = 10 credits).
    """

    RENEWAL_CREDITS = "renewal_credits"
    PD_HOURS = "pd_hours"
    CONTACT_HOURS = "contact_hours"
    SEMESTER_HOURS = "semester_hours"
    CEU = "ceu"


class FeePayer(StrEnum):
    """Who pays the enrollment fee of a micro-credential."""

    EDUCATOR = "educator"
    DISTRICT = "district"
    STATE = "state"


class Purpose(StrEnum):
    """What the state allows a micro-credential to count for (and an enrollment is for)."""

    PRE_SERVICE = "pre_service"
    INITIAL_LICENSURE = "initial_licensure"
    CURATED_PD = "curated_pd"
    LICENSE_RENEWAL = "license_renewal"
    ADDED_ENDORSEMENT = "added_endorsement"
    ADVANCED_LICENSURE = "advanced_licensure"


class GrantKind(StrEnum):
    """What completing a stack earns."""

    DESIGNATION = "designation"
    ENDORSEMENT = "endorsement"
    COLLEGE_CREDIT = "college_credit"
    SALARY_LANE = "salary_lane"


class Level(ValueObject):
    """One level of a rubric criterion (Open Badges ``RubricCriterionLevel``)."""

    id: Id
    name: str = Field(description="Display name, e.g. 'Proficient'.")


class RubricCriterion(ValueObject):
    """One criterion of a micro-credential's rubric (Open Badges ``ResultDescription``)."""

    id: Id
    name: str
    levels: tuple[Level, ...] = Field(
        min_length=1, description="The levels in order, lowest first."
    )
    required_level_id: Id = Field(
        description="The lowest level that meets the criterion; one of ``levels``."
    )

    @model_validator(mode="after")
    def _required_level_is_a_level(self) -> Self:
        ids = [level.id for level in self.levels]
        if len(set(ids)) != len(ids):
            raise ValueError(f"criterion {self.id}: level ids must be unique")
        if self.required_level_id not in ids:
            raise ValueError(
                f"criterion {self.id}: required level {self.required_level_id!r} is not a level"
            )
        return self


class EvidenceRequirement(ValueObject):
    """One piece of evidence a micro-credential asks for."""

    id: Id
    kind: EvidenceKind
    prompt: str = Field(description="What the educator is asked to submit.")
    required: bool = Field(description="Whether a submission without it is incomplete.")
    min_words: int | None = Field(
        default=None, ge=0, description="Minimum word count (reflections, documents)."
    )
    max_words: int | None = Field(
        default=None, ge=1, description="Maximum word count (reflections, documents)."
    )

    @model_validator(mode="after")
    def _word_limits_are_ordered(self) -> Self:
        if (
            self.min_words is not None
            and self.max_words is not None
            and self.min_words > self.max_words
        ):
            raise ValueError(f"requirement {self.id}: min_words > max_words")
        return self


class Credits(ValueObject):
    """A non-negative credit amount in a unit (Open Badges ``creditsAvailable``/``Earned``)."""

    value: Decimal = Field(ge=0)
    unit: CreditUnit


class Fee(ValueObject):
    """The enrollment fee of a micro-credential and who pays it."""

    amount_cents: Cents = Field(ge=0)
    payer: FeePayer


class CriterionResult(ValueObject):
    """The result for one rubric criterion (Open Badges ``Result.achievedLevel``)."""

    criterion_id: Id
    achieved_level_id: Id
    met: bool = Field(description="Whether the achieved level is at or above the required level.")
    feedback: str = Field(
        default="", description="The assessor's feedback to the educator for this criterion."
    )


class Grant(ValueObject):
    """What completing a stack earns: a designation, an endorsement, college credit or a
    salary-lane change. Fields that do not apply to the ``kind`` are null."""

    kind: GrantKind
    code: Id = Field(
        description="Stable code of the grant (designation code, endorsement code, course "
        "number, salary lane id); consumers match on it."
    )
    name: str = Field(description="Display name, e.g. 'Lead Professional Educator'.")
    credit_hours: Decimal | None = Field(
        default=None, ge=0, description="college_credit: semester hours granted."
    )
    institution: str | None = Field(
        default=None, description="college_credit: the institution granting the credit."
    )
    salary_lane: str | None = Field(
        default=None, description="salary_lane: the lane (or step) the educator moves to."
    )
    conditions: tuple[str, ...] = Field(
        default=(),
        description="Further conditions checked outside the stack, in words (e.g. 'three "
        "years of licensed teaching', 'effective rating').",
    )


__all__ = [
    "Cents",
    "CreditUnit",
    "Credits",
    "CriterionResult",
    "EvidenceKind",
    "EvidenceRequirement",
    "Fee",
    "FeePayer",
    "Grant",
    "GrantKind",
    "Id",
    "Level",
    "Purpose",
    "RubricCriterion",
    "Sha256",
    "ValueObject",
]
