"""Catalog aggregates: micro-credentials and stacks, each version going through state QA.

An entry is identified by ``(id, version)``. Issuers write drafts of their own entries and submit
them; the state approves, rejects (back to draft) or retires. Editing is only possible while a
version is a draft; changing an approved entry means starting its next version, a new draft.
The value types (rubric criteria, evidence requirements, credits, fee, grants, stack rule) are
the ones the catalog events carry, so what the state approved is exactly what is published.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import ClassVar, Generic, Self, TypeVar, cast

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mc_events.contracts.catalog import StackRule
from mc_events.contracts.common import (
    Credits,
    EvidenceRequirement,
    Fee,
    Grant,
    Purpose,
    RubricCriterion,
)
from mc_platform.refusals import Conflict, Forbidden
from registry.domain.qa import QaAction, QaStatus, QaStep, QaWorkflow


class NotOwner(Forbidden):
    """An issuer acted on another issuer's entry (403)."""


class UnknownIssuer(Forbidden):
    """The caller's issuer id is not a provider registered with the state (403)."""


class AlreadyExists(Conflict):
    """The id is taken (409)."""


class MembersNotApproved(Conflict):
    """A stack names micro-credentials that have no approved version (409)."""


class VersionStillOpen(Conflict):
    """A new version was asked for while the latest one is still a draft or submitted (409)."""


class MicroCredentialSpec(BaseModel):
    """What an issuer writes and the state approves."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    competency: str = Field(min_length=1, max_length=2000, description="Competency statement.")
    description: str = Field(default="", max_length=10000)
    criteria_narrative: str = Field(
        default="", max_length=10000, description="How the competency is demonstrated."
    )
    evidence_requirements: tuple[EvidenceRequirement, ...] = Field(min_length=1)
    rubric: tuple[RubricCriterion, ...] = Field(min_length=1)
    credits: Credits
    attempt_cap: int = Field(ge=1, le=20)
    completion_window_days: int = Field(ge=1, le=3650)
    cooldown_days: int = Field(ge=0, le=3650)
    fee: Fee
    allowed_purposes: tuple[Purpose, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _ids_are_unique(self) -> Self:
        for what, ids in (
            ("evidence requirement", [r.id for r in self.evidence_requirements]),
            ("rubric criterion", [c.id for c in self.rubric]),
            ("allowed purpose", [str(p) for p in self.allowed_purposes]),
        ):
            if len(set(ids)) != len(ids):
                raise ValueError(f"{what} ids must be unique")
        return self


class StackSpec(BaseModel):
    """A pathway: member micro-credentials, a completion rule, and what completion grants."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=10000)
    member_micro_credential_ids: tuple[str, ...] = Field(min_length=1, max_length=200)
    rule: StackRule
    grants: tuple[Grant, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _rule_fits_members(self) -> Self:
        members = self.member_micro_credential_ids
        if len(set(members)) != len(members):
            raise ValueError("member micro-credential ids must be unique")
        if self.rule.n is not None and self.rule.n > len(members):
            raise ValueError("n_of_m: n is larger than the number of members")
        return self


S = TypeVar("S", MicroCredentialSpec, StackSpec)


@dataclass
class CatalogEntry(QaWorkflow, Generic[S]):
    """One version of a catalog entry: its definition (``spec``) and where it stands in the
    approval lifecycle. Micro-credentials and stacks are the two kinds."""

    kind: ClassVar[str]
    """``micro_credential`` or ``stack``: the audit trail's object type."""
    label: ClassVar[str]
    """How messages name the kind (``micro-credential``, ``stack``)."""
    spec_type: ClassVar[type[BaseModel]]
    """The definition's type (:class:`MicroCredentialSpec`, :class:`StackSpec`)."""

    id: str
    version: int
    issuer_id: str
    status: QaStatus = QaStatus.DRAFT
    history: list[QaStep] = field(default_factory=list)
    spec: S | None = None

    @classmethod
    def create(cls, id: str, issuer_id: str, spec: S, actor: str, at: datetime) -> Self:
        """Version 1, a draft."""
        entry = cls(id=id, version=1, issuer_id=issuer_id, spec=spec)
        entry.history.append(QaStep(QaAction.CREATE, actor, at, to_status=QaStatus.DRAFT))
        return entry

    @classmethod
    def checked(cls, spec: BaseModel) -> S:
        """``spec`` as this kind's definition (a definition of the other kind is a bug)."""
        if not isinstance(spec, cls.spec_type):
            raise TypeError(f"a {cls.label} is defined by a {cls.spec_type.__name__}")
        return cast(S, spec)

    @property
    def definition(self) -> S:
        assert self.spec is not None
        return self.spec

    @property
    def ref(self) -> str:
        """``<id>@v<version>``: how the audit trail names a version."""
        return f"{self.id}@v{self.version}"

    @property
    def members(self) -> tuple[str, ...]:
        """The micro-credentials that must have an approved version before this one can be
        approved (a pathway must not point at something nobody can enrol in)."""
        return ()

    def ensure_owned_by(self, issuer_id: str | None) -> None:
        if issuer_id != self.issuer_id:
            raise NotOwner("this entry belongs to another issuer")

    def edit(self, spec: S, actor: str, at: datetime) -> None:
        self._step(QaAction.EDIT, actor, at)
        self.spec = spec

    def approve(
        self, actor: str, at: datetime, reason: str = "", *, published_mc_ids: Iterable[str] = ()
    ) -> None:
        """Approve, if every member (:attr:`members`) is among ``published_mc_ids``."""
        missing = sorted(set(self.members) - set(published_mc_ids))
        if missing:
            raise MembersNotApproved(f"members without an approved version: {', '.join(missing)}")
        self._step(QaAction.APPROVE, actor, at, reason)

    def next_version(self, actor: str, at: datetime) -> Self:
        """A new draft copying this (latest) version's definition."""
        if self.status in (QaStatus.DRAFT, QaStatus.SUBMITTED):
            raise VersionStillOpen(
                f"version {self.version} is still {self.status.value}: edit that one instead"
            )
        step = QaStep(QaAction.CREATE, actor, at, to_status=QaStatus.DRAFT)
        return replace(self, version=self.version + 1, status=QaStatus.DRAFT, history=[step])


@dataclass
class MicroCredential(CatalogEntry[MicroCredentialSpec]):
    kind = "micro_credential"
    label = "micro-credential"
    spec_type = MicroCredentialSpec


@dataclass
class Stack(CatalogEntry[StackSpec]):
    kind = "stack"
    label = "stack"
    spec_type = StackSpec

    @property
    def members(self) -> tuple[str, ...]:
        return self.definition.member_micro_credential_ids
