"""Licensure API: an educator's renewal-credit ledger and balance per certificate cycle, their
stack completions, their credentials as Ed-Fi ``Credential`` records (for licensure and HR
systems), their Comprehensive Learner Record, and the state's renewal rules.

Who may read an educator's records: the educator themself (the ``educator_id`` of their
token), and the ``licensure_system`` and ``state_admin`` roles for everyone.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from mc_events.contracts.common import CreditUnit, Grant
from mc_events.contracts.registry import CreditPostingReason
from mc_platform.auth import CurrentPrincipal, Role
from mc_platform.dependencies import ClockDep
from mc_platform.refusals import Forbidden
from registry.domain import licensure as rules_of
from registry.entrypoints.api.deps import IssuanceDep, StateAdmin, UoW
from registry.service_layer import licensure

EducatorId = Annotated[str, Path(min_length=1, max_length=100)]
CycleLabel = Annotated[str | None, Query(pattern=r"^\d{4}-\d{4}$", description="e.g. 2025-2030")]

router = APIRouter(tags=["licensure"])


async def readable_educator(educator_id: EducatorId, caller: CurrentPrincipal) -> str:
    """The educator of the path, if the caller may read their records: the educator
    themself, a licensure system or a state admin (403 for anyone else)."""
    if caller.has(Role.LICENSURE_SYSTEM, Role.STATE_ADMIN):
        return educator_id
    if caller.has(Role.EDUCATOR) and caller.educator_id == educator_id:
        return educator_id
    raise Forbidden("only the educator, a licensure system or a state admin may read these records")


ReadableEducator = Annotated[str, Depends(readable_educator)]


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


def rules_view(rules: rules_of.RenewalRules) -> RulesView:
    return RulesView(
        state=rules.state,
        cycle_years=rules.cycle_years,
        required_credits=rules.required_credits,
        conversions={
            unit.value: {"per": c.per, "renewal_credits": c.renewal_credits}
            for unit, c in sorted(rules.conversions.items())
        },
    )


@router.get("/licensure/rules", summary="The state's renewal rules in force (public)")
async def get_rules(uow: UoW) -> RulesView:
    return rules_view(await licensure.rules_in_force(uow))


@router.put(
    "/licensure/rules",
    summary="Change the renewal rules of the state in force (state admin); postings "
    "already made keep the amounts and cycles they were posted with",
)
async def put_rules(body: RulesIn, uow: UoW, caller: StateAdmin, clock: ClockDep) -> RulesView:
    rules = await licensure.change_rules(
        uow,
        cycle_years=body.cycle_years,
        required_credits=body.required_credits,
        conversions={
            unit: rules_of.Conversion(c.per, c.renewal_credits)
            for unit, c in body.conversions.items()
        },
        now=clock(),
    )
    return rules_view(rules)


@router.get(
    "/educators/{educator_id}/stacks",
    summary="The educator's stack completions, standing and reversed",
)
async def get_stacks(educator_id: ReadableEducator, uow: UoW) -> list[CompletionView]:
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
        for c in await licensure.completions(uow, educator_id)
    ]


@router.get(
    "/educators/{educator_id}/renewal-credits",
    summary="An educator's renewal-credit ledger and balance per certificate cycle",
)
async def get_ledger(
    educator_id: EducatorId, uow: UoW, caller: CurrentPrincipal, cycle: CycleLabel = None
) -> LedgerView:
    # Checked here, once the query is valid: a malformed cycle is a 422 whoever asks.
    await readable_educator(educator_id, caller)
    ledger = await licensure.ledger(uow, educator_id, cycle)
    return LedgerView(
        educator_id=educator_id,
        state=ledger.state,
        license_expires_on=ledger.license_expires_on,
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
            for b in ledger.cycles
        ],
    )


@router.get(
    "/educators/{educator_id}/ed-fi/credentials",
    summary="The educator's valid micro-credentials and endorsements as Ed-Fi Credentials",
    response_class=JSONResponse,
)
async def get_edfi_credentials(
    educator_id: ReadableEducator, uow: UoW, issuance: IssuanceDep, clock: ClockDep
) -> JSONResponse:
    return JSONResponse(await licensure.edfi_credentials(uow, issuance, educator_id, clock()))


@router.get(
    "/educators/{educator_id}/clr",
    summary="The educator's Comprehensive Learner Record 2.0 (ClrCredential)",
    response_class=JSONResponse,
    responses={404: {"description": "The educator holds no valid credential"}},
)
async def get_clr(
    educator_id: ReadableEducator, uow: UoW, issuance: IssuanceDep, clock: ClockDep
) -> JSONResponse:
    return JSONResponse(await licensure.learner_record(uow, issuance, educator_id, clock()))
