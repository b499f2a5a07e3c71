"""Route dependencies every service shares, as ``Annotated`` types for module-level routers::

    from mc_platform.dependencies import ClockDep, unit_of_work

    UoW = Annotated[UnitOfWork, Depends(unit_of_work(UnitOfWork))]   # in the service's deps

    @router.post("/enrollments/{enrollment_id}/withdraw")
    async def withdraw(enrollment_id: str, principal: Educator, uow: UoW, clock: ClockDep):
        return await commands.withdraw(uow, enrollment_id=enrollment_id, now=clock())

Everything comes from the app's runtime (``create_app``): the sessions of its engine, the
clock of its :class:`~mc_platform.service.ServiceDefinition`, its settings.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Request

from mc_platform.clock import Clock
from mc_platform.service import ServiceRuntime, ServiceSettings
from mc_platform.unit_of_work import UnitOfWork

U = TypeVar("U", bound=UnitOfWork)
S = TypeVar("S", bound=ServiceSettings)


def get_runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


Runtime = Annotated[ServiceRuntime, Depends(get_runtime)]


async def get_clock(runtime: Runtime) -> Clock:
    """The service's time source (``ServiceDefinition.clock``)."""
    return runtime.definition.clock


ClockDep = Annotated[Clock, Depends(get_clock)]


def unit_of_work(cls: type[U]) -> Callable[[Request], Awaitable[U]]:
    """A dependency giving each request a fresh (not yet entered) ``cls`` on the app's
    sessions; the service-layer command enters it and commits."""

    async def provide(request: Request) -> U:
        return cls(get_runtime(request).sessions)

    provide.__name__ = f"unit_of_work_{cls.__module__.split('.')[0]}"
    return provide


def settings_of(cls: type[S]) -> Callable[[Request], Awaitable[S]]:
    """A dependency giving the service's own settings class (checked)."""

    async def provide(request: Request) -> S:
        settings = get_runtime(request).definition.settings
        if not isinstance(settings, cls):
            raise TypeError(f"the app runs {type(settings).__name__}, not {cls.__name__}")
        return settings

    return provide
