"""Schemathesis against each service's own OpenAPI document: generated requests to every
operation, valid ones (positive) and invalid ones (negative), sent in-process to the app on its
real, migrated database with a token of a role the route admits (security_support.MATRIX), so
they get past authentication and into the handlers. No answer may be a server error, break the
schema or content type the document gives it, or accept data the schema rules out.

Examples are bounded (``POSITIVE`` + ``NEGATIVE`` per operation, derandomized: the same requests
every run) so the four services together take well under a minute or two. Every failing request
is reported as a curl command.
"""

from __future__ import annotations

import contextlib
import copy
import json
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
)
from security_support import CLAIMS, MATRIX, SERVICES

from mc_devstack.testing import RunningService

POSITIVE = 8
NEGATIVE = 4
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    content_type_conformance,
    negative_data_rejection,
]
# Path parameters the callers' tokens own, so positive cases pass object-level checks and reach
# the deeper parts of the handlers (negative cases generate every parameter).
OWNED = {
    "district_id": CLAIMS["district_id"],
    "educator_id": CLAIMS["educator_id"],
    "assessor_id": CLAIMS["assessor_id"],
}
# Probes and scrapers answer about the process, not the API; /readyz may be 503 by design.
SKIPPED = {("GET", "/readyz"), ("GET", "/metrics")}


def generate(operation: Any, mode: GenerationMode, count: int) -> list[Any]:
    """``count`` cases of ``operation`` (Hypothesis, derandomized: the same ones every run)."""
    fixed = {
        name: value
        for name, value in OWNED.items()
        if mode is GenerationMode.POSITIVE and f"{{{name}}}" in operation.path
    }
    cases: list[Any] = []

    @given(operation.as_strategy(mode, path_parameters=fixed or None))
    @settings(
        max_examples=count,
        database=None,
        derandomize=True,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def collect(case: Any) -> None:
        cases.append(case)

    with contextlib.suppress(Unsatisfiable):  # nothing to negate: no parameters, no body
        collect()
    return cases


def headers_for(svc: RunningService, method: str, path: str) -> dict[str, str]:
    case = MATRIX[svc.definition.name].get((method, path))
    if case is None:
        return {}  # a public route
    return svc.auth("sec-fuzz", *sorted(case.roles), **CLAIMS)


def multipart(files: Any) -> Any:
    """Schemathesis' multipart fields (in the form ``requests`` takes) as httpx takes them:
    every value as bytes or text (a negative case may make one a number)."""
    if not files:
        return None
    fields = []
    for name, spec in files:
        filename, content, *rest = spec
        if not isinstance(content, (bytes, str)):
            content = json.dumps(content)
        fields.append((name, (filename, content, *rest)))
    return fields


def without_security(openapi: dict[str, Any]) -> dict[str, Any]:
    """The document without its bearer scheme: the test sends the tokens itself (Schemathesis
    would otherwise send made-up ones, and count a request whose token it dropped as invalid)."""
    document = copy.deepcopy(openapi)
    document.get("components", {}).pop("securitySchemes", None)
    for operations in document["paths"].values():
        for operation in operations.values():
            operation.pop("security", None)
    return document


@pytest.mark.parametrize("name", SERVICES)
async def test_no_generated_request_breaks_the_documented_api(name, services):
    svc: RunningService = services[name]
    schema = schemathesis.openapi.from_dict(without_security(svc.app.openapi()))
    failures: list[str] = []
    sent = 0
    # A handler's exception comes back as the 500 a client would get, not raised in the test.
    transport = httpx.ASGITransport(app=svc.app, raise_app_exceptions=False)
    client = httpx.AsyncClient(transport=transport, base_url="http://test")
    for result in schema.get_all_operations():
        operation = result.ok()
        method = operation.method.upper()
        if (method, operation.path) in SKIPPED:
            continue
        auth = headers_for(svc, method, operation.path)
        for mode, count in (
            (GenerationMode.POSITIVE, POSITIVE),
            (GenerationMode.NEGATIVE, NEGATIVE),
        ):
            for case in generate(operation, mode, count):
                kwargs = case.as_transport_kwargs(base_url="http://test", headers=auth)
                request_headers = kwargs["headers"]
                request_headers.update(auth)
                if not auth:
                    request_headers.pop("Authorization", None)
                response = await client.request(
                    kwargs["method"],
                    kwargs["url"],
                    headers=request_headers,
                    params=kwargs.get("params"),
                    json=kwargs.get("json"),
                    content=kwargs.get("data"),
                    files=multipart(kwargs.get("files")),
                )
                sent += 1
                if not isinstance(response.request.stream, httpx.ByteStream):
                    response.request.read()  # multipart: Schemathesis reads what was sent
                try:
                    case.validate_response(response, checks=CHECKS, headers=request_headers)
                except (AssertionError, BaseExceptionGroup) as exc:
                    failures.append(f"{method} {operation.path} [{mode.value}]: {exc}")
    await client.aclose()
    assert sent > 0
    assert not failures, f"{len(failures)} of {sent} requests failed:\n" + "\n".join(failures)
