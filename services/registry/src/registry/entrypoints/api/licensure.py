"""Licensure API: an educator's renewal-credit ledger and balance per certificate cycle, their
credentials as Ed-Fi ``Credential`` records (for licensure and HR systems), their
Comprehensive Learner Record, and the state's renewal rules.

Who may read an educator's records: the educator themself (the ``educator_id`` of their
token), and the ``licensure_system`` and ``state_admin`` roles for everyone.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from mc_events.auth import CurrentPrincipal, Principal, Role, require
from mc_events.contracts.common import Credits, CreditUnit, Grant
from mc_events.contracts.registry import CreditPostingReason
from registry.adapters.catalog_repository import CatalogRepository
from registry.adapters.licensure_repository import ImportRecord, LicensureRepository
from registry.domain import clr, licensure
from registry.domain.portability import (
    ImportRefused,
    IssuerStatus,
    ProofStatus,
    RecognitionRule,
    RecognitionStatus,
)
from registry.domain.stacks import endorsements
from registry.entrypoints.api.deps import ApiContext, Uow
from registry.service_layer import portability, signing
from registry.service_layer.catalog import event_id
from registry.service_layer.errors import NotFound

StateAdmin = Annotated[Principal, Depends(require(Role.STATE_ADMIN))]
SLUG = r"^[a-z0-9][a-z0-9-]{2,63}$"
EducatorId = Annotated[str, Path(min_length=1, max_length=100)]
CycleLabel = Annotated[str | None, Query(pattern=r"^\d{4}-\d{4}$", description="e.g. 2025-2030")]


def ensure_may_read(caller: Principal, educator_id: str) -> None:
    """403 unless the caller is the educator or a licensure system or state admin."""
    if caller.has(Role.LICENSURE_SYSTEM, Role.STATE_ADMIN):
        return
    if caller.has(Role.EDUCATOR) and caller.educator_id == educator_id:
        return
    raise HTTPException(
        status.HTTP_403_FORBIDDEN,
        detail="only the educator, a licensure system or a state admin may read these records",
    )


class LedgerEntryView(BaseModel):
    ledger_entry_id: str
    credential_id: str
    credits: Decimal
    unit: CreditUnit
    renewal_credits: Decimal
    reason: CreditPostingReason
    reverses_entry_id: str | None
    posted_at: datetime


class CycleView(BaseModel):
    certificate_cycle: str
    starts_on: date
    ends_on: date
    renewal_credits: Decimal
    required: Decimal
    remaining: Decimal
    requirement_met: bool
    entries: list[LedgerEntryView]


class LedgerView(BaseModel):
    educator_id: str
    state: str
    license_expires_on: date | None
    cycles: list[CycleView]


class RulesView(BaseModel):
    state: str
    cycle_years: int
    required_credits: Decimal
    conversions: dict[str, dict[str, Decimal]]


class ConversionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    per: Decimal = Field(gt=0, le=1000, description="This many units...")
    renewal_credits: Decimal = Field(ge=0, le=1000, description="...are worth this many.")


class RulesIn(BaseModel):
    """The state's renewal rules (the state itself is the one in force)."""

    model_config = ConfigDict(extra="forbid")

    cycle_years: int = Field(ge=1, le=10)
    required_credits: Decimal = Field(ge=0, le=10000)
    conversions: dict[CreditUnit, ConversionIn] = Field(min_length=1)


class CompletionView(BaseModel):
    stack_completion_id: str
    stack_id: str
    stack_version: int
    stack_name: str
    grants: list[Grant]
    member_credential_ids: list[str]
    completed_at: datetime
    reversed_at: datetime | None
    reversed_by_credential_id: str | None


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


def rules_view(rules: licensure.RenewalRules) -> RulesView:
    return RulesView(
        state=rules.state,
        cycle_years=rules.cycle_years,
        required_credits=rules.required_credits,
        conversions={
            unit.value: {"per": c.per, "renewal_credits": c.renewal_credits}
            for unit, c in sorted(rules.conversions.items())
        },
    )


