"""Catalog API: issuers write and submit drafts of their own entries, state admins decide, and
anyone reads the approved catalog (``/achievements``)."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from mc_events.contracts.common import Purpose
from mc_platform.auth import Principal, Role
from mc_platform.dependencies import ClockDep
from registry.adapters.catalog_repository import AchievementFilter, Issuer, Listed
from registry.domain.catalog import MicroCredential, MicroCredentialSpec, Stack, StackSpec
from registry.domain.qa import QaAction, QaStatus, QaStep
from registry.entrypoints.api.deps import IssuerCaller, IssuerOrAdmin, StateAdmin, UoW
from registry.service_layer import catalog
from registry.service_layer.catalog import Step

MAX_PAGE_SIZE = 100
SLUG = r"^[a-z0-9][a-z0-9-]{2,63}$"


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


def _entry_fields(entry: MicroCredential | Stack) -> dict[str, Any]:
    return {
        "id": entry.id,
        "version": entry.version,
        "issuer_id": entry.issuer_id,
        "status": entry.status,
        "definition": entry.definition,
        "history": _history(entry.history),
    }


def _mc_view(mc: MicroCredential) -> MicroCredentialView:
    return MicroCredentialView(**_entry_fields(mc), enrollable=mc.enrollable)


def _stack_view(stack: Stack) -> StackView:
    return StackView(**_entry_fields(stack))


def _public(listed: Listed) -> dict[str, Any]:
    mc = listed.micro_credential
    return {
        **mc.definition.model_dump(),
        "id": mc.id,
        "version": mc.version,
        "issuer_id": mc.issuer_id,
        "issuer_name": listed.issuer_name,
        "approved_at": mc.approved_at,
    }


def _issuer_view(issuer: Issuer) -> IssuerView:
    return IssuerView.model_validate(issuer, from_attributes=True)


async def _mc_definition(body: MicroCredentialSpec) -> MicroCredentialSpec:
    return body


async def _stack_definition(body: StackSpec) -> StackSpec:
    return body


# -- the approval lifecycle: the same four steps for both kinds of entry ---------------------


def _by_issuer(action: QaAction) -> Callable[..., Awaitable[Step]]:
    async def step(caller: IssuerCaller, clock: ClockDep) -> Step:
        return Step(action, caller.subject, clock(), issuer_id=caller.issuer_id)

    return step


ByIssuer = Annotated[Step, Depends(_by_issuer(QaAction.CREATE))]
"""The caller's issuer writes: creates an entry, starts or edits a version (``spec``: the
definition, added from the body)."""


def _by_the_state(action: QaAction) -> Callable[..., Awaitable[Step]]:
    async def step(body: Decision, caller: StateAdmin, clock: ClockDep) -> Step:
        return Step(action, caller.subject, clock(), reason=body.reason)

    return step


STEPS: dict[QaAction, Callable[..., Awaitable[Step]]] = {
    QaAction.SUBMIT: _by_issuer(QaAction.SUBMIT),
    QaAction.APPROVE: _by_the_state(QaAction.APPROVE),
    QaAction.REJECT: _by_the_state(QaAction.REJECT),
    QaAction.RETIRE: _by_the_state(QaAction.RETIRE),
}
"""``POST .../versions/{version}/<action>``: who takes each step (the caller's issuer submits
its draft; the state approves, rejects or retires, with a ``Decision``), as a dependency."""


@dataclass(frozen=True)
class Kind:
    """How the API names a kind of catalog entry, for the routes every kind has."""

    entry: type[MicroCredential] | type[Stack]
    path: str
    """The path of one version, with ``{<id_param>}`` and ``{version}``."""
    id_param: str
    short: str
    """Names the routes (``approve_<short>``...: their operation ids)."""
    definition: Callable[..., Awaitable[BaseModel]]
    """A dependency: the body of an edit, as this kind's definition."""
    view: Callable[[Any], BaseModel]
    model: type[BaseModel]
    summaries: dict[str, str]
    """By route: ``get``, ``edit``, ``new_version`` and the steps (``submit``...)."""


def _version_routes(kind: Kind) -> None:
    """The routes of ``kind``'s versions: read one, edit a draft, start the next, and the
    steps of :data:`STEPS`, each calling one generic command of the service layer."""
    entry_id_param = Annotated[str, Path(alias=kind.id_param)]

    async def get_version(
        entry_id: entry_id_param, version: int, uow: UoW, caller: IssuerOrAdmin
    ) -> BaseModel:
        return kind.view(
            await catalog.version_of(uow, kind.entry, entry_id, version, **_reader(caller))
        )

    async def edit_version(
        entry_id: entry_id_param,
        version: int,
        definition: Annotated[BaseModel, Depends(kind.definition)],
        uow: UoW,
        by: ByIssuer,
    ) -> BaseModel:
        edit = replace(by, action=QaAction.EDIT, spec=definition)
        return kind.view(await catalog.take_step(uow, kind.entry, entry_id, version, edit))

    async def new_version(entry_id: entry_id_param, uow: UoW, by: ByIssuer) -> BaseModel:
        return kind.view(await catalog.new_version(uow, kind.entry, entry_id, by))

    def add(path: str, endpoint: Callable[..., Any], name: str, key: str, **options: Any) -> None:
        router.add_api_route(
            path,
            endpoint,
            name=name,
            response_model=kind.model,
            tags=CATALOG,
            summary=kind.summaries.get(key),
            **{"methods": ["POST"], **options},
        )

    add(kind.path, get_version, f"get_{kind.short}", "get", methods=["GET"])
    add(kind.path, edit_version, f"edit_{kind.short}", "edit", methods=["PUT"])
    add(
        kind.path.removesuffix("/{version}"),
        new_version,
        f"new_{kind.short}_version",
        "new_version",
        status_code=201,
    )
    for action, step_dependency in STEPS.items():

        async def take_step(
            entry_id: entry_id_param,
            version: int,
            uow: UoW,
            step: Annotated[Step, Depends(step_dependency)],
        ) -> BaseModel:
            return kind.view(await catalog.take_step(uow, kind.entry, entry_id, version, step))

        add(f"{kind.path}/{action.value}", take_step, f"{action.value}_{kind.short}", action)


CATALOG: list[str | Enum] = ["catalog"]
PUBLIC: list[str | Enum] = ["public catalog"]

router = APIRouter()

# -- issuers (providers) -------------------------------------------------------------------


@router.post("/issuers", status_code=201, tags=CATALOG, summary="Register a provider")
async def register_issuer(
    body: RegisterIssuer, uow: UoW, _: StateAdmin, clock: ClockDep
) -> IssuerView:
    issuer = await catalog.register_issuer(
        uow,
        issuer_id=body.issuer_id,
        name=body.name,
        url=body.url,
        description=body.description,
        now=clock(),
    )
    return _issuer_view(issuer)


@router.get("/issuers/{issuer_id}", tags=CATALOG, summary="A provider (public)")
async def get_issuer(issuer_id: str, uow: UoW) -> IssuerView:
    return _issuer_view(await catalog.issuer(uow, issuer_id))


# -- micro-credentials (issuers write, the state decides) ----------------------------------


@router.post(
    "/micro-credentials",
    status_code=201,
    tags=CATALOG,
    summary="Create a micro-credential (version 1, a draft) for the caller's issuer",
)
async def create_mc(body: CreateMicroCredential, uow: UoW, by: ByIssuer) -> MicroCredentialView:
    spec = MicroCredentialSpec.model_validate(body.model_dump(exclude={"id"}))
    return _mc_view(await catalog.create(uow, MicroCredential, replace(by, spec=spec), body.id))


