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
from typing import Self

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
from registry.domain.qa import CatalogError, QaAction, QaStatus, QaStep, QaWorkflow


class NotOwner(CatalogError):
    """An issuer acted on another issuer's entry."""


class MembersNotApproved(CatalogError):
    """A stack names micro-credentials that have no approved version."""


class VersionStillOpen(CatalogError):
    """A new version was asked for while the latest one is still a draft or submitted."""


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


@dataclass
class _Entry(QaWorkflow):
    id: str
    version: int
    issuer_id: str
    status: QaStatus = QaStatus.DRAFT
    history: list[QaStep] = field(default_factory=list)

    def ensure_owned_by(self, issuer_id: str | None) -> None:
        if issuer_id != self.issuer_id:
            raise NotOwner("this entry belongs to another issuer")

    def submit(self, actor: str, at: datetime) -> None:
        self._step(QaAction.SUBMIT, actor, at)

    def reject(self, actor: str, at: datetime, reason: str) -> None:
        self._step(QaAction.REJECT, actor, at, reason)

    def retire(self, actor: str, at: datetime, reason: str) -> None:
        self._step(QaAction.RETIRE, actor, at, reason)

    @property
    def approved_at(self) -> datetime | None:
        step = self.last(QaAction.APPROVE)
        return step.at if step else None

    @property
    def retired_at(self) -> datetime | None:
        step = self.last(QaAction.RETIRE)
        return step.at if step else None


def _open_next_version(latest: _Entry) -> int:
    if latest.status in (QaStatus.DRAFT, QaStatus.SUBMITTED):
        raise VersionStillOpen(
            f"version {latest.version} is still {latest.status.value}: edit that one instead"
        )
    return latest.version + 1


@dataclass
class MicroCredential(_Entry):
    spec: MicroCredentialSpec | None = None

    @classmethod
    def create(
        cls,
        id: str,
        issuer_id: str,
        spec: MicroCredentialSpec,
        actor: str,
        at: datetime,
    ) -> MicroCredential:
        mc = cls(id=id, version=1, issuer_id=issuer_id, spec=spec)
        mc.history.append(QaStep(QaAction.CREATE, actor, at, to_status=QaStatus.DRAFT))
        return mc

    @property
    def definition(self) -> MicroCredentialSpec:
        assert self.spec is not None
        return self.spec

    def edit(self, spec: MicroCredentialSpec, actor: str, at: datetime) -> None:
        self._step(QaAction.EDIT, actor, at)
        self.spec = spec

    def approve(self, actor: str, at: datetime, reason: str = "") -> None:
        self._step(QaAction.APPROVE, actor, at, reason)

    def next_version(self, actor: str, at: datetime) -> MicroCredential:
        """A new draft copying this (latest) version's definition."""
        version = _open_next_version(self)
        step = QaStep(QaAction.CREATE, actor, at, to_status=QaStatus.DRAFT)
        return replace(self, version=version, status=QaStatus.DRAFT, history=[step])


@dataclass
class Stack(_Entry):
    spec: StackSpec | None = None

    @classmethod
    def create(cls, id: str, issuer_id: str, spec: StackSpec, actor: str, at: datetime) -> Stack:
        stack = cls(id=id, version=1, issuer_id=issuer_id, spec=spec)
        stack.history.append(QaStep(QaAction.CREATE, actor, at, to_status=QaStatus.DRAFT))
        return stack

    @property
    def definition(self) -> StackSpec:
        assert self.spec is not None
        return self.spec

    def edit(self, spec: StackSpec, actor: str, at: datetime) -> None:
        self._step(QaAction.EDIT, actor, at)
        self.spec = spec

    def approve(
        self, actor: str, at: datetime, published_mc_ids: Iterable[str], reason: str = ""
    ) -> None:
        """Approve, if every member micro-credential has an approved version: a pathway must
        not point at something nobody can enrol in."""
        missing = sorted(set(self.definition.member_micro_credential_ids) - set(published_mc_ids))
        if missing:
            raise MembersNotApproved(f"members without an approved version: {', '.join(missing)}")
        self._step(QaAction.APPROVE, actor, at, reason)

    def next_version(self, actor: str, at: datetime) -> Stack:
        version = _open_next_version(self)
        step = QaStep(QaAction.CREATE, actor, at, to_status=QaStatus.DRAFT)
        return replace(self, version=version, status=QaStatus.DRAFT, history=[step])
