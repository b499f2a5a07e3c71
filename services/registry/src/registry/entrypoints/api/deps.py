"""What the registry's routes share: a fresh unit of work, the callers by role, and how the
registry issues (its public URLs, keys and status-list reader, from the composition root)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends

from mc_platform.auth import Principal, Role, require
from mc_platform.dependencies import ClockDep, Runtime, unit_of_work
from mc_platform.service import ServiceDefinition
from registry.service_layer.issuing import Issuance
from registry.service_layer.unit_of_work import UnitOfWork

UoW = Annotated[UnitOfWork, Depends(unit_of_work(UnitOfWork))]
"""A fresh unit of work, not entered: the service-layer function enters and commits it."""

StateAdmin = Annotated[Principal, Depends(require(Role.STATE_ADMIN))]
IssuerCaller = Annotated[Principal, Depends(require(Role.ISSUER))]
IssuerOrAdmin = Annotated[Principal, Depends(require(Role.ISSUER, Role.STATE_ADMIN))]


@dataclass(frozen=True)
class RegistryDefinition(ServiceDefinition):
    """The registry's service definition, with what its routes, consumers and workers share
    besides the clock: how it issues (built once by :func:`registry.bootstrap.build`, so the
    key vault's and the verifier's memories are the process's)."""

    issuance: Issuance | None = None


async def get_issuance(runtime: Runtime) -> Issuance:
    definition = runtime.definition
    if not isinstance(definition, RegistryDefinition) or definition.issuance is None:
        raise RuntimeError("the registry's routes run in the app of registry.bootstrap.build()")
    return definition.issuance


IssuanceDep = Annotated[Issuance, Depends(get_issuance)]
"""How the registry issues: its public URLs, signing keys, validity, status-list reader."""


@dataclass(frozen=True)
class StateAct:
    """A state admin's command on credentials: a fresh unit of work, how the registry issues,
    who acts and when."""

    uow: UnitOfWork
    issuance: Issuance
    actor: str
    now: datetime


async def state_act(
    uow: UoW, caller: StateAdmin, issuance: IssuanceDep, clock: ClockDep
) -> StateAct:
    return StateAct(uow, issuance, caller.subject, clock())


ByTheState = Annotated[StateAct, Depends(state_act)]
"""A state admin acting (403 for anyone else)."""
