"""Every route of every service, against the security matrix (security_support.MATRIX):

- a route the app serves is either in the matrix or on the public allowlist (a route added
  later without an entry fails here);
- public routes answer without a token, and they are the only ones;
- a protected route answers 401 without a token or with a token of another issuer, 403 to
  every role the matrix does not give it, and lets each role it does give through its role check;
- a JSON body with an unknown or privileged field (``status``, ``assessor_id``, amounts, ids
  the server assigns) is refused with 422 naming the field, and nothing is written.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from security_support import (
    CLAIMS,
    MATRIX,
    OPERATIONS_PUBLIC,
    PUBLIC,
    SERVICES,
    Case,
    built_app,
    served_routes,
)

from mc_devstack.testing import RunningService
from mc_events.storage import outbox
from mc_platform.auth import DEV_ISSUER, DevIssuer, Role

PROTECTED = [
    pytest.param(name, key, case, id=f"{name} {key[0]} {key[1]}")
    for name in SERVICES
    for key, case in MATRIX[name].items()
]
WITH_JSON_BODY = [p for p in PROTECTED if p.values[2].body == "json"]

# Fields a caller must never set: the server derives them (status, who assessed, amounts,
# owners, timestamps, versions). Each is sent wherever the body schema does not declare it.
PRIVILEGED = (
    "status",
    "assessor_id",
    "amount_cents",
    "total_cents",
    "educator_id",
    "district_id",
    "issuer_id",
    "approved_at",
    "version",
    "roles",
)


async def call(
    svc: RunningService,
    method: str,
    case: Case,
    headers: dict[str, str],
    json_body: dict[str, Any] | None = None,
) -> Any:
    kwargs: dict[str, Any] = {"headers": {**case.headers, **headers}}
    if case.body == "json":
        kwargs["json"] = case.json if json_body is None else json_body
    elif case.body == "multipart":
        kwargs["files"] = {"file": ("staff.csv", b"educator_id\n", "text/csv")}
    elif case.body == "raw":
        kwargs["content"] = b"%PDF-1.4 evidence"
        kwargs["headers"]["Content-Type"] = "application/pdf"
    return await svc.client.request(method, case.url, **kwargs)


def bearer(svc: RunningService, *roles: Role) -> dict[str, str]:
    return svc.auth("sec-caller", *roles, **CLAIMS)


async def outbox_rows(svc: RunningService) -> int:
    async with svc.runtime.engine.connect() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(outbox))).scalar())


# -- the matrix covers the apps --------------------------------------------------------------


@pytest.mark.parametrize("name", SERVICES)
def test_every_route_is_in_the_matrix_or_public(name):
    served = served_routes(built_app(name))
    declared = set(MATRIX[name]) | set(PUBLIC[name]) | set(OPERATIONS_PUBLIC)
    missing = sorted(served - declared)
    assert not missing, f"routes with no security matrix entry (security_support.py): {missing}"
    stale = sorted(declared - served)
    assert not stale, f"matrix entries for routes {name} does not serve: {stale}"
    assert not set(MATRIX[name]) & set(PUBLIC[name])


@pytest.mark.parametrize("name", SERVICES)
def test_every_route_taking_a_json_body_is_probed_with_one(name):
    openapi = built_app(name).openapi()
    for (method, path), case in MATRIX[name].items():
        body = openapi["paths"][path][method.lower()].get("requestBody", {})
        takes_json = "application/json" in body.get("content", {})
        assert takes_json == (case.body == "json"), f"{method} {path}: body kind {case.body}"


# -- public routes ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", SERVICES)
async def test_public_routes_answer_without_a_token(name, services):
    svc = services[name]
    for (method, _), url in {**OPERATIONS_PUBLIC, **PUBLIC[name]}.items():
        body = {"json": {"type": ["VerifiableCredential"]}} if method == "POST" else {}
        response = await svc.client.request(method, url, **body)
        # 503: the renewal rules are not loaded yet; a public answer all the same.
        assert response.status_code in (200, 404, 422, 503), f"{method} {url}: {response.text}"


# -- protected routes ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stranger(tmp_path_factory) -> DevIssuer:
    """Keys the services do not trust, under the issuer name they do."""
    return DevIssuer(tmp_path_factory.mktemp("stranger"), issuer=DEV_ISSUER)


@pytest.mark.parametrize(("name", "key", "case"), PROTECTED)
async def test_without_a_valid_token_a_protected_route_is_401(name, key, case, services, stranger):
    svc = services[name]
    method = key[0]
    response = await call(svc, method, case, {})
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")

    # A well-formed token with every role, from the right issuer name but not its keys.
    forged = stranger.mint("sec-caller", list(Role), **CLAIMS)
    response = await call(svc, method, case, {"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401, response.text

    response = await call(svc, method, case, {"Authorization": "Basic c2VjOnNlYw=="})
    assert response.status_code == 401, response.text


@pytest.mark.parametrize(("name", "key", "case"), PROTECTED)
async def test_every_role_the_matrix_does_not_give_a_route_gets_403(name, key, case, services):
    svc = services[name]
    before = await outbox_rows(svc)
    for role in sorted(set(Role) - case.roles):
        response = await call(svc, key[0], case, bearer(svc, role))
        # The token names the very ids in the URL: only the role can be what is refused.
        assert response.status_code == 403, f"{role}: {response.status_code} {response.text}"
    response = await call(svc, key[0], case, bearer(svc))  # a token with no role at all
    assert response.status_code == 403, response.text
    assert await outbox_rows(svc) == before


@pytest.mark.parametrize(("name", "key", "case"), PROTECTED)
async def test_each_role_the_matrix_gives_a_route_passes_its_role_check(name, key, case, services):
    svc = services[name]
    for role in sorted(case.roles):
        # JSON routes get a body that cannot pass validation: reaching it (422) proves the role
        # check let the caller through, and nothing runs.
        probe = {"sec_probe": True} if case.body == "json" else None
        response = await call(svc, key[0], case, bearer(svc, role), probe)
        # The token names the ids in the URL, so no object-level rule refuses it either.
        assert response.status_code not in (401, 403, 405), f"{role}: {response.text}"
        assert response.status_code < 500, f"{role}: {response.status_code} {response.text}"
        if case.body == "json":
            assert response.status_code == 422, f"{role}: {response.text}"


@pytest.mark.parametrize(("name", "key", "case"), WITH_JSON_BODY)
async def test_unknown_or_privileged_body_fields_are_422_and_change_nothing(
    name, key, case, services
):
    svc = services[name]
    method, path = key
    assert case.json is not None
    schema = request_schema(svc, method, path)
    injected = [f for f in PRIVILEGED if f not in schema.get("properties", {})]
    injected.append("sec_unexpected")
    body = {**case.json, **dict.fromkeys(injected, "sec-forged")}
    before = await outbox_rows(svc)
    response = await call(svc, method, case, bearer(svc, *sorted(case.roles)), body)
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert {e["type"] for e in errors} == {"extra_forbidden"}, errors
    assert {e["loc"][-1] for e in errors} == set(injected)
    assert await outbox_rows(svc) == before


def request_schema(svc: RunningService, method: str, path: str) -> dict[str, Any]:
    openapi = svc.app.openapi()
    content = openapi["paths"][path][method.lower()]["requestBody"]["content"]
    schema: dict[str, Any] = content["application/json"]["schema"]
    if "anyOf" in schema:  # an optional body: ``Model | None``
        schema = next(s for s in schema["anyOf"] if "$ref" in s)
    if "$ref" in schema:
        schema = openapi["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema
