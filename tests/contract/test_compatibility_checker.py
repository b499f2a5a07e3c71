"""The compatibility checker: which schema changes a published contract version may take.

Old and new schemas are built from small Pydantic models defined here; a published contract is
changed by editing its schema or by rebuilding its model without a field.
"""

from __future__ import annotations

import copy
import json
from enum import StrEnum
from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field, create_model

from mc_events.contracts import CredentialAwarded, StipendApproved
from mc_events.schemas import SCHEMA_DIR, check_compatibility, compare_catalogs, schema_for

NAME = "test.thing_happened.v1"
ADVICE = "breaking changes need a new version (v2)"


def schema_of(
    model: type[BaseModel], *, topic: str = "test.things", key: str = "id", version: int = 1
) -> dict[str, Any]:
    schema = model.model_json_schema()
    schema.update(
        {
            "x-event-type": "test.thing_happened",
            "x-version": version,
            "x-topic": topic,
            "x-key": key,
        }
    )
    return schema


def problems(old: type[BaseModel], new: type[BaseModel]) -> list[str]:
    return check_compatibility(schema_of(old), schema_of(new))


def published(ce_type: str) -> dict[str, Any]:
    return json.loads((SCHEMA_DIR / f"{ce_type}.json").read_text())


# --- rejected ----------------------------------------------------------------------------


def test_removing_a_property_is_rejected():
    class Old(BaseModel):
        id: str
        credits: int

    class New(BaseModel):
        id: str

    assert problems(Old, New) == [f"{NAME}: property 'credits' removed; {ADVICE}"]


def test_removing_an_optional_property_is_rejected():
    class Old(BaseModel):
        id: str
        note: str | None = None

    class New(BaseModel):
        id: str

    assert problems(Old, New) == [f"{NAME}: property 'note' removed; {ADVICE}"]


def test_an_optional_property_becoming_required_is_rejected():
    class Old(BaseModel):
        id: str
        note: str = ""

    class New(BaseModel):
        id: str
        note: str

    assert problems(Old, New) == [f"{NAME}: property 'note' became required; {ADVICE}"]


def test_adding_a_required_property_is_rejected():
    class Old(BaseModel):
        id: str

    class New(BaseModel):
        id: str
        district_id: str

    assert problems(Old, New) == [f"{NAME}: new required property 'district_id'; {ADVICE}"]


def test_a_required_property_becoming_optional_is_rejected():
    class Old(BaseModel):
        id: str
        note: str

    class New(BaseModel):
        id: str
        note: str = ""

    assert problems(Old, New) == [f"{NAME}: property 'note' is no longer required; {ADVICE}"]


def test_changing_a_property_type_is_rejected():
    class Old(BaseModel):
        id: str
        amount_cents: int

    class New(BaseModel):
        id: str
        amount_cents: float

    assert problems(Old, New) == [
        f"{NAME}: type of 'amount_cents' changed from integer to number; {ADVICE}"
    ]


def test_narrowing_a_nullable_property_is_rejected():
    class Old(BaseModel):
        id: str
        school_id: str | None

    class New(BaseModel):
        id: str
        school_id: str

    assert problems(Old, New) == [
        f"{NAME}: type of 'school_id' changed from null | string to string; {ADVICE}"
    ]


def test_making_a_property_nullable_is_rejected():
    class Old(BaseModel):
        id: str
        school_id: str

    class New(BaseModel):
        id: str
        school_id: str | None

    assert problems(Old, New) == [
        f"{NAME}: type of 'school_id' changed from string to null | string; {ADVICE}"
    ]


def test_narrowing_a_union_is_rejected():
    class Old(BaseModel):
        id: str
        ref: int | str

    class New(BaseModel):
        id: str
        ref: int

    assert problems(Old, New) == [
        f"{NAME}: type of 'ref' changed from integer | string to integer; {ADVICE}"
    ]


def test_removing_an_enum_value_is_rejected():
    class OldOutcome(StrEnum):
        PASSED = "passed"
        REVISION_REQUESTED = "revision_requested"
        NOT_EARNED = "not_earned"

    class NewOutcome(StrEnum):
        PASSED = "passed"
        NOT_EARNED = "not_earned"

    class Old(BaseModel):
        id: str
        outcome: OldOutcome

    class New(BaseModel):
        id: str
        outcome: NewOutcome

    assert problems(Old, New) == [
        f"{NAME}: value 'revision_requested' removed from the allowed values of 'outcome'; {ADVICE}"
    ]


