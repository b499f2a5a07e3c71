"""Input limits every service keeps:

- every paging parameter of every list endpoint has a documented maximum, and a value above it
  is 422 (a paging parameter added later without a cap fails here);
- multipart bodies are accepted only where listed, and there one file and a few small fields:
  more is 400 and nothing is imported;
- a value PostgreSQL cannot store (a NUL character, a number beyond its column) is 422 and
  changes nothing, on every service (the backbone's guard, not a 500).
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from security_support import CLAIMS, MATRIX, PUBLIC, SERVICES, fresh

from mc_devstack.testing import RunningService
from mc_platform.auth import Role

PAGING = {"page", "page_size", "limit", "per_page", "max_results"}
MULTIPART = {"enrollment": {("POST", "/roster/imports")}}


def paging_parameters(svc: RunningService) -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for path, operations in svc.app.openapi()["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query" and parameter["name"] in PAGING:
                    found.append((method.upper(), path, parameter))
    return found


def headers_for(svc: RunningService, method: str, path: str) -> dict[str, str]:
    case = MATRIX[svc.definition.name].get((method, path))
    return {} if case is None else svc.auth("sec-limits", *sorted(case.roles), **CLAIMS)


def url_for(svc: RunningService, method: str, path: str) -> str:
    name = svc.definition.name
    case = MATRIX[name].get((method, path))
    url = case.url if case is not None else PUBLIC[name][(method, path)]
    return url + ("&" if "?" in url else "?")


@pytest.mark.parametrize("name", SERVICES)
async def test_every_paging_parameter_is_capped_and_a_value_above_the_cap_is_422(name, services):
    svc: RunningService = services[name]
    for method, path, parameter in paging_parameters(svc):
        schema = parameter["schema"]
        assert "maximum" in schema, f"{method} {path}: {parameter['name']} has no maximum"
        url = url_for(svc, method, path)
        headers = headers_for(svc, method, path)
        at_cap = await svc.client.request(
            method, f"{url}{parameter['name']}={schema['maximum']}", headers=headers
        )
        assert at_cap.status_code < 400 or at_cap.status_code == 404, at_cap.text
        above = await svc.client.request(
            method, f"{url}{parameter['name']}={schema['maximum'] + 1}", headers=headers
        )
        assert above.status_code == 422, f"{method} {path}: {above.text}"


def test_the_registry_catalog_pages_at_most_100_entries(services):
    caps = {
        (path, p["name"]): p["schema"]["maximum"]
        for _, path, p in paging_parameters(services["registry"])
    }
    assert caps[("/achievements", "page_size")] == 100
    assert caps[("/micro-credentials", "page_size")] == 100
    assert caps[("/micro-credentials", "page")] == 10_000


@pytest.mark.parametrize("name", SERVICES)
def test_multipart_bodies_are_taken_only_where_listed(name, services):
    taking = set()
    for path, operations in services[name].app.openapi()["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "multipart/form-data" in content:
                taking.add((method.upper(), path))
    assert taking == MULTIPART.get(name, set())


async def test_a_roster_import_takes_one_file_and_a_few_small_fields(services):
    svc: RunningService = services["enrollment"]
    state = svc.auth("sea", Role.STATE_ADMIN)
    who = fresh("ed")
    staff = (
        "educator_id,first_name,last_name,email,district_id,role\n"
        f"{who},Ada,Lovelace,{who}@x.example,lea-1,teacher\n"
    ).encode()
    too_many_files = [
        ("file", ("a.csv", staff, "text/csv")),
        ("file", ("b.csv", staff, "text/csv")),
    ]
    too_many_fields = {f"note{i}": "x" for i in range(9)}
    too_large_field = {"note": "x" * (64 * 1024 + 1)}
    for extra in (
        {"files": too_many_files},
        {"files": {"file": ("a.csv", staff, "text/csv")}, "data": too_many_fields},
        {"files": {"file": ("a.csv", staff, "text/csv")}, "data": too_large_field},
    ):
        response = await svc.client.post("/roster/imports", headers=state, **extra)
        assert response.status_code == 400, response.text
    assert (await svc.client.get(f"/roster/educators/{who}", headers=state)).status_code == 404

    allowed = {"files": {"file": ("a.csv", staff, "text/csv")}, "data": {"note": "June"}}
    response = await svc.client.post("/roster/imports", headers=state, **allowed)
    assert response.status_code == 200, response.text
    assert (await svc.client.get(f"/roster/educators/{who}", headers=state)).status_code == 200


async def outbox_rows(svc: RunningService) -> int:
    from mc_events.storage import outbox

    async with svc.runtime.engine.connect() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(outbox))).scalar())


@pytest.mark.parametrize(
    ("name", "method", "url", "body", "role"),
    [
        # NUL in text: PostgreSQL cannot store it.
        ("review", "PUT", "/assessors/sec-nul", {"district_id": "a\u0000b", "weekly_capacity": 1},
         Role.STATE_ADMIN),
        ("compensation", "PUT", "/districts/sec-nul", {"state": "FL", "name": "Le\u0000on"},
         Role.STATE_ADMIN),
        ("registry", "POST", "/issuers", {"issuer_id": "sec-nul", "name": "N\u0000"},
         Role.STATE_ADMIN),
        # A version beyond the integer column.
        ("registry", "GET", "/micro-credentials/sec-mc/versions/99999999999", None,
         Role.STATE_ADMIN),
        # Cents beyond a bigint.
        ("compensation", "POST", "/districts/sec-d-1/budgets/2026/allocations",
         {"funding_source": "f", "amount_cents": 10**30}, Role.STATE_ADMIN),
    ],
)  # fmt: skip
async def test_a_value_the_database_cannot_store_is_422_and_changes_nothing(
    name, method, url, body, role, services
):
    svc: RunningService = services[name]
    if name == "compensation":  # the allocation needs a registered district
        state = svc.auth("sea", Role.STATE_ADMIN)
        await svc.client.put("/districts/sec-d-1", json={"state": "FL"}, headers=state)
    before = await outbox_rows(svc)
    response = await svc.client.request(method, url, json=body, headers=svc.auth("x", role))
    assert response.status_code == 422, response.text
    (error,) = response.json()["errors"]
    assert error["type"] == "unstorable_value"
    assert await outbox_rows(svc) == before
