"""The state catalog (registry service, topic ``registry.catalog``, key = MC or stack id).

The published events carry the whole definition so that enrollment, review and compensation
build their read models from the topic alone (event-carried state transfer) and keep working
while the registry is down. A later version of the same micro-credential or stack is another
``*_published`` event with a higher version; consumers keep the highest version they have seen.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, Self

from pydantic import AwareDatetime, Field, model_validator

from mc_events.contracts.base import Event
from mc_events.contracts.common import (
    Credits,
    EvidenceRequirement,
    Fee,
    Grant,
    Id,
    Purpose,
    RubricCriterion,
    ValueObject,
)
from mc_events.topics import CATALOG


class StackRuleKind(StrEnum):
    """How many of a stack's member micro-credentials complete it."""

    ALL_OF = "all_of"
    N_OF_M = "n_of_m"


class StackRule(ValueObject):
    """The completion rule of a stack: every member, or any ``n`` of them."""

    kind: StackRuleKind
    n: int | None = Field(
        default=None, ge=1, description="n_of_m: how many members complete the stack."
    )

    @model_validator(mode="after")
    def _n_matches_kind(self) -> Self:
        if (self.kind is StackRuleKind.N_OF_M) != (self.n is not None):
            raise ValueError("n is required for n_of_m and only for n_of_m")
        return self


class MicroCredentialPublished(Event):
    """A micro-credential version was approved by the state and published in the catalog.

    Emitted by the registry service when the state education agency approves a micro-credential
    version (quality-assurance status ``approved``). Carries the full definition: other services
    keep their catalog read model from this event alone. Only published versions can be
    enrolled in.
    """

    event_type: ClassVar[str] = "registry.micro_credential_published"
    topic: ClassVar[str] = CATALOG.name
    key_field: ClassVar[str] = "micro_credential_id"

    micro_credential_id: Id
    micro_credential_version: int = Field(
        ge=1, description="Version of the definition; a later one supersedes this one."
    )
    issuer_id: Id = Field(description="The provider that publishes the micro-credential.")
    issuer_name: str
    title: str
    competency: str = Field(description="The competency statement.")
    description: str
    evidence_requirements: tuple[EvidenceRequirement, ...] = Field(min_length=1)
    rubric: tuple[RubricCriterion, ...] = Field(
        min_length=1,
        description="The criteria; every one at or above its required level is a pass.",
    )
    credits: Credits = Field(description="Credits an award of this micro-credential earns.")
    attempt_cap: int = Field(ge=1, description="Maximum number of submissions per enrollment.")
    completion_window_days: int = Field(
        ge=1, description="Enrollment deadline = enrolled_at + this many days."
    )
    cooldown_days: int = Field(
        ge=0, description="Days after a not-earned outcome before the educator may re-enroll."
    )
    fee: Fee
    allowed_purposes: tuple[Purpose, ...] = Field(
        min_length=1, description="What the state allows this micro-credential to count for."
    )
    approved_at: AwareDatetime = Field(description="When the state approved this version.")

    @model_validator(mode="after")
    def _ids_are_unique(self) -> Self:
        for what, ids in (
            ("evidence requirement", [r.id for r in self.evidence_requirements]),
            ("rubric criterion", [c.id for c in self.rubric]),
        ):
            if len(set(ids)) != len(ids):
                raise ValueError(f"{what} ids must be unique")
        return self


class MicroCredentialRetired(Event):
    """A micro-credential version was retired from the catalog.

    Emitted by the registry service when the state retires a version (quality-assurance status
    ``retired``). No new enrollments are accepted for it; enrollments already open continue
    until their deadline, and credentials already awarded stay valid.
    """

    event_type: ClassVar[str] = "registry.micro_credential_retired"
    topic: ClassVar[str] = CATALOG.name
    key_field: ClassVar[str] = "micro_credential_id"

    micro_credential_id: Id
    micro_credential_version: int = Field(ge=1)
    reason: str = Field(default="", description="Why it was retired, in words.")
    retired_at: AwareDatetime


class StackPublished(Event):
    """A stack (pathway of micro-credentials) was approved and published in the catalog.

    Emitted by the registry service when the state approves a stack version. Carries the
    members, the completion rule and what completion grants, so that consumers need nothing
    else to follow stack progress.
    """

    event_type: ClassVar[str] = "registry.stack_published"
    topic: ClassVar[str] = CATALOG.name
    key_field: ClassVar[str] = "stack_id"

    stack_id: Id
    stack_version: int = Field(ge=1)
    issuer_id: Id
    name: str
    description: str = ""
    member_micro_credential_ids: tuple[Id, ...] = Field(
        min_length=1, description="Micro-credentials in the stack (any version counts)."
    )
    rule: StackRule
    grants: tuple[Grant, ...] = Field(description="What completing the stack earns.")
    approved_at: AwareDatetime

    @model_validator(mode="after")
    def _rule_fits_members(self) -> Self:
        if len(set(self.member_micro_credential_ids)) != len(self.member_micro_credential_ids):
            raise ValueError("member micro-credential ids must be unique")
        if self.rule.n is not None and self.rule.n > len(self.member_micro_credential_ids):
            raise ValueError("n_of_m: n is larger than the number of members")
        return self


class StackRetired(Event):
    """A stack version was retired from the catalog.

    Emitted by the registry service when the state retires a stack version. Progress towards
    it is no longer tracked; completions already recorded stand.
    """

    event_type: ClassVar[str] = "registry.stack_retired"
    topic: ClassVar[str] = CATALOG.name
    key_field: ClassVar[str] = "stack_id"

    stack_id: Id
    stack_version: int = Field(ge=1)
    reason: str = Field(default="", description="Why it was retired, in words.")
    retired_at: AwareDatetime


__all__ = [
    "MicroCredentialPublished",
    "MicroCredentialRetired",
    "StackPublished",
    "StackRetired",
    "StackRule",
    "StackRuleKind",
]
