"""Catalog API: issuers write and submit drafts of their own entries, state admins decide, and
anyone reads the approved catalog (``/achievements``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field

from mc_events.auth import Principal, Role, require
from mc_events.contracts.common import Purpose
from registry.adapters.catalog_repository import AchievementFilter
from registry.domain.catalog import MicroCredential, MicroCredentialSpec, Stack, StackSpec
from registry.domain.qa import QaStatus, QaStep
from registry.entrypoints.api.deps import ApiContext, Uow, domain_errors
from registry.service_layer import catalog as commands

MAX_PAGE_SIZE = 100
SLUG = r"^[a-z0-9][a-z0-9-]{2,63}$"

IssuerCaller = Annotated[Principal, Depends(require(Role.ISSUER))]
StateAdmin = Annotated[Principal, Depends(require(Role.STATE_ADMIN))]
IssuerOrAdmin = Annotated[Principal, Depends(require(Role.ISSUER, Role.STATE_ADMIN))]


class RegisterIssuer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    issuer_id: str = Field(pattern=SLUG)
    name: str = Field(min_length=1, max_length=200)
    url: str | None = Field(default=None, max_length=500)
    description: str = Field(default="", max_length=5000)


class IssuerView(BaseModel):
    issuer_id: str
    name: str
    url: str | None
    description: str


class CreateMicroCredential(MicroCredentialSpec):
    id: str | None = Field(default=None, pattern=SLUG, description="Default: generated.")


class CreateStack(StackSpec):
    id: str | None = Field(default=None, pattern=SLUG, description="Default: generated.")


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=5000)


class QaStepView(BaseModel):
    action: str
    actor: str
    at: datetime
    reason: str
    from_status: QaStatus | None
    to_status: QaStatus


class MicroCredentialView(BaseModel):
    id: str
    version: int
    issuer_id: str
    status: QaStatus
    enrollable: bool
    definition: MicroCredentialSpec
    history: list[QaStepView]


class StackView(BaseModel):
    id: str
    version: int
    issuer_id: str
    status: QaStatus
    definition: StackSpec
    history: list[QaStepView]


class PublicStack(StackSpec):
    """An approved stack as the public catalog shows it (no QA history: reviewers stay
    private)."""

    id: str
    version: int
    issuer_id: str
    approved_at: datetime | None


class Achievement(MicroCredentialSpec):
    """An approved micro-credential as the public catalog shows it (its latest version)."""

    id: str
    version: int
    issuer_id: str
    issuer_name: str
    approved_at: datetime | None


class AchievementDetail(Achievement):
    stacks: list[dict[str, Any]] = Field(description="Approved stacks this MC belongs to.")


class AchievementPage(BaseModel):
    items: list[Achievement]
    page: int
    page_size: int
    total: int


def _history(history: list[QaStep]) -> list[QaStepView]:
    return [
        QaStepView(
            action=step.action.value,
            actor=step.actor,
            at=step.at,
            reason=step.reason,
            from_status=step.from_status,
            to_status=step.to_status,
        )
        for step in history
    ]


def _mc_view(mc: MicroCredential) -> MicroCredentialView:
    return MicroCredentialView(
        id=mc.id,
        version=mc.version,
        issuer_id=mc.issuer_id,
        status=mc.status,
        enrollable=mc.enrollable,
        definition=mc.definition,
        history=_history(mc.history),
    )


def _stack_view(stack: Stack) -> StackView:
    return StackView(
        id=stack.id,
        version=stack.version,
        issuer_id=stack.issuer_id,
        status=stack.status,
        definition=stack.definition,
        history=_history(stack.history),
    )


def _achievement(mc: MicroCredential, issuer_name: str) -> dict[str, Any]:
    return {
        **mc.definition.model_dump(),
        "id": mc.id,
        "version": mc.version,
        "issuer_id": mc.issuer_id,
        "issuer_name": issuer_name,
        "approved_at": mc.approved_at,
    }


def _spec(body: CreateMicroCredential) -> MicroCredentialSpec:
    return MicroCredentialSpec.model_validate(body.model_dump(exclude={"id"}))


def _stack_spec(body: CreateStack) -> StackSpec:
    return StackSpec.model_validate(body.model_dump(exclude={"id"}))


def router(ctx: ApiContext) -> APIRouter:
    api = APIRouter()
    clock = ctx.clock

    # -- issuers (providers) ---------------------------------------------------------------

    @api.post("/issuers", status_code=201, tags=["catalog"], summary="Register a provider")
    async def register_issuer(body: RegisterIssuer, uow: Uow, _: StateAdmin) -> IssuerView:
        async with domain_errors():
            issuer = await commands.register_issuer(
                uow,
                issuer_id=body.issuer_id,
                name=body.name,
                url=body.url,
                description=body.description,
                now=clock(),
            )
        return IssuerView(
            issuer_id=issuer.issuer_id,
            name=issuer.name,
            url=issuer.url,
            description=issuer.description,
        )

    @api.get("/issuers/{issuer_id}", tags=["catalog"], summary="A provider (public)")
    async def get_issuer(issuer_id: str, uow: Uow) -> IssuerView:
        async with uow:
            issuer = await uow.catalog.get_issuer(issuer_id)
        if issuer is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no issuer {issuer_id}")
        return IssuerView(
            issuer_id=issuer.issuer_id,
            name=issuer.name,
            url=issuer.url,
            description=issuer.description,
        )

    # -- micro-credentials (issuers write, the state decides) ------------------------------

    @api.post(
        "/micro-credentials",
        status_code=201,
        tags=["catalog"],
        summary="Create a micro-credential (version 1, a draft) for the caller's issuer",
    )
    async def create_mc(
        body: CreateMicroCredential, uow: Uow, caller: IssuerCaller
    ) -> MicroCredentialView:
        async with domain_errors():
            mc = await commands.create_micro_credential(
                uow,
                issuer_id=caller.issuer_id,
                actor=caller.subject,
                spec=_spec(body),
                now=clock(),
                mc_id=body.id,
            )
        return _mc_view(mc)

    @api.get(
        "/micro-credentials",
        tags=["catalog"],
        summary="Catalog entries in any status: an issuer's own, or all for state admins",
    )
    async def list_mcs(
        uow: Uow,
        caller: IssuerOrAdmin,
        status_: Annotated[QaStatus | None, Query(alias="status")] = None,
        page: Annotated[int, Query(ge=1, le=10_000)] = 1,
        page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 20,
    ) -> list[MicroCredentialView]:
        issuer_id = None if caller.has(Role.STATE_ADMIN) else caller.issuer_id or ""
        async with uow:
            mcs = await uow.catalog.list_mcs(
                issuer_id=issuer_id,
                status=status_,
                limit=page_size,
                offset=(page - 1) * page_size,
            )
        return [_mc_view(mc) for mc in mcs]

    @api.get(
        "/micro-credentials/{mc_id}/versions/{version}",
        tags=["catalog"],
        summary="One version in any status, with its QA history",
    )
    async def get_mc(
        mc_id: str, version: int, uow: Uow, caller: IssuerOrAdmin
    ) -> MicroCredentialView:
        async with uow:
            mc = await uow.catalog.get_mc(mc_id, version)
        if mc is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no {mc_id} v{version}")
        if not caller.has(Role.STATE_ADMIN):
            async with domain_errors():
                mc.ensure_owned_by(caller.issuer_id)
        return _mc_view(mc)

    @api.put(
        "/micro-credentials/{mc_id}/versions/{version}",
        tags=["catalog"],
        summary="Replace the definition of a draft",
    )
    async def edit_mc(
        mc_id: str, version: int, body: MicroCredentialSpec, uow: Uow, caller: IssuerCaller
    ) -> MicroCredentialView:
        async with domain_errors():
            mc = await commands.edit_micro_credential(
                uow,
                issuer_id=caller.issuer_id,
                actor=caller.subject,
                mc_id=mc_id,
                version=version,
                spec=body,
                now=clock(),
            )
        return _mc_view(mc)

    @api.post(
        "/micro-credentials/{mc_id}/versions",
        status_code=201,
        tags=["catalog"],
        summary="Start the next version (a draft copying the latest one)",
    )
    async def new_mc_version(mc_id: str, uow: Uow, caller: IssuerCaller) -> MicroCredentialView:
        async with domain_errors():
            mc = await commands.new_micro_credential_version(
                uow, issuer_id=caller.issuer_id, actor=caller.subject, mc_id=mc_id, now=clock()
            )
        return _mc_view(mc)

    @api.post(
        "/micro-credentials/{mc_id}/versions/{version}/submit",
        tags=["catalog"],
        summary="Submit a draft for state review",
    )
    async def submit_mc(
        mc_id: str, version: int, uow: Uow, caller: IssuerCaller
    ) -> MicroCredentialView:
        async with domain_errors():
            mc = await commands.submit_micro_credential(
                uow,
                issuer_id=caller.issuer_id,
                actor=caller.subject,
                mc_id=mc_id,
                version=version,
                now=clock(),
            )
        return _mc_view(mc)

    @api.post(
        "/micro-credentials/{mc_id}/versions/{version}/approve",
        tags=["catalog"],
        summary="Approve a submitted version: it is published and can be enrolled in",
    )
    async def approve_mc(
        mc_id: str, version: int, body: Decision, uow: Uow, caller: StateAdmin
    ) -> MicroCredentialView:
        async with domain_errors():
            mc = await commands.approve_micro_credential(
                uow,
                actor=caller.subject,
                mc_id=mc_id,
                version=version,
                reason=body.reason,
                now=clock(),
            )
        return _mc_view(mc)

    @api.post(
        "/micro-credentials/{mc_id}/versions/{version}/reject",
        tags=["catalog"],
        summary="Send a submitted version back to draft, with the reason",
    )
    async def reject_mc(
        mc_id: str, version: int, body: Decision, uow: Uow, caller: StateAdmin
    ) -> MicroCredentialView:
        async with domain_errors():
            mc = await commands.reject_micro_credential(
                uow,
                actor=caller.subject,
                mc_id=mc_id,
                version=version,
                reason=body.reason,
                now=clock(),
            )
        return _mc_view(mc)

    @api.post(
        "/micro-credentials/{mc_id}/versions/{version}/retire",
        tags=["catalog"],
        summary="Retire an approved version, with the reason",
    )
    async def retire_mc(
        mc_id: str, version: int, body: Decision, uow: Uow, caller: StateAdmin
    ) -> MicroCredentialView:
        async with domain_errors():
            mc = await commands.retire_micro_credential(
                uow,
                actor=caller.subject,
                mc_id=mc_id,
                version=version,
                reason=body.reason,
                now=clock(),
            )
        return _mc_view(mc)

    # -- stacks ----------------------------------------------------------------------------

    @api.post("/stacks", status_code=201, tags=["catalog"], summary="Create a stack (a draft)")
    async def create_stack(body: CreateStack, uow: Uow, caller: IssuerCaller) -> StackView:
        async with domain_errors():
            stack = await commands.create_stack(
                uow,
                issuer_id=caller.issuer_id,
                actor=caller.subject,
                spec=_stack_spec(body),
                now=clock(),
                stack_id=body.id,
            )
        return _stack_view(stack)

    @api.get(
        "/stacks/{stack_id}",
        tags=["public catalog"],
        summary="The latest approved version of a stack (public)",
    )
    async def get_public_stack(stack_id: str, uow: Uow) -> PublicStack:
        async with uow:
            stack = await uow.catalog.latest_approved_stack(stack_id)
        if stack is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no approved stack {stack_id}")
        return PublicStack.model_validate(
            {
                **stack.definition.model_dump(),
                "id": stack.id,
                "version": stack.version,
                "issuer_id": stack.issuer_id,
                "approved_at": stack.approved_at,
            }
        )

    @api.get(
        "/stacks/{stack_id}/versions/{version}",
        tags=["catalog"],
        summary="One stack version in any status, with its QA history",
    )
    async def get_stack(stack_id: str, version: int, uow: Uow, caller: IssuerOrAdmin) -> StackView:
        async with uow:
            stack = await uow.catalog.get_stack(stack_id, version)
        if stack is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no {stack_id} v{version}")
        if not caller.has(Role.STATE_ADMIN):
            async with domain_errors():
                stack.ensure_owned_by(caller.issuer_id)
        return _stack_view(stack)

    @api.put("/stacks/{stack_id}/versions/{version}", tags=["catalog"], summary="Edit a draft")
    async def edit_stack(
        stack_id: str, version: int, body: StackSpec, uow: Uow, caller: IssuerCaller
    ) -> StackView:
        async with domain_errors():
            stack = await commands.edit_stack(
                uow,
                issuer_id=caller.issuer_id,
                actor=caller.subject,
                stack_id=stack_id,
                version=version,
                spec=body,
                now=clock(),
            )
        return _stack_view(stack)

    @api.post(
        "/stacks/{stack_id}/versions",
        status_code=201,
        tags=["catalog"],
        summary="Start the next version of a stack",
    )
    async def new_stack_version(stack_id: str, uow: Uow, caller: IssuerCaller) -> StackView:
        async with domain_errors():
            stack = await commands.new_stack_version(
                uow,
                issuer_id=caller.issuer_id,
                actor=caller.subject,
                stack_id=stack_id,
                now=clock(),
            )
        return _stack_view(stack)

    @api.post("/stacks/{stack_id}/versions/{version}/submit", tags=["catalog"])
    async def submit_stack(
        stack_id: str, version: int, uow: Uow, caller: IssuerCaller
    ) -> StackView:
        async with domain_errors():
            stack = await commands.submit_stack(
                uow,
                issuer_id=caller.issuer_id,
                actor=caller.subject,
                stack_id=stack_id,
                version=version,
                now=clock(),
            )
        return _stack_view(stack)

    @api.post("/stacks/{stack_id}/versions/{version}/approve", tags=["catalog"])
    async def approve_stack(
        stack_id: str, version: int, body: Decision, uow: Uow, caller: StateAdmin
    ) -> StackView:
        async with domain_errors():
            stack = await commands.approve_stack(
                uow,
                actor=caller.subject,
                stack_id=stack_id,
                version=version,
                reason=body.reason,
                now=clock(),
            )
        return _stack_view(stack)

    @api.post("/stacks/{stack_id}/versions/{version}/reject", tags=["catalog"])
    async def reject_stack(
        stack_id: str, version: int, body: Decision, uow: Uow, caller: StateAdmin
    ) -> StackView:
        async with domain_errors():
            stack = await commands.reject_stack(
                uow,
                actor=caller.subject,
                stack_id=stack_id,
                version=version,
                reason=body.reason,
                now=clock(),
            )
        return _stack_view(stack)

    @api.post("/stacks/{stack_id}/versions/{version}/retire", tags=["catalog"])
    async def retire_stack(
        stack_id: str, version: int, body: Decision, uow: Uow, caller: StateAdmin
    ) -> StackView:
        async with domain_errors():
            stack = await commands.retire_stack(
                uow,
                actor=caller.subject,
                stack_id=stack_id,
                version=version,
                reason=body.reason,
                now=clock(),
            )
        return _stack_view(stack)

    # -- the public catalog ----------------------------------------------------------------

    @api.get(
        "/achievements",
        tags=["public catalog"],
        summary="Search the approved catalog (public): latest approved version of each MC",
    )
    async def search_achievements(
        uow: Uow,
        q: Annotated[str | None, Query(max_length=200, description="Free text")] = None,
        competency: Annotated[str | None, Query(max_length=200)] = None,
        issuer: Annotated[str | None, Query(max_length=100)] = None,
        purpose: Purpose | None = None,
        stack: Annotated[str | None, Query(max_length=100)] = None,
        page: Annotated[int, Query(ge=1, le=10_000)] = 1,
        page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 20,
    ) -> AchievementPage:
        filters = AchievementFilter(
            competency=competency,
            issuer_id=issuer,
            purpose=purpose.value if purpose else None,
            stack_id=stack,
            text=q,
        )
        async with uow:
            found, total = await uow.catalog.search_achievements(
                filters, limit=page_size, offset=(page - 1) * page_size
            )
        return AchievementPage(
            items=[Achievement.model_validate(_achievement(mc, name)) for mc, name in found],
            page=page,
            page_size=page_size,
            total=total,
        )

    @api.get(
        "/achievements/{mc_id}",
        tags=["public catalog"],
        summary="One approved micro-credential (public), with the stacks it belongs to",
    )
    async def get_achievement(mc_id: str, uow: Uow) -> AchievementDetail:
        async with uow:
            mc = await uow.catalog.latest_approved_mc(mc_id)
            issuer = await uow.catalog.get_issuer(mc.issuer_id) if mc else None
            stacks = await uow.catalog.approved_stacks_containing(mc_id) if mc else []
        if mc is None or issuer is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no approved {mc_id}")
        return AchievementDetail.model_validate(
            {
                **_achievement(mc, issuer.name),
                "stacks": [
                    {"id": s.id, "version": s.version, "name": s.definition.name} for s in stacks
                ],
            }
        )

    @api.get(
        "/achievements/{mc_id}/versions/{version}",
        tags=["public catalog"],
        summary="One version the state approved (public; retired versions stay readable because "
        "credentials awarded for them point here)",
    )
    async def get_achievement_version(mc_id: str, version: int, uow: Uow) -> Achievement:
        async with uow:
            mc = await uow.catalog.get_mc(mc_id, version)
            issuer = await uow.catalog.get_issuer(mc.issuer_id) if mc else None
        if mc is None or issuer is None or not mc.awardable:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no approved {mc_id} v{version}")
        return Achievement.model_validate(_achievement(mc, issuer.name))

    return api