def router(ctx: ApiContext) -> APIRouter:
    api = APIRouter(tags=["licensure"])
    urls = ctx.urls
    clock = ctx.clock
    namespace = f"uri://{urlsplit(urls.registry).netloc or 'registry'}"

    async def rules_or_503(repo: LicensureRepository) -> licensure.RenewalRules:
        rules = await repo.rules_in_force()
        if rules is None:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE, detail="no renewal rules are in force"
            )
        return rules

    @api.get("/licensure/rules", summary="The state's renewal rules in force (public)")
    async def get_rules(uow: Uow) -> RulesView:
        async with uow:
            rules = await rules_or_503(LicensureRepository(uow.session))
        return rules_view(rules)

    @api.put(
        "/licensure/rules",
        summary="Change the renewal rules of the state in force (state admin); postings "
        "already made keep the amounts and cycles they were posted with",
    )
    async def put_rules(body: RulesIn, uow: Uow, caller: StateAdmin) -> RulesView:
        async with uow:
            repo = LicensureRepository(uow.session)
            current = await rules_or_503(repo)
            rules = licensure.RenewalRules(
                state=current.state,
                cycle_years=body.cycle_years,
                required_credits=body.required_credits,
                conversions={
                    unit: licensure.Conversion(c.per, c.renewal_credits)
                    for unit, c in body.conversions.items()
                },
            )
            await repo.save_rules(rules, clock())
            await uow.commit()
        return rules_view(rules)

    @api.get(
        "/educators/{educator_id}/stacks",
        summary="The educator's stack completions, standing and reversed",
    )
    async def get_stacks(
        educator_id: EducatorId, uow: Uow, caller: CurrentPrincipal
    ) -> list[CompletionView]:
        ensure_may_read(caller, educator_id)
        async with uow:
            done = await LicensureRepository(uow.session).completions_for(
                educator_id, standing=False
            )
        return [
            CompletionView(
                stack_completion_id=c.completion_id,
                stack_id=c.stack_id,
                stack_version=c.stack_version,
                stack_name=c.stack_name,
                grants=list(c.grants),
                member_credential_ids=list(c.member_credential_ids),
                completed_at=c.completed_at,
                reversed_at=c.reversed_at,
                reversed_by_credential_id=c.reversed_by_credential_id,
            )
            for c in done
        ]

    @api.get(
        "/educators/{educator_id}/renewal-credits",
        summary="An educator's renewal-credit ledger and balance per certificate cycle",
    )
    async def get_ledger(
        educator_id: EducatorId, uow: Uow, caller: CurrentPrincipal, cycle: CycleLabel = None
    ) -> LedgerView:
        ensure_may_read(caller, educator_id)
        async with uow:
            repo = LicensureRepository(uow.session)
            rules = await rules_or_503(repo)
            entries = await repo.ledger(educator_id, cycle)
            expires_on = await repo.license_expiry(educator_id)
        return LedgerView(
            educator_id=educator_id,
            state=rules.state,
            license_expires_on=expires_on,
            cycles=[
                CycleView(
                    certificate_cycle=b.cycle.label,
                    starts_on=b.cycle.start,
                    ends_on=b.cycle.end,
                    renewal_credits=b.earned,
                    required=b.required,
                    remaining=b.remaining,
                    requirement_met=b.met,
                    entries=[
                        LedgerEntryView(
                            ledger_entry_id=e.entry_id,
                            credential_id=e.credential_id,
                            credits=e.credits,
                            unit=e.unit,
                            renewal_credits=e.renewal_credits,
                            reason=CreditPostingReason(e.reason),
                            reverses_entry_id=e.reverses_entry_id,
                            posted_at=e.posted_at,
                        )
                        for e in b.entries
                    ],
                )
                for b in licensure.balances(entries, rules.required_credits)
            ],
        )

    @api.get(
        "/educators/{educator_id}/ed-fi/credentials",
        summary="The educator's valid micro-credentials and endorsements as Ed-Fi Credentials",
        response_class=JSONResponse,
    )
    async def get_edfi_credentials(
        educator_id: EducatorId, uow: Uow, caller: CurrentPrincipal
    ) -> JSONResponse:
        ensure_may_read(caller, educator_id)
        now = clock()
        async with uow:
            repo = LicensureRepository(uow.session)
            rules = await rules_or_503(repo)
            held = await repo.educator_credentials(educator_id, valid_at=now)
            imported = await repo.recognized_import_records(educator_id)
            completions = await repo.completions_for(educator_id, standing=True)
        sources = (
            [
                licensure.EdFiCredentialSource(
                    identifier=c.credential_id,
                    field_code=c.micro_credential_id,
                    credential_type="Certification",
                    issued_on=c.awarded_at.date(),
                    expires_on=c.valid_until.date() if c.valid_until else None,
                    educator_id=educator_id,
                    namespace=namespace,
                    name=c.achievement_name,
                )
                for c in held
            ]
            + [
                # Recognised credentials issued elsewhere, marked as imported, with their issuer
                # and the state micro-credential they count as (an import its issuer revoked is no
                # longer recognised, so it is not here).
                licensure.EdFiCredentialSource(
                    identifier=record.import_id,
                    field_code=(
                        record.equivalent_micro_credential_id
                        or record.external.achievement_id
                        or record.external.achievement_name
                    ),
                    credential_type="Certification",
                    issued_on=earned.date(),
                    expires_on=until.date() if until else None,
                    educator_id=educator_id,
                    namespace=namespace,
                    name=record.external.achievement_name,
                    imported_from=record.external.issuer_id,
                    external_credential_id=record.external.credential_id,
                    equivalent_micro_credential_id=record.equivalent_micro_credential_id,
                )
                for record, document in imported
                for earned, until in [portability.validity_window(document, record.imported_at)]
                if until is None or until > now
            ]
            + [
                licensure.EdFiCredentialSource(
                    identifier=event_id("endorsement_eligibility", done.completion_id, grant.code),
                    field_code=grant.code,
                    credential_type="Endorsement",
                    issued_on=done.completed_at.date(),
                    expires_on=None,
                    educator_id=educator_id,
                    namespace=namespace,
                    name=grant.name,
                )
                for done in completions
                for grant in endorsements(done.grants)
            ]
        )
        return JSONResponse(
            {
                "educatorId": educator_id,
                "credentials": [licensure.edfi_credential(s, rules.state) for s in sources],
            }
        )

    @api.get(
        "/educators/{educator_id}/clr",
        summary="The educator's Comprehensive Learner Record 2.0 (ClrCredential)",
        response_class=JSONResponse,
        responses={404: {"description": "The educator holds no valid credential"}},
    )
    async def get_clr(educator_id: EducatorId, uow: Uow, caller: CurrentPrincipal) -> JSONResponse:
        ensure_may_read(caller, educator_id)
        now = clock()
        async with uow:
            # Awards not signed yet are signed now: the CLR carries each credential signed.
            await signing.sign_awaiting(
                uow.session, ctx.issuance, urls, now, educator_id=educator_id, limit=500, wait=True
            )
            await uow.commit()
        async with uow:
            repo = LicensureRepository(uow.session)
            catalog = CatalogRepository(uow.session)
            held = await repo.educator_credentials(educator_id, valid_at=now)
            imported = await repo.recognized_imports(educator_id)
            stacks: list[clr.CompletedStack] = []
            for done in await repo.completions_for(educator_id, standing=True):
                stack = await catalog.get_stack(done.stack_id, done.stack_version)
                assert stack is not None
                stacks.append(
                    clr.CompletedStack(
                        stack_id=done.stack_id,
                        stack_version=done.stack_version,
                        name=done.stack_name,
                        description=stack.definition.description,
                        rule=stack.definition.rule,
                        members=done.members,
                        member_credential_ids=done.member_credential_ids,
                        completed_at=done.completed_at,
                    )
                )
        if not held and not imported:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND,
                detail=f"educator {educator_id} holds no valid credential (a CLR needs one)",
            )
        document: dict[str, Any] = clr.clr_credential(
            clr_id=f"urn:uuid:{uuid.uuid4()}",
            educator_id=educator_id,
            salt=secrets.token_hex(16),
            # The state's own credentials, then recognised imports as their issuers signed them.
            credentials=[(c.micro_credential_id, c.document) for c in held] + imported,
            stacks=stacks,
            urls=urls,
            issued_at=now,
        )
        return JSONResponse(document)

    # -- portability -------------------------------------------------------------------------

    @api.post(
        "/licensure/recognition-rules",
        status_code=status.HTTP_201_CREATED,
        summary="Add a rule recognising credentials issued elsewhere (state admin)",
    )
    async def add_recognition_rule(
        body: RecognitionRuleIn, uow: Uow, caller: StateAdmin
    ) -> RecognitionRuleIn:
        async with uow:
            if body.equivalent_micro_credential_id is not None:
                mc_id = body.equivalent_micro_credential_id
                if not await CatalogRepository(uow.session).approved_mc_ids([mc_id]):
                    raise HTTPException(
                        status.HTTP_422_UNPROCESSABLE_CONTENT,
                        detail=f"{mc_id} has no approved version in the state catalog",
                    )
            rule = RecognitionRule(
                rule_id=body.rule_id,
                external_issuer_id=body.external_issuer_id,
                external_achievement_id=body.external_achievement_id,
                achievement_name=body.achievement_name,
                equivalent_micro_credential_id=body.equivalent_micro_credential_id,
                credits=body.credits,
            )
            if not await LicensureRepository(uow.session).add_recognition_rule(rule, clock()):
                raise HTTPException(
                    status.HTTP_409_CONFLICT, detail=f"rule {body.rule_id} already exists"
                )
            await uow.commit()
        return body

    @api.get("/licensure/recognition-rules", summary="The state's recognition rules (public)")
    async def list_recognition_rules(uow: Uow) -> list[RecognitionRuleIn]:
        async with uow:
            rules = await LicensureRepository(uow.session).recognition_rules()
        return [
            RecognitionRuleIn(
                rule_id=r.rule_id,
                external_issuer_id=r.external_issuer_id,
                external_achievement_id=r.external_achievement_id,
                achievement_name=r.achievement_name,
                equivalent_micro_credential_id=r.equivalent_micro_credential_id,
                credits=r.credits,
            )
            for r in rules
        ]

    @api.post(
        "/educators/{educator_id}/imports",
        summary="Import an Open Badges 3.0 credential issued elsewhere; the state recognises "
        "it by its rules (201: imported; 200: already imported, nothing changed)",
        status_code=status.HTTP_201_CREATED,
        responses={422: {"description": "Refused: schema, proof, validity or recipient"}},
    )
    async def import_credential(
        educator_id: EducatorId,
        body: ImportIn,
        uow: Uow,
        caller: CurrentPrincipal,
        response: Response,
    ) -> ImportView:
        if not (
            caller.has(Role.STATE_ADMIN)
            or (caller.has(Role.EDUCATOR) and caller.educator_id == educator_id)
        ):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail="only the educator or a state admin may import an educator's credential",
            )
        try:
            result = await portability.import_credential(
                uow,
                educator_id=educator_id,
                district_id=caller.district_id if caller.has(Role.EDUCATOR) else None,
                document=body.credential,
                actor=caller.subject,
                urls=urls,
                now=clock(),
                fetch=ctx.status_fetcher,
            )
        except ImportRefused as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from exc
        if not result.created:
            response.status_code = status.HTTP_200_OK
        return import_view(result.record)

    @api.get("/educators/{educator_id}/imports", summary="The educator's imported credentials")
    async def list_imports(
        educator_id: EducatorId, uow: Uow, caller: CurrentPrincipal
    ) -> list[ImportView]:
        ensure_may_read(caller, educator_id)
        async with uow:
            records = await LicensureRepository(uow.session).imports_for(educator_id)
        return [import_view(r) for r in records]

    @api.post(
        "/imports/{import_id}/recheck",
        summary="Read the issuer's status of an imported credential again (state admin); if "
        "the issuer revoked it, the import is revoked and its credits and stacks reversed, once",
        responses={404: {"description": "No such import"}},
    )
    async def recheck_import(
        import_id: Annotated[str, Path(min_length=1, max_length=200)],
        uow: Uow,
        caller: StateAdmin,
    ) -> RecheckView:
        try:
            result = await portability.recheck_import(
                uow,
                import_id=import_id,
                fetch=ctx.status_fetcher,
                urls=urls,
                actor=caller.subject,
                now=clock(),
            )
        except NotFound as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from exc
        return RecheckView(
            imported=import_view(result.record),
            changed=result.changed,
            revoked_now=result.revoked_now,
            renewal_credits_reversed=(
                -result.reversal.renewal_credits if result.reversal else None
            ),
            stacks_reversed=result.stacks_reversed,
        )

    return api
