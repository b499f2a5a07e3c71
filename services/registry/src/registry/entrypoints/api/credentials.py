"""Credentials API: the public Open Badges 3.0 document of an award, and revocation by the
state."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from mc_events.auth import Principal, Role, require
from mc_events.contracts.registry import RevocationReason
from registry.adapters.awards_repository import AwardsRepository
from registry.adapters.signing_keys import SigningKeysRepository
from registry.entrypoints.api.deps import ApiContext, Uow, domain_errors
from registry.service_layer import awards as commands
from registry.service_layer import signing

StateAdmin = Annotated[Principal, Depends(require(Role.STATE_ADMIN))]


class Revoke(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: RevocationReason
    detail: str = Field(default="", max_length=5000)


class RevocationView(BaseModel):
    credential_id: str
    status: str
    reason: RevocationReason
    detail: str
    revoked_at: datetime


def router(ctx: ApiContext) -> APIRouter:
    api = APIRouter(tags=["credentials"])
    clock = ctx.clock
    urls = ctx.urls

    @api.get(
        "/issuer",
        summary="The issuer of every credential: the state's Open Badges Profile (public)",
    )
    async def issuer_profile(uow: Uow) -> JSONResponse:
        # Also the controller document of the signing keys (every key ever used).
        async with uow:
            keys = await SigningKeysRepository(uow.session).all()
        return JSONResponse(signing.issuer_profile(urls, keys))

    @api.get(
        "/credentials/{credential_id}",
        summary="The Open Badges 3.0 credential (public; its status is in the status list)",
        response_class=JSONResponse,
        responses={200: {"description": "An OpenBadgeCredential (W3C VC 2.0)"}},
    )
    async def get_credential(credential_id: str, uow: Uow) -> JSONResponse:
        async with uow:
            # Just awarded and not signed yet: sign it now (once, under the row lock).
            await signing.sign_awaiting(
                uow.session, ctx.issuance, urls, clock(), credential_id=credential_id, wait=True
            )
            stored = await AwardsRepository(uow.session).get(credential_id)
            await uow.commit()
        if stored is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no credential {credential_id}")
        return JSONResponse(stored.document)

    @api.get(
        "/status/{list_id}",
        summary="A signed Bitstring Status List credential (public): bit N set = credential "
        "N revoked (revocation-K) or suspended (suspension-K)",
    )
    async def get_status_list(list_id: str, uow: Uow) -> JSONResponse:
        async with uow:
            signed = await signing.signed_status_list(
                uow.session, ctx.issuance, urls, list_id, clock()
            )
            await uow.commit()  # the first signing key, if this made it
        if signed is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no status list {list_id}")
        return JSONResponse(signed)

    @api.post(
        "/credentials/{credential_id}/revoke",
        summary="Revoke a credential (permanent): sets its status-list bit and tells everyone",
    )
    async def revoke(
        credential_id: str, body: Revoke, uow: Uow, caller: StateAdmin
    ) -> RevocationView:
        async with domain_errors():
            award = await commands.revoke_credential(
                uow,
                credential_id=credential_id,
                reason=body.reason,
                detail=body.detail,
                actor=caller.subject,
                now=clock(),
            )
        assert award.revocation is not None
        return RevocationView(
            credential_id=award.credential_id,
            status=award.status.value,
            reason=award.revocation.reason,
            detail=award.revocation.detail,
            revoked_at=award.revocation.at,
        )

    return api
