"""What every registry route needs: a unit of work, the clock, and error mapping."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from registry.adapters.status_fetch import StatusListFetcher
from registry.domain.awards import CredentialStateError
from registry.domain.catalog import MembersNotApproved, NotOwner, VersionStillOpen
from registry.domain.openbadges import PublicUrls
from registry.domain.qa import CatalogError, InvalidTransition, ReasonRequired
from registry.service_layer.errors import AlreadyExists, NotFound, UnknownIssuer
from registry.service_layer.signing import Issuance
from registry.service_layer.unit_of_work import UnitOfWork

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ApiContext:
    """Built by the composition root; tests pass their own clock."""

    urls: PublicUrls
    clock: Clock = utc_now
    issuance: Issuance = field(default_factory=Issuance)
    """Signing keys and validity policy of issued credentials."""
    status_fetcher: StatusListFetcher | None = None
    """Reads other issuers' status lists (None: they are not read; their status is unknown)."""


async def get_uow(request: Request) -> UnitOfWork:
    return UnitOfWork(request.app.state.runtime.sessions)


Uow = Annotated[UnitOfWork, Depends(get_uow)]

_STATUS: list[tuple[type[Exception], int]] = [
    (NotFound, status.HTTP_404_NOT_FOUND),
    (NotOwner, status.HTTP_403_FORBIDDEN),
    (UnknownIssuer, status.HTTP_403_FORBIDDEN),
    (ReasonRequired, status.HTTP_422_UNPROCESSABLE_CONTENT),
    (AlreadyExists, status.HTTP_409_CONFLICT),
    (InvalidTransition, status.HTTP_409_CONFLICT),
    (VersionStillOpen, status.HTTP_409_CONFLICT),
    (MembersNotApproved, status.HTTP_409_CONFLICT),
    (CatalogError, status.HTTP_409_CONFLICT),
    (CredentialStateError, status.HTTP_409_CONFLICT),
]


@asynccontextmanager
async def domain_errors() -> AsyncIterator[None]:
    """Turn a refused command into its HTTP answer (nothing was changed: the unit of work
    rolled back)."""
    try:
        yield
    except (CatalogError, CredentialStateError) as exc:
        code = next(code for kind, code in _STATUS if isinstance(exc, kind))
        raise HTTPException(code, detail=str(exc)) from exc
