"""Credentials and their status: the public Open Badges 3.0 document of an award, the issuer's
profile and signing keys (public; rotation by the state), the signed status lists, the state's
status changes of a credential (revoke, suspend, reinstate, reissue), and public verification
of any Open Badges 3.0 credential."""

from __future__ import annotations

import json
from datetime import datetime
from http import HTTPStatus
from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from mc_events.contracts.registry import RevocationReason
from mc_platform.dependencies import ClockDep
from mc_platform.refusals import Invalid, Refusal
from registry.adapters.signing_keys import SigningKey
from registry.domain.awards import Award
from registry.domain.openbadges import key_url
from registry.domain.verification import Report
from registry.entrypoints.api.deps import ByTheState, IssuanceDep, StateAct, UoW
from registry.service_layer import credentials
from registry.service_layer.issuing import Issuance

MAX_VERIFY_BYTES = 256 * 1024
"""A credential to verify is at most this large (ours are ~5 KiB); larger bodies get 413."""
MAX_BATCH = 100
"""Credentials per batch verification (the whole body stays within the service's body limit,
1 MiB by default: about 200 of ours)."""

router = APIRouter(tags=["credentials"])


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


def _report_view(report: Report) -> VerificationView:
    return VerificationView(
        verified=report.verified,
        status=report.outcome.value,
        checks=[
            CheckView(check=c.check, result=c.result.value, detail=c.detail) for c in report.checks
        ],
    )


class TooLarge(Refusal):
    """The body is larger than this route reads (413)."""

    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE


async def _json_body(request: Request, limit: int) -> Any:
    """The request's JSON, read up to ``limit`` bytes (413 beyond, 422 if not JSON)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise TooLarge(f"the body is at most {limit} bytes")
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Invalid(f"the body is not JSON: {exc}") from exc


def _status_view(award: Award, by: StateAct, reason: str) -> StatusView:
    return StatusView(
        credential_id=award.credential_id,
        status=award.status.value,
        changed_at=by.now,
        reason=reason,
    )


def _key_view(key: SigningKey, issuance: Issuance) -> KeyView:
    return KeyView(
        key_id=key.key_id,
        verification_method=key_url(issuance.urls, key.key_id),
        public_key_multibase=key.public_key_multibase,
        current=key.current,
        created_at=key.created_at,
        retired_at=key.retired_at,
    )


# -- the issuer and its keys ---------------------------------------------------------------


@router.get(
    "/issuer",
    summary="The issuer of every credential: the state's Open Badges Profile (public)",
)
async def issuer_profile(uow: UoW, issuance: IssuanceDep) -> JSONResponse:
    # Also the controller document of the signing keys (every key ever used).
    return JSONResponse(await credentials.issuer_profile(uow, issuance))


@router.get(
    "/issuer/keys/{key_id}",
    summary="A signing key's verification method (Multikey, public; rotated keys stay)",
)
async def get_key(key_id: str, uow: UoW, issuance: IssuanceDep) -> JSONResponse:
    return JSONResponse(await credentials.key_document(uow, issuance, key_id))


@router.post(
    "/issuer/keys/rotate",
    summary="Rotate the signing key: a new key signs from now on; old ones still verify",
    status_code=status.HTTP_201_CREATED,
)
async def rotate(by: ByTheState) -> KeyView:
    key = await credentials.rotate_key(by.uow, by.issuance, by.actor, by.now)
    return _key_view(key, by.issuance)


# -- credentials and status lists ----------------------------------------------------------


@router.get(
    "/credentials/{credential_id}",
    summary="The Open Badges 3.0 credential (public; its status is in the status list)",
    response_class=JSONResponse,
    responses={200: {"description": "An OpenBadgeCredential (W3C VC 2.0)"}},
)
async def get_credential(
    credential_id: str, uow: UoW, issuance: IssuanceDep, clock: ClockDep
) -> JSONResponse:
    # Just awarded and not signed yet: signed now (once, under the row lock).
    return JSONResponse(
        await credentials.credential_document(uow, issuance, credential_id, clock())
    )


@router.get(
    "/status/{list_id}",
    summary="A signed Bitstring Status List credential (public): bit N set = credential "
    "N revoked (revocation-K) or suspended (suspension-K)",
)
async def get_status_list(
    list_id: str, uow: UoW, issuance: IssuanceDep, clock: ClockDep
) -> JSONResponse:
    return JSONResponse(await credentials.status_list_credential(uow, issuance, list_id, clock()))


# -- the state's status changes ------------------------------------------------------------


@router.post(
    "/credentials/{credential_id}/revoke",
    summary="Revoke a credential (permanent): sets its status-list bit and tells everyone",
)
async def revoke(credential_id: str, body: Revoke, by: ByTheState) -> RevocationView:
    award = await credentials.revoke(
        by.uow,
        by.issuance,
        credential_id=credential_id,
        reason=body.reason,
        detail=body.detail,
        actor=by.actor,
        now=by.now,
    )
    assert award.revocation is not None
    return RevocationView(
        credential_id=award.credential_id,
        status=award.status.value,
        reason=award.revocation.reason,
        detail=award.revocation.detail,
        revoked_at=award.revocation.at,
    )


@router.post(
    "/credentials/{credential_id}/suspend",
    summary="Suspend a credential (reversible): sets its suspension status bit",
)
async def suspend(credential_id: str, body: Suspend, by: ByTheState) -> StatusView:
    award = await credentials.suspend(
        by.uow,
        by.issuance,
        credential_id=credential_id,
        reason=body.reason,
        until=body.until,
        actor=by.actor,
        now=by.now,
    )
    return _status_view(award, by, body.reason)


@router.post(
    "/credentials/{credential_id}/reinstate",
    summary="Reinstate a suspended credential: clears its suspension status bit",
)
async def reinstate(credential_id: str, body: Reinstate, by: ByTheState) -> StatusView:
    award = await credentials.reinstate(
        by.uow,
        by.issuance,
        credential_id=credential_id,
        reason=body.reason,
        actor=by.actor,
        now=by.now,
    )
    return _status_view(award, by, body.reason)


@router.post(
    "/credentials/{credential_id}/reissue",
    summary="Reissue a credential: new id and proof, same awardedDate; the old one is "
    "superseded (revoked in its status list)",
    status_code=status.HTTP_201_CREATED,
)
async def reissue(credential_id: str, body: Reissue, by: ByTheState) -> ReissueView:
    award = await credentials.reissue(
        by.uow,
        by.issuance,
        credential_id=credential_id,
        reason=body.reason,
        valid_until=body.valid_until,
        clear_valid_until=body.clear_valid_until,
        actor=by.actor,
        now=by.now,
    )
    return ReissueView(
        credential_id=award.credential_id,
        previous_credential_id=credential_id,
        credential_url=by.issuance.urls.credential(award.credential_id),
        awarded_at=award.awarded_at,
    )


# -- verification (public) -----------------------------------------------------------------


@router.post(
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
async def verify(
    request: Request, uow: UoW, issuance: IssuanceDep, clock: ClockDep
) -> VerificationView:
    document = await _json_body(request, MAX_VERIFY_BYTES)
    if not isinstance(document, dict):
        raise Invalid("a credential is a JSON object")
    return _report_view(await credentials.verify(uow, issuance, document, clock()))


@router.post(
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
async def verify_batch(
    request: Request, uow: UoW, issuance: IssuanceDep, clock: ClockDep
) -> BatchVerificationView:
    body = await _json_body(request, MAX_BATCH * MAX_VERIFY_BYTES)  # and the service's
    documents = body.get("credentials") if isinstance(body, dict) else None
    if not isinstance(documents, list) or not 1 <= len(documents) <= MAX_BATCH:
        raise Invalid(f'the body is {{"credentials": [...]}} with 1 to {MAX_BATCH} credentials')
    wrong = [i for i, document in enumerate(documents) if not isinstance(document, dict)]
    if wrong:
        raise Invalid(f"a credential is a JSON object: not so at {wrong[:10]}")
    reports = await credentials.verify_many(uow, issuance, documents, clock())
    return BatchVerificationView(results=[_report_view(r) for r in reports])