def test_restricting_a_free_string_to_an_enum_is_rejected():
    class Old(BaseModel):
        id: str
        currency: str

    class New(BaseModel):
        id: str
        currency: Literal["USD"]

    assert problems(Old, New) == [f"{NAME}: 'currency' is now restricted to 'USD'; {ADVICE}"]


def test_a_change_inside_a_nested_model_is_found_through_refs():
    class OldCredits(BaseModel):
        value: int
        unit: str

    class NewCredits(BaseModel):
        value: int

    class Old(BaseModel):
        id: str
        credits: OldCredits

    class New(BaseModel):
        id: str
        credits: NewCredits

    assert problems(Old, New) == [f"{NAME}: property 'credits.unit' removed; {ADVICE}"]


def test_a_change_inside_list_items_is_found():
    class OldResult(BaseModel):
        criterion_id: str
        met: bool

    class NewResult(BaseModel):
        criterion_id: str
        met: str

    class Old(BaseModel):
        id: str
        results: tuple[OldResult, ...]

    class New(BaseModel):
        id: str
        results: list[NewResult]

    assert problems(Old, New) == [
        f"{NAME}: type of 'results[].met' changed from boolean to string; {ADVICE}"
    ]


def test_a_change_inside_an_optional_nested_model_is_found():
    class OldLicense(BaseModel):
        number: str

    class NewLicense(BaseModel):
        number: int

    class Old(BaseModel):
        id: str
        license: OldLicense | None = None

    class New(BaseModel):
        id: str
        license: NewLicense | None = None

    assert problems(Old, New) == [
        f"{NAME}: type of 'license.number' changed from string to integer; {ADVICE}"
    ]


@pytest.mark.parametrize(
    ("old_field", "new_field", "keyword"),
    [
        (Field(min_length=1), Field(min_length=3), "minLength"),
        (Field(max_length=100), Field(max_length=10), "maxLength"),
        (Field(), Field(pattern=r"^[0-9a-f]{64}$"), "pattern"),
    ],
    ids=["longer-minimum", "shorter-maximum", "new-pattern"],
)
def test_tightening_a_string_constraint_is_rejected(old_field, new_field, keyword):
    old = create_model("Old", id=(str, Field()), code=(str, old_field))
    new = create_model("New", id=(str, Field()), code=(str, new_field))

    [problem] = problems(old, new)
    assert problem.startswith(f"{NAME}: constraint {keyword} of 'code' tightened")


def test_raising_a_numeric_minimum_is_rejected():
    class Old(BaseModel):
        id: str
        attempt: int = Field(ge=0)

    class New(BaseModel):
        id: str
        attempt: int = Field(ge=1)

    assert problems(Old, New) == [
        f"{NAME}: constraint minimum of 'attempt' tightened (0 -> 1); {ADVICE}"
    ]


def test_changing_the_topic_is_rejected():
    class Model(BaseModel):
        id: str

    old = schema_of(Model, topic="registry.credentials")
    new = schema_of(Model, topic="registry.awards")

    assert check_compatibility(old, new) == [
        f"{NAME}: topic changed from 'registry.credentials' to 'registry.awards'; {ADVICE}"
    ]


def test_changing_the_key_field_is_rejected():
    class Model(BaseModel):
        id: str
        educator_id: str

    old = schema_of(Model, key="educator_id")
    new = schema_of(Model, key="id")

    assert check_compatibility(old, new) == [
        f"{NAME}: key field changed from 'educator_id' to 'id'; {ADVICE}"
    ]


def test_removing_a_published_contract_version_is_rejected():
    class Model(BaseModel):
        id: str

    catalog = {NAME: schema_of(Model)}

    assert compare_catalogs(catalog, {}) == [
        f"{NAME}: published schema has no contract any more; a published version must stay "
        "while its records can be read (topics are replayed from the beginning)"
    ]


def test_every_problem_is_reported_not_only_the_first():
    class Old(BaseModel):
        id: str
        a: int
        b: str

    class New(BaseModel):
        id: str
        b: int
        c: str

    assert problems(Old, New) == [
        f"{NAME}: property 'a' removed; {ADVICE}",
        f"{NAME}: type of 'b' changed from string to integer; {ADVICE}",
        f"{NAME}: new required property 'c'; {ADVICE}",
    ]


# --- accepted ----------------------------------------------------------------------------


def test_an_unchanged_schema_is_compatible():
    class Model(BaseModel):
        id: str
        amount_cents: int

    assert problems(Model, Model) == []


def test_adding_an_optional_property_is_accepted():
    class Old(BaseModel):
        id: str

    class New(BaseModel):
        id: str
        valid_until: str | None = None
        tags: tuple[str, ...] = ()

    assert problems(Old, New) == []


def test_a_new_contract_is_accepted():
    class Model(BaseModel):
        id: str

    assert compare_catalogs({}, {NAME: schema_of(Model)}) == []


def test_a_new_version_of_a_contract_is_accepted():
    class V1(BaseModel):
        id: str
        credits: int

    class V2(BaseModel):
        id: str
        credits: str
        district_id: str

    published_catalog = {NAME: schema_of(V1)}
    current = {NAME: schema_of(V1), "test.thing_happened.v2": schema_of(V2, version=2)}

    assert compare_catalogs(published_catalog, current) == []


def test_description_and_title_changes_are_accepted():
    class Old(BaseModel):
        """Old words."""

        id: str
        note: str = Field(default="", description="Old description.")

    class New(BaseModel):
        """New words, entirely."""

        id: str = Field(title="Identifier")
        note: str = Field(default="-", description="New description.")

    assert problems(Old, New) == []


def test_widening_an_enum_is_accepted():
    class OldUnit(StrEnum):
        RENEWAL_CREDITS = "renewal_credits"

    class NewUnit(StrEnum):
        RENEWAL_CREDITS = "renewal_credits"
        PD_HOURS = "pd_hours"

    class Old(BaseModel):
        id: str
        unit: OldUnit
        currency: Literal["USD"]

    class New(BaseModel):
        id: str
        unit: NewUnit
        currency: Literal["USD", "CAD"]

    assert problems(Old, New) == []


def test_loosening_a_constraint_is_accepted():
    class Old(BaseModel):
        id: str = Field(min_length=3, max_length=10, pattern="^[a-z]+$")
        attempt: int = Field(ge=1, le=3)

    class New(BaseModel):
        id: str = Field(min_length=1)
        attempt: int = Field(ge=0)

    assert problems(Old, New) == []


def test_renaming_a_nested_model_class_is_accepted():
    class Credits(BaseModel):
        value: int

    class CreditAmount(BaseModel):
        value: int

    class Old(BaseModel):
        id: str
        credits: Credits

    class New(BaseModel):
        id: str
        credits: CreditAmount

    assert problems(Old, New) == []


def test_recursive_models_are_compared_without_looping():
    class Node(BaseModel):
        name: str
        children: tuple[Node, ...] = ()

    class Old(BaseModel):
        id: str
        tree: Node

    assert problems(Old, Old) == []


# --- the real contracts ------------------------------------------------------------------


def test_removing_a_field_from_a_published_contract_is_rejected():
    fields: dict[str, Any] = {
        name: (info.annotation, info)
        for name, info in CredentialAwarded.model_fields.items()
        if name != "credits"
    }
    without_credits = create_model("CredentialAwarded", __doc__=CredentialAwarded.__doc__, **fields)
    old = published("registry.credential_awarded.v1")
    new = {
        **without_credits.model_json_schema(),
        **{key: value for key, value in old.items() if key.startswith("x-")},
    }

    assert check_compatibility(old, new) == [
        "registry.credential_awarded.v1: property 'credits' removed; "
        "breaking changes need a new version (v2)"
    ]


def test_removing_a_field_from_a_published_schema_document_is_rejected():
    old = published("registry.credential_awarded.v1")
    new = copy.deepcopy(old)
    del new["properties"]["credential_url"]
    new["required"].remove("credential_url")

    assert check_compatibility(old, new) == [
        "registry.credential_awarded.v1: property 'credential_url' removed; "
        "breaking changes need a new version (v2)"
    ]


def test_removing_a_value_from_a_shared_enum_breaks_every_contract_using_it():
    old = published("registry.credential_awarded.v1")
    new = copy.deepcopy(old)
    new["$defs"]["CreditUnit"]["enum"].remove("pd_hours")

    assert check_compatibility(old, new) == [
        "registry.credential_awarded.v1: value 'pd_hours' removed from the allowed values of "
        "'credits.unit'; breaking changes need a new version (v2)"
    ]


def test_paying_a_stipend_in_float_dollars_is_rejected():
    old = schema_for(StipendApproved)
    new = copy.deepcopy(old)
    new["properties"]["amount_cents"] = {"type": "number", "exclusiveMinimum": 0}

    assert check_compatibility(old, new) == [
        "compensation.stipend_approved.v1: type of 'amount_cents' changed from integer to "
        "number; breaking changes need a new version (v2)"
    ]
