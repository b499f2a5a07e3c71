"""Portability API: the state's rules recognising credentials issued elsewhere, an educator's
imports of such credentials, and rechecking an import against its issuer's status list."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response, status
from pydantic import BaseModel, ConfigDict, Field, model_validator

from mc_events.contracts.common import Credits
from mc_platform.auth import CurrentPrincipal, Role
from mc_platform.dependencies import ClockDep
from mc_platform.refusals import Forbidden
from registry.adapters.licensure_repository import ImportRecord
from registry.domain.portability import (
    IssuerStatus,
    ProofStatus,
    RecognitionRule,
    RecognitionStatus,
)
from registry.entrypoints.api.deps import IssuanceDep, StateAdmin, UoW
from registry.entrypoints.api.licensure import EducatorId, ReadableEducator
from registry.service_layer import portability

SLUG = r"^[a-z0-9][a-z0-9-]{2,63}$"

router = APIRouter(tags=["licensure"])


class RecognitionRuleIn(BaseModel):
    """A state rule recognising credentials issued elsewhere."""

    model_config = ConfigDict(extra="forbid")

    rule_id: str = Field(pattern=SLUG)
    external_issuer_id: str = Field(
        min_length=1, max_length=500, description="The issuer's id (URL or DID) exactly."
    )
    external_achievement_id: str | None = Field(default=None, min_length=1, max_length=500)
    achievement_name: str | None = Field(
        default=None, min_length=1, max_length=200, description="Matched case-insensitively."
    )
    equivalent_micro_credential_id: str | None = Field(
        default=None, description="The state micro-credential it is equivalent to, if any."
    )
    credits: Credits = Field(description="Credits granted (converted by the renewal rules).")

    @model_validator(mode="after")
    def _matches_something(self) -> RecognitionRuleIn:
        if self.external_achievement_id is None and self.achievement_name is None:
            raise ValueError("a rule names the external achievement id or its name")
        return self


class ImportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    credential: dict[str, Any] = Field(description="The Open Badges 3.0 credential (JSON).")


class ImportView(BaseModel):
    import_id: str
    educator_id: str
    external_credential_id: str
    issuer_id: str
    achievement_id: str | None
    achievement_name: str
    proof_status: ProofStatus
    recognition_status: RecognitionStatus
    rule_id: str | None
    equivalent_micro_credential_id: str | None
    credits: Credits | None
    imported_at: datetime
    issuer_status: IssuerStatus | None = Field(
        description="The issuer's status list as last read: valid, revoked, suspended, "
        "status_unknown (it could not be read or verified; never taken as valid) or none (the "
        "credential has no status entry)."
    )
    status_checked_at: datetime | None
    status_detail: str | None
    revoked_at: datetime | None = Field(
        description="When the registry found the credential revoked by its issuer."
    )


class RecheckView(BaseModel):
    imported: ImportView = Field(serialization_alias="import")
    changed: bool = Field(description="Whether this recheck changed the import.")
    revoked_now: bool = Field(description="Whether this recheck found the revocation.")
    renewal_credits_reversed: Decimal | None
    stacks_reversed: int


def import_view(record: ImportRecord) -> ImportView:
    return ImportView(
        import_id=record.import_id,
        educator_id=record.educator_id,
        external_credential_id=record.external.credential_id,
        issuer_id=record.external.issuer_id,
        achievement_id=record.external.achievement_id,
        achievement_name=record.external.achievement_name,
        proof_status=record.proof_status,
        recognition_status=record.recognition_status,
        rule_id=record.rule_id,
        equivalent_micro_credential_id=record.equivalent_micro_credential_id,
        credits=record.credits,
        imported_at=record.imported_at,
        issuer_status=record.issuer_status,
        status_checked_at=record.status_checked_at,
        status_detail=record.status_detail,
        revoked_at=record.revoked_at,
    )


def _rule_view(rule: RecognitionRule) -> RecognitionRuleIn:
    return RecognitionRuleIn(
        rule_id=rule.rule_id,
        external_issuer_id=rule.external_issuer_id,
        external_achievement_id=rule.external_achievement_id,
        achievement_name=rule.achievement_name,
        equivalent_micro_credential_id=rule.equivalent_micro_credential_id,
        credits=rule.credits,
    )


@router.post(
    "/licensure/recognition-rules",
    status_code=status.HTTP_201_CREATED,
    summary="Add a rule recognising credentials issued elsewhere (state admin)",
)
async def add_recognition_rule(
    body: RecognitionRuleIn, uow: UoW, caller: StateAdmin, clock: ClockDep
) -> RecognitionRuleIn:
    rule = RecognitionRule(
        rule_id=body.rule_id,
        external_issuer_id=body.external_issuer_id,
        external_achievement_id=body.external_achievement_id,
        achievement_name=body.achievement_name,
        equivalent_micro_credential_id=body.equivalent_micro_credential_id,
        credits=body.credits,
    )
    await portability.add_recognition_rule(uow, rule, clock())
    return body


@router.get("/licensure/recognition-rules", summary="The state's recognition rules (public)")
async def list_recognition_rules(uow: UoW) -> list[RecognitionRuleIn]:
    return [_rule_view(rule) for rule in await portability.recognition_rules(uow)]


@router.post(
    "/educators/{educator_id}/imports",
    summary="Import an Open Badges 3.0 credential issued elsewhere; the state recognises "
    "it by its rules (201: imported; 200: already imported, nothing changed)",
    status_code=status.HTTP_201_CREATED,
    responses={422: {"description": "Refused: schema, proof, validity or recipient"}},
)
async def import_credential(
    educator_id: EducatorId,
    body: ImportIn,
    uow: UoW,
    caller: CurrentPrincipal,
    response: Response,
    issuance: IssuanceDep,
    clock: ClockDep,
) -> ImportView:
    if not (
        caller.has(Role.STATE_ADMIN)
        or (caller.has(Role.EDUCATOR) and caller.educator_id == educator_id)
    ):
        raise Forbidden("only the educator or a state admin may import an educator's credential")
    result = await portability.import_credential(
        uow,
        issuance,
        educator_id=educator_id,
        district_id=caller.district_id if caller.has(Role.EDUCATOR) else None,
        document=body.credential,
        actor=caller.subject,
        now=clock(),
    )
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return import_view(result.record)


@router.get("/educators/{educator_id}/imports", summary="The educator's imported credentials")
async def list_imports(educator_id: ReadableEducator, uow: UoW) -> list[ImportView]:
    return [import_view(r) for r in await portability.imports_of(uow, educator_id)]


@router.post(
    "/imports/{import_id}/recheck",
    summary="Read the issuer's status of an imported credential again (state admin); if "
    "the issuer revoked it, the import is revoked and its credits and stacks reversed, once",
    responses={404: {"description": "No such import"}},
)
async def recheck_import(
    import_id: Annotated[str, Path(min_length=1, max_length=200)],
    uow: UoW,
    caller: StateAdmin,
    issuance: IssuanceDep,
    clock: ClockDep,
) -> RecheckView:
    result = await portability.recheck_import(
        uow, issuance, import_id=import_id, actor=caller.subject, now=clock()
    )
    return RecheckView(
        imported=import_view(result.record),
        changed=result.changed,
        revoked_now=result.revoked_now,
        renewal_credits_reversed=(-result.reversal.renewal_credits if result.reversal else None),
        stacks_reversed=result.stacks_reversed,
    )
