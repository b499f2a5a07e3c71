"""Signing and verification API: the issuer's keys (public) and their rotation, public
verification of any OB 3.0 credential, and the state's status changes of a credential
(suspend, reinstate, reissue)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from mc_events.auth import Principal, Role, require
from registry.entrypoints.api.deps import ApiContext, Uow, domain_errors
from registry.service_layer import credential_status as commands
from registry.service_layer import signing, verification

StateAdmin = Annotated[Principal, Depends(require(Role.STATE_ADMIN))]

MAX_VERIFY_BYTES = 256 * 1024
"""A credential to verify is at most this large (ours are ~5 KiB); larger bodies get 413."""
MAX_BATCH = 100
"""Credentials per batch verification (the whole body stays within the service's body limit,
1 MiB by default: about 200 of ours)."""


class KeyView(BaseModel):
    key_id: str
    verification_method: str
    public_key_multibase: str
    current: bool
    created_at: datetime
    retired_at: datetime | None


class Suspend(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=5000)
    until: AwareDatetime | None = Field(
        default=None, description="Planned end of the suspension; None: until reinstated."
    )


class Reinstate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=5000)


class Reissue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=5000)
    valid_until: AwareDatetime | None = Field(
        default=None,
        description="The new credential's validUntil; omitted: the old one's is kept.",
    )
    clear_valid_until: bool = Field(
        default=False, description="Reissue without an expiry (ignores valid_until)."
    )


class StatusView(BaseModel):
    credential_id: str
    status: str
    changed_at: datetime
    reason: str


class ReissueView(BaseModel):
    credential_id: str
    previous_credential_id: str
    credential_url: str
    awarded_at: datetime


class CheckView(BaseModel):
    check: str
    result: str
    detail: str


class VerificationView(BaseModel):
    verified: bool
    status: str = Field(
        description="valid, invalid, revoked, suspended, expired, not_yet_valid or "
        "status_unknown (a status list that cannot be read is never 'valid')."
    )
    checks: list[CheckView]


class BatchVerificationView(BaseModel):
    results: list[VerificationView] = Field(description="One report per credential, in order.")


def _report_view(report: Any) -> VerificationView:
    return VerificationView(
        verified=report.verified,
        status=report.outcome.value,
        checks=[
            CheckView(check=c.check, result=c.result.value, detail=c.detail) for c in report.checks
        ],
    )


async def _json_body(request: Request, limit: int) -> Any:
    """The request's JSON, read up to ``limit`` bytes (413 beyond, 422 if not JSON)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(
                status.HTTP_413_CONTENT_TOO_LARGE,
                detail=f"the body is at most {limit} bytes",
            )
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, detail=f"the body is not JSON: {exc}"
        ) from exc


