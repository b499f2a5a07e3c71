"""How every error reaches a caller: RFC 9457 problem details.

The service layer refuses a command by raising a refusal (:mod:`mc_platform.refusals`: one class
per HTTP status, with a machine-readable ``reason``); routes never build error responses. One
handler, installed by :func:`install_problem_details`, answers every refusal, every
``HTTPException`` (authentication, authorization, limits) and every request-validation error
with ``application/problem+json``::

    {"type": "urn:mc:problem:already_active", "title": "Conflict", "status": 409,
     "detail": "already enrolled", "reason": "already_active", "instance": "/enrollments"}

``type`` is ``urn:mc:problem:<reason>`` when a reason is given, else ``about:blank`` (whose
title is the status phrase, as RFC 9457 section 4.2.1 says). ``reason`` repeats the tail of
``type`` so clients can switch on a short string; validation errors keep FastAPI's list of
failed fields in ``errors``. The status codes are the ones the routes always had.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from mc_platform.refusals import (
    Conflict,
    Forbidden,
    Gone,
    Invalid,
    NotFound,
    Refusal,
    Unavailable,
)

__all__ = [
    "PROBLEM_MEDIA_TYPE",
    "Conflict",
    "Forbidden",
    "Gone",
    "Invalid",
    "NotFound",
    "Refusal",
    "Unavailable",
    "install_problem_details",
    "problem",
    "problem_response",
]

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:mc:problem:"


def problem(
    status: int,
    detail: str | None = None,
    *,
    reason: str | None = None,
    instance: str | None = None,
    **extensions: Any,
) -> dict[str, Any]:
    """The problem-details object for ``status`` (members in RFC 9457 order, then extensions)."""
    phrase = _phrase(status)
    body: dict[str, Any] = {
        "type": f"{TYPE_PREFIX}{reason}" if reason else "about:blank",
        "title": phrase,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if reason:
        body["reason"] = reason
    if instance:
        body["instance"] = instance
    for key, value in extensions.items():
        if key not in body:
            body[key] = value
    return body


def refusal_problem(refusal: Refusal, instance: str | None = None) -> dict[str, Any]:
    return problem(
        refusal.status,
        refusal.detail,
        reason=refusal.reason,
        instance=instance,
        **refusal.extensions,
    )


def problem_response(
    body: Mapping[str, Any], headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        jsonable_encoder(dict(body)),
        status_code=int(body["status"]),
        media_type=PROBLEM_MEDIA_TYPE,
        headers=dict(headers) if headers else None,
    )


def instance_of(request: Request) -> str:
    """The request's path as a URI reference (percent-encoded as it came, whatever it holds)."""
    return quote(request.url.path, safe="/:@!$&'()*+,;=-._~")


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _from_http_exception(exc: StarletteHTTPException, instance: str) -> dict[str, Any]:
    """An ``HTTPException``'s detail is a message, or (older routes) ``{reason, detail}``."""
    detail = exc.detail
    if isinstance(detail, Mapping):
        extra = {k: v for k, v in detail.items() if k not in ("reason", "detail")}
        return problem(
            exc.status_code,
            str(detail.get("detail") or "") or None,
            reason=str(detail["reason"]) if detail.get("reason") else None,
            instance=instance,
            **extra,
        )
    if isinstance(detail, list):
        return problem(
            exc.status_code, "the request is not valid", instance=instance, errors=detail
        )
    text = None if detail is None or detail == _phrase(exc.status_code) else str(detail)
    return problem(exc.status_code, text, instance=instance)


async def _refusal(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refusal)
    return problem_response(refusal_problem(exc, instance_of(request)))


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    body = _from_http_exception(exc, instance_of(request))
    if exc.status_code in (HTTPStatus.NO_CONTENT, HTTPStatus.NOT_MODIFIED):
        return Response(status_code=exc.status_code, headers=exc.headers)
    return problem_response(body, exc.headers)


async def _validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = jsonable_encoder(exc.errors())
    fields = ", ".join(
        ".".join(str(part) for part in error.get("loc", ()) if part != "body") or "request"
        for error in errors[:5]
    )
    return problem_response(
        problem(
            HTTPStatus.UNPROCESSABLE_ENTITY,
            f"the request is not valid: {fields}" if fields else "the request is not valid",
            reason="invalid_request",
            instance=instance_of(request),
            errors=errors,
        )
    )


def install_problem_details(app: FastAPI) -> None:
    """Answer refusals, HTTP exceptions and validation errors as problem details, and say so
    in the OpenAPI document."""
    app.add_exception_handler(Refusal, _refusal)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(RequestValidationError, _validation)
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                for code, response in operation.get("responses", {}).items():
                    if code.isdigit() and int(code) >= 400:
                        response["content"] = {
                            PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}
                        }
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details. `reason` repeats the tail of `type` "
    "(`urn:mc:problem:<reason>`); validation errors list the failed fields in `errors`.",
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string", "format": "uri-reference"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string", "format": "uri-reference"},
        "reason": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
    "additionalProperties": True,
}