@router.get(
    "/micro-credentials",
    tags=CATALOG,
    summary="Catalog entries in any status: an issuer's own, or all for state admins",
)
async def list_mcs(
    uow: UoW,
    caller: IssuerOrAdmin,
    status_: Annotated[QaStatus | None, Query(alias="status")] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 20,
) -> list[MicroCredentialView]:
    mcs = await catalog.micro_credentials(
        uow,
        issuer_id=None if caller.has(Role.STATE_ADMIN) else caller.issuer_id or "",
        status=status_,
        limit=page_size,
        offset=(page - 1) * page_size,
    )
    return [_mc_view(mc) for mc in mcs]


_version_routes(
    Kind(
        MicroCredential,
        "/micro-credentials/{mc_id}/versions/{version}",
        "mc_id",
        "mc",
        definition=_mc_definition,
        view=_mc_view,
        model=MicroCredentialView,
        summaries={
            "get": "One version in any status, with its QA history",
            "edit": "Replace the definition of a draft",
            "new_version": "Start the next version (a draft copying the latest one)",
            "submit": "Submit a draft for state review",
            "approve": "Approve a submitted version: it is published and can be enrolled in",
            "reject": "Send a submitted version back to draft, with the reason",
            "retire": "Retire an approved version, with the reason",
        },
    )
)


# -- stacks --------------------------------------------------------------------------------


@router.post("/stacks", status_code=201, tags=CATALOG, summary="Create a stack (a draft)")
async def create_stack(body: CreateStack, uow: UoW, by: ByIssuer) -> StackView:
    spec = StackSpec.model_validate(body.model_dump(exclude={"id"}))
    return _stack_view(await catalog.create(uow, Stack, replace(by, spec=spec), body.id))


@router.get(
    "/stacks/{stack_id}",
    tags=PUBLIC,
    summary="The latest approved version of a stack (public)",
)
async def get_public_stack(stack_id: str, uow: UoW) -> PublicStack:
    stack = await catalog.public_stack(uow, stack_id)
    return PublicStack.model_validate(
        {
            **stack.definition.model_dump(),
            "id": stack.id,
            "version": stack.version,
            "issuer_id": stack.issuer_id,
            "approved_at": stack.approved_at,
        }
    )


_version_routes(
    Kind(
        Stack,
        "/stacks/{stack_id}/versions/{version}",
        "stack_id",
        "stack",
        definition=_stack_definition,
        view=_stack_view,
        model=StackView,
        summaries={
            "get": "One stack version in any status, with its QA history",
            "edit": "Edit a draft",
            "new_version": "Start the next version of a stack",
        },
    )
)


# -- the public catalog --------------------------------------------------------------------


@router.get(
    "/achievements",
    tags=PUBLIC,
    summary="Search the approved catalog (public): latest approved version of each MC",
)
async def search_achievements(
    uow: UoW,
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
    found, total = await catalog.search_achievements(
        uow, filters, limit=page_size, offset=(page - 1) * page_size
    )
    return AchievementPage(
        items=[Achievement.model_validate(_public(listed)) for listed in found],
        page=page,
        page_size=page_size,
        total=total,
    )


@router.get(
    "/achievements/{mc_id}",
    tags=PUBLIC,
    summary="One approved micro-credential (public), with the stacks it belongs to",
)
async def get_achievement(mc_id: str, uow: UoW) -> AchievementDetail:
    found = await catalog.achievement(uow, mc_id)
    stacks = [{"id": s.id, "version": s.version, "name": s.definition.name} for s in found.stacks]
    return AchievementDetail.model_validate({**_public(found.listed), "stacks": stacks})


@router.get(
    "/achievements/{mc_id}/versions/{version}",
    tags=PUBLIC,
    summary="One version the state approved (public; retired versions stay readable because "
    "credentials awarded for them point here)",
)
async def get_achievement_version(mc_id: str, version: int, uow: UoW) -> Achievement:
    found = await catalog.achievement_version(uow, mc_id, version)
    return Achievement.model_validate(_public(found.listed))


def _reader(caller: Principal) -> dict[str, Any]:
    """Whose versions the caller may read: any (the state), or their issuer's."""
    return {"by_the_state": caller.has(Role.STATE_ADMIN), "issuer_id": caller.issuer_id}