def router(ctx: ApiContext) -> APIRouter:
    api = APIRouter(tags=["credentials"])
    urls, clock, issuance = ctx.urls, ctx.clock, ctx.issuance

    def view(key: Any) -> KeyView:
        return KeyView(
            key_id=key.key_id,
            verification_method=signing.key_url(urls, key.key_id),
            public_key_multibase=key.public_key_multibase,
            current=key.current,
            created_at=key.created_at,
            retired_at=key.retired_at,
        )

    @api.get(
        "/issuer/keys/{key_id}",
        summary="A signing key's verification method (Multikey, public; rotated keys stay)",
    )
    async def get_key(key_id: str, uow: Uow) -> JSONResponse:
        async with uow:
            key = await signing.public_key(uow.session, key_id)
        if key is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no key {key_id}")
        return JSONResponse(signing.multikey(urls, key))

    @api.post(
        "/issuer/keys/rotate",
        summary="Rotate the signing key: a new key signs from now on; old ones still verify",
        status_code=status.HTTP_201_CREATED,
    )
    async def rotate(uow: Uow, caller: StateAdmin) -> KeyView:
        return view(await signing.rotate_key(uow, issuance, urls, caller.subject, clock()))

    @api.post(
        "/credentials/verify",
        summary="Verify any Open Badges 3.0 credential: schema, proof, status, validity (public)",
        responses={413: {"description": "Body too large"}, 422: {"description": "Not JSON"}},
        openapi_extra={
            "requestBody": {
                "required": True,
                "description": "Any Open Badges 3.0 credential (JSON, at most 256 KiB).",
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        },
    )
    async def verify(request: Request, uow: Uow) -> VerificationView:
        document = await _json_body(request, MAX_VERIFY_BYTES)
        if not isinstance(document, dict):
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT, detail="a credential is a JSON object"
            )
        report = await verification.verify(
            uow, document, urls, issuance, clock(), ctx.status_fetcher
        )
        return _report_view(report)

    @api.post(
        "/credentials/verify/batch",
        summary="Verify up to 100 Open Badges 3.0 credentials at once, each as "
        "/credentials/verify would (public)",
        responses={413: {"description": "Body too large"}, 422: {"description": "Not a batch"}},
        openapi_extra={
            "requestBody": {
                "required": True,
                "description": f'{{"credentials": [...]}}: 1 to {MAX_BATCH} credentials '
                "(JSON objects); the whole body within the service's body limit.",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["credentials"],
                            "properties": {
                                "credentials": {
                                    "type": "array",
                                    "minItems": 1,
                                    "maxItems": MAX_BATCH,
                                    "items": {"type": "object"},
                                }
                            },
                        }
                    }
                },
            }
        },
    )
    async def verify_batch(request: Request, uow: Uow) -> BatchVerificationView:
        body = await _json_body(request, MAX_BATCH * MAX_VERIFY_BYTES)  # and the service's
        documents = body.get("credentials") if isinstance(body, dict) else None
        if not isinstance(documents, list) or not 1 <= len(documents) <= MAX_BATCH:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                detail=f'the body is {{"credentials": [...]}} with 1 to {MAX_BATCH} credentials',
            )
        wrong = [i for i, document in enumerate(documents) if not isinstance(document, dict)]
        if wrong:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                detail=f"a credential is a JSON object: not so at {wrong[:10]}",
            )
        reports = await verification.verify_many(
            uow, documents, urls, issuance, clock(), ctx.status_fetcher
        )
        return BatchVerificationView(results=[_report_view(r) for r in reports])

    @api.post(
        "/credentials/{credential_id}/suspend",
        summary="Suspend a credential (reversible): sets its suspension status bit",
    )
    async def suspend(
        credential_id: str, body: Suspend, uow: Uow, caller: StateAdmin
    ) -> StatusView:
        now = clock()
        async with domain_errors():
            award = await commands.suspend_credential(
                uow,
                credential_id=credential_id,
                reason=body.reason,
                until=body.until,
                actor=caller.subject,
                now=now,
            )
        return StatusView(
            credential_id=credential_id,
            status=award.status.value,
            changed_at=now,
            reason=body.reason,
        )

    @api.post(
        "/credentials/{credential_id}/reinstate",
        summary="Reinstate a suspended credential: clears its suspension status bit",
    )
    async def reinstate(
        credential_id: str, body: Reinstate, uow: Uow, caller: StateAdmin
    ) -> StatusView:
        now = clock()
        async with domain_errors():
            award = await commands.reinstate_credential(
                uow, credential_id=credential_id, reason=body.reason, actor=caller.subject, now=now
            )
        return StatusView(
            credential_id=credential_id,
            status=award.status.value,
            changed_at=now,
            reason=body.reason,
        )

    @api.post(
        "/credentials/{credential_id}/reissue",
        summary="Reissue a credential: new id and proof, same awardedDate; the old one is "
        "superseded (revoked in its status list)",
        status_code=status.HTTP_201_CREATED,
    )
    async def reissue(
        credential_id: str, body: Reissue, uow: Uow, caller: StateAdmin
    ) -> ReissueView:
        now = clock()
        if body.valid_until is not None and body.valid_until <= now:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT, detail="valid_until must be in the future"
            )
        async with domain_errors():
            award, _ = await commands.reissue_credential(
                uow,
                credential_id=credential_id,
                reason=body.reason,
                valid_until=None if body.clear_valid_until else body.valid_until,
                keep_valid_until=body.valid_until is None and not body.clear_valid_until,
                actor=caller.subject,
                now=now,
                urls=urls,
                issuance=issuance,
            )
        return ReissueView(
            credential_id=award.credential_id,
            previous_credential_id=credential_id,
            credential_url=urls.credential(award.credential_id),
            awarded_at=award.awarded_at,
        )

    return api
