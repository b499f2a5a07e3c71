"""The Open Badges 3.0 API (1EdTech OB 3.0 section 6), the part a state registry serves: an
educator's own signed credentials (``getCredentials``) and profile (``getProfile``) for the
OAuth scopes their token carries, and the public discovery document.

The registry is the issuer: educators do not upload credentials or edit a profile here
(``upsertCredential`` and ``putProfile`` are not offered, nor their scopes); a credential
issued elsewhere is brought in through ``POST /educators/{educator_id}/imports``.

Refusals of these routes carry the OB ``Imsx_StatusInfo`` body the standard prescribes (not
the service's usual problem details): a client of the Open Badges API reads that; a missing or
invalid token is the service's usual 401.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from mc_platform.auth import CurrentPrincipal, Principal, Role, TokenVerifier
from mc_platform.dependencies import ClockDep
from registry.domain.openbadges import OB_V3_CONTEXT, PublicUrls
from registry.entrypoints.api.deps import IssuanceDep, UoW
from registry.service_layer import credentials

PREFIX = "/ims/ob/v3p0"
SCOPE_BASE = "https://purl.imsglobal.org/spec/ob/v3p0/scope"
CREDENTIAL_READONLY = f"{SCOPE_BASE}/credential.readonly"
PROFILE_READONLY = f"{SCOPE_BASE}/profile.readonly"
SCOPES = {
    CREDENTIAL_READONLY: "Permission to read the OpenBadgeCredentials the state issued to you",
    PROFILE_READONLY: "Permission to read your profile (your state educator id)",
}
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_OFFSET = 1_000_000
SECURITY_SCHEME = "OAuth2ACG"
JSON = "application/json"


class ImsxCodeMinorField(BaseModel):
    imsx_codeMinorFieldName: str
    imsx_codeMinorFieldValue: str


class ImsxCodeMinor(BaseModel):
    imsx_codeMinorField: list[ImsxCodeMinorField]


class ImsxStatusInfo(BaseModel):
    """OB 3.0 ``Imsx_StatusInfo``: why a request was refused."""

    imsx_codeMajor: Literal["failure", "processing", "success", "unsupported"]
    imsx_severity: Literal["error", "status", "warning"]
    imsx_description: str | None = None
    imsx_codeMinor: ImsxCodeMinor | None = None


class GetOpenBadgeCredentialsResponse(BaseModel):
    credential: list[dict[str, Any]] = Field(
        description="The educator's OpenBadgeCredentials, signed (Data Integrity proofs), "
        "exactly as served at /credentials/{credential_id}"
    )


class IdentifierEntry(BaseModel):
    type: Literal["IdentifierEntry"]
    identifier: str
    identifierType: str


class ProfileView(BaseModel):
    context: list[str] = Field(alias="@context")
    id: str
    type: list[str]
    otherIdentifier: list[IdentifierEntry]


def forbidden(description: str, *, scope: str | None = None) -> JSONResponse:
    """403 with an ``Imsx_StatusInfo`` body (and, for a missing scope, RFC 6750's
    ``insufficient_scope`` challenge)."""
    body = ImsxStatusInfo(
        imsx_codeMajor="failure",
        imsx_severity="error",
        imsx_description=description,
        imsx_codeMinor=ImsxCodeMinor(
            imsx_codeMinorField=[
                ImsxCodeMinorField(
                    imsx_codeMinorFieldName="TargetEndSystem",
                    imsx_codeMinorFieldValue="forbidden",
                )
            ]
        ),
    )
    headers = {}
    if scope is not None:
        headers["WWW-Authenticate"] = f'Bearer error="insufficient_scope", scope="{scope}"'
    return JSONResponse(
        body.model_dump(exclude_none=True), status.HTTP_403_FORBIDDEN, headers=headers
    )


def refusal(caller: Principal, scope: str) -> JSONResponse | None:
    """Why ``caller`` may not use an operation needing ``scope``, or None if they may."""
    if not caller.has(Role.EDUCATOR):
        return forbidden("requires role: educator (the Open Badges API serves educators)")
    if not caller.educator_id:
        return forbidden("the token names no educator (claim educator_id)")
    if scope not in caller.scopes:
        return forbidden(f"the token lacks the scope {scope}", scope=scope)
    return None


def educator_urn(educator_id: str) -> str:
    return f"urn:state-educator-id:{quote(educator_id, safe='')}"


def page_links(base: str, total: int, limit: int, offset: int) -> str:
    """RFC 8288 ``Link`` of a page (OB 3.0 section 6.4: first and last always, next while more
    follow, prev when the offset is not zero)."""
    last = ((total - 1) // limit) * limit if total > 0 else 0
    links: list[tuple[str, int]] = []
    if offset + limit < total:
        links.append(("next", offset + limit))
    links.append(("last", last))
    links.append(("first", 0))
    if offset > 0:
        links.append(("prev", max(offset - limit, 0)))
    return ", ".join(f'<{base}?limit={limit}&offset={at}>; rel="{rel}"' for rel, at in links)


IMSX_RESPONSES: dict[int | str, dict[str, Any]] = {
    403: {"model": ImsxStatusInfo, "description": "The role, educator id or scope is missing"},
}


router = APIRouter(prefix=PREFIX, tags=["open badges api"])


def api_base(urls: PublicUrls) -> str:
    return f"{urls.registry.rstrip('/')}{PREFIX}"


@router.get(
    "/discovery",
    summary="The Open Badges API service description document (public)",
    response_class=JSONResponse,
    responses={200: {"description": "An OpenAPI 3.0 document: servers, paths, scopes"}},
)
async def discovery(request: Request, issuance: IssuanceDep) -> JSONResponse:
    urls = issuance.urls
    return JSONResponse(service_description(request, api_base(urls), urls.issuer_name))


@router.get(
    "/credentials",
    summary="The caller's OpenBadgeCredentials, oldest first (educator; scope "
    "credential.readonly); X-Total-Count and Link headers page them",
    response_model=GetOpenBadgeCredentialsResponse,
    responses={
        200: {
            "headers": {
                "X-Total-Count": {
                    "description": "How many credentials in all",
                    "schema": {"type": "integer"},
                },
                "Link": {
                    "description": "RFC 8288 first, last, next and prev pages",
                    "schema": {"type": "string"},
                },
            }
        },
        **IMSX_RESPONSES,
    },
)
async def get_credentials(
    caller: CurrentPrincipal,
    uow: UoW,
    issuance: IssuanceDep,
    clock: ClockDep,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> JSONResponse:
    refused = refusal(caller, CREDENTIAL_READONLY)
    if refused is not None:
        return refused
    assert caller.educator_id is not None
    # Awards not signed yet are signed now: every credential handed out is signed.
    page = await credentials.educator_credentials(
        uow, issuance, caller.educator_id, limit=limit, offset=offset, now=clock()
    )
    return JSONResponse(
        {"credential": page.documents},
        headers={
            "X-Total-Count": str(page.total),
            "Link": page_links(f"{api_base(issuance.urls)}/credentials", page.total, limit, offset),
        },
    )


@router.get(
    "/profile",
    summary="The caller's profile: their state educator id (educator; scope "
    "profile.readonly). The registry keeps no name or contact details to add",
    response_model=ProfileView,
    responses=IMSX_RESPONSES,
)
async def get_profile(caller: CurrentPrincipal) -> JSONResponse:
    refused = refusal(caller, PROFILE_READONLY)
    if refused is not None:
        return refused
    assert caller.educator_id is not None
    return JSONResponse(
        {
            "@context": [OB_V3_CONTEXT],
            "id": educator_urn(caller.educator_id),
            "type": ["Profile"],
            "otherIdentifier": [
                {
                    "type": "IdentifierEntry",
                    "identifier": caller.educator_id,
                    "identifierType": "identifier",
                }
            ],
        }
    )


def service_description(request: Request, base: str, issuer_name: str) -> dict[str, Any]:
    """The OB 3.0 service description document: an OpenAPI 3.0 document naming this API's base
    URL, the operations it serves and the scopes each needs. Tokens come from the state's
    identity provider; its endpoints are in its OpenID Connect discovery document."""
    verifier: TokenVerifier | None = getattr(request.app.state, "token_verifier", None)
    schemes: dict[str, Any] = {}
    if verifier is not None:
        schemes[SECURITY_SCHEME] = {
            "type": "openIdConnect",
            "description": "OAuth 2.0 Authorization Code Grant at the state's identity provider "
            "(its endpoints: the OpenID Connect discovery document); the access token carries "
            "the scopes in its scope claim",
            "openIdConnectUrl": f"{verifier.settings.issuer.rstrip('/')}"
            "/.well-known/openid-configuration",
            "x-imssf-name": issuer_name,
        }

    def secured(operation_id: str, summary: str, scope: str, ok: dict[str, Any]) -> Any:
        return {
            "get": {
                "operationId": operation_id,
                "summary": summary,
                "security": [{SECURITY_SCHEME: [scope]}],
                "responses": {
                    "200": ok,
                    "401": {"description": "No valid token"},
                    "403": {"description": "The token lacks the scope or is not an educator's"},
                },
            }
        }

    return {
        "openapi": "3.0.1",
        "info": {
            "title": f"{issuer_name}: Open Badges API",
            "version": "3.0",
            "description": "Read the Open Badges 3.0 credentials the state issued to you and "
            "your profile. The state is the issuer: credentials are not uploaded and profiles "
            "not edited through this API (credential.upsert and profile.update are not "
            "offered).",
        },
        "servers": [{"url": base}],
        "paths": {
            "/credentials": secured(
                "getCredentials",
                "Your OpenBadgeCredentials (limit up to "
                f"{MAX_LIMIT}, offset; X-Total-Count and Link headers)",
                CREDENTIAL_READONLY,
                {"description": "GetOpenBadgeCredentialsResponse (credential)"},
            ),
            "/profile": secured(
                "getProfile", "Your profile", PROFILE_READONLY, {"description": "Profile"}
            ),
            "/discovery": {
                "get": {
                    "operationId": "getServiceDescription",
                    "security": [],
                    "responses": {"200": {"description": "This document"}},
                }
            },
        },
        "components": {"securitySchemes": schemes},
        "x-ob-scopes": dict(SCOPES),
    }
