"""Dependencies of the routes: the unit of work, settings, metrics, the assignment policy and
who the caller is (the clock is :data:`mc_platform.dependencies.ClockDep`, the service's
``ServiceDefinition.clock``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from mc_platform.auth import Principal, Role, require
from mc_platform.dependencies import settings_of, unit_of_work
from mc_platform.refusals import Forbidden
from review.config import Settings
from review.metrics import ReviewMetrics
from review.service_layer.assignment import AssignmentPolicy, policy_of
from review.service_layer.unit_of_work import UnitOfWork

UoW = Annotated[UnitOfWork, Depends(unit_of_work(UnitOfWork))]
SettingsDep = Annotated[Settings, Depends(settings_of(Settings))]


async def get_metrics(request: Request) -> ReviewMetrics:
    return ReviewMetrics.of(request.app.state.runtime.metrics.registry)


Metrics = Annotated[ReviewMetrics, Depends(get_metrics)]


async def get_policy(settings: SettingsDep) -> AssignmentPolicy:
    return policy_of(settings)


Policy = Annotated[AssignmentPolicy, Depends(get_policy)]

StateAdmin = Annotated[Principal, Depends(require(Role.STATE_ADMIN))]


Assessor = Annotated[Principal, Depends(require(Role.ASSESSOR))]
Approver = Annotated[Principal, Depends(require(Role.APPROVER))]


def assessor_id_of(principal: Principal) -> str:
    """The caller's assessor id (token claim ``assessor_id``); 403 when the token names none.
    Called in the route, after the request is validated."""
    if not principal.assessor_id:
        raise Forbidden("the token names no assessor")
    return principal.assessor_id
