"""Every error a service answers is an RFC 9457 problem: refusals raised by the service layer,
HTTP exceptions (auth, limits) and request-validation errors, one handler for all."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

from mc_platform.problems import (
    PROBLEM_MEDIA_TYPE,
    Conflict,
    Forbidden,
    Gone,
    Invalid,
    NotFound,
    Refusal,
    Unavailable,
    install_problem_details,
    refusal_problem,
)


class Body(BaseModel):
    count: int


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_details(app)

    @app.post("/things/{thing_id}")
    async def act(thing_id: str, body: Body) -> dict[str, str]:
        if thing_id == "active":
            raise Conflict("already enrolled", reason="already_active", attempts_left=2)
        if thing_id == "missing":
            raise NotFound("no such thing")
        if thing_id == "legacy":
            raise HTTPException(409, {"reason": "cooldown", "detail": "wait until June"})
        if thing_id == "plain":
            raise HTTPException(403, "not yours")
        return {"ok": thing_id}

    return app


async def _post(path: str, json: object) -> httpx.Response:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.post(path, json=json)


async def test_a_refusal_becomes_a_problem_with_its_reason_status_and_extensions():
    r = await _post("/things/active", {"count": 1})
    assert r.status_code == 409
    assert r.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert r.json() == {
        "type": "urn:mc:problem:already_active",
        "title": "Conflict",
        "status": 409,
        "detail": "already enrolled",
        "reason": "already_active",
        "instance": "/things/active",
        "attempts_left": 2,
    }


async def test_a_refusal_without_reason_is_about_blank():
    r = await _post("/things/missing", {"count": 1})
    assert r.status_code == 404
    body = r.json()
    assert body["type"] == "about:blank"
    assert body["title"] == "Not Found"
    assert "reason" not in body


async def test_an_http_exception_with_reason_and_detail_keeps_both():
    r = await _post("/things/legacy", {"count": 1})
    assert r.status_code == 409
    assert r.json()["reason"] == "cooldown"
    assert r.json()["detail"] == "wait until June"


async def test_an_http_exception_with_a_message_becomes_the_detail():
    r = await _post("/things/plain", {"count": 1})
    body = r.json()
    assert (r.status_code, body["detail"], body["type"]) == (403, "not yours", "about:blank")


async def test_an_unknown_route_is_a_problem_too():
    r = await _post("/nowhere", {})
    assert r.status_code == 404
    assert r.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert r.json()["status"] == 404


async def test_a_validation_error_names_the_fields_and_keeps_the_list():
    r = await _post("/things/x", {"count": "many"})
    assert r.status_code == 422
    body = r.json()
    assert body["reason"] == "invalid_request"
    assert "count" in body["detail"]
    assert [error["loc"] for error in body["errors"]] == [["body", "count"]]


@pytest.mark.parametrize(
    ("refusal", "status"),
    [
        (Invalid, 422),
        (Forbidden, 403),
        (NotFound, 404),
        (Conflict, 409),
        (Gone, 410),
        (Unavailable, 503),
        (Refusal, 409),
    ],
)
def test_each_refusal_class_has_its_status(refusal, status):
    assert refusal_problem(refusal("x"))["status"] == status


def test_the_openapi_document_describes_errors_as_problems():
    schema = _app().openapi()
    assert schema["components"]["schemas"]["Problem"]["required"] == ["type", "title", "status"]
    unprocessable = schema["paths"]["/things/{thing_id}"]["post"]["responses"]["422"]
    assert PROBLEM_MEDIA_TYPE in unprocessable["content"]


async def test_the_instance_is_a_uri_reference_whatever_the_path_holds():
    r = await _post("/things/%3Cx%3E%20%C3%A9%7B%7D", {"count": "x"})
    assert r.json()["instance"] == "/things/%3Cx%3E%20%C3%A9%7B%7D"
