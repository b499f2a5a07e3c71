"""The security matrix of every HTTP route of the four services, and helpers to read routes
from the apps as their composition roots build them.

``MATRIX[service][(method, path template)]`` says who may call a route (the roles that pass its
role check), a concrete URL to call it with, and a valid request body. ``PUBLIC`` lists the only
routes that answer without a token. A route that an app serves and that is in neither makes
``test_security_route_matrix`` fail: adding a route means deciding who may call it, here.
"""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from mc_platform.auth import Role
from mc_platform.service import ServiceDefinition, ServiceSettings, create_app

SERVICES = ("enrollment", "review", "registry", "compensation")

RouteKey = tuple[str, str]
"""(HTTP method, path template as the app declares it)."""

Body = Literal["none", "json", "multipart", "raw"]


@dataclass(frozen=True)
class Case:
    """One protected route: who may call it and how to call it."""

    roles: frozenset[Role]
    """The roles that pass the route's role check; every other role gets 403."""
    url: str
    """A concrete URL (ids that name nothing, queries the route requires)."""
    body: Body = "none"
    json: dict[str, Any] | None = None
    """A valid JSON body (``body="json"``): only fields added to it make it invalid."""
    headers: dict[str, str] = field(default_factory=dict)


def roles(*members: Role) -> frozenset[Role]:
    return frozenset(members)


STATE = Role.STATE_ADMIN
DISTRICT = Role.DISTRICT_ADMIN
EDUCATOR = Role.EDUCATOR
ASSESSOR = Role.ASSESSOR
APPROVER = Role.APPROVER
ISSUER = Role.ISSUER
PAYROLL = Role.PAYROLL_SYSTEM
LICENSURE = Role.LICENSURE_SYSTEM

# Every token of the matrix carries these ids, so a refusal never comes from a missing claim.
CLAIMS = {
    "educator_id": "sec-ed-1",
    "assessor_id": "sec-as-1",
    "district_id": "sec-d-1",
    "issuer_id": "sec-iss-1",
    # The Open Badges API's scopes (its routes check them after the role).
    "scope": "https://purl.imsglobal.org/spec/ob/v3p0/scope/credential.readonly "
    "https://purl.imsglobal.org/spec/ob/v3p0/scope/profile.readonly",
}

MC_SPEC: dict[str, Any] = {
    "title": "Wait Time After Questioning",
    "competency": "The educator uses wait time after questions.",
    "evidence_requirements": [
        {"id": "plan", "kind": "document", "prompt": "Lesson plan", "required": True}
    ],
    "rubric": [
        {
            "id": "planning",
            "name": "Planning",
            "levels": [{"id": "emerging", "name": "Emerging"}, {"id": "ok", "name": "Proficient"}],
            "required_level_id": "ok",
        }
    ],
    "credits": {"value": "15", "unit": "pd_hours"},
    "attempt_cap": 3,
    "completion_window_days": 180,
    "cooldown_days": 30,
    "fee": {"amount_cents": 4000, "payer": "district"},
    "allowed_purposes": ["license_renewal"],
}
STACK_SPEC: dict[str, Any] = {
    "name": "Questioning Pathway",
    "member_micro_credential_ids": ["sec-mc-a"],
    "rule": {"kind": "all_of"},
    "grants": [{"kind": "designation", "code": "lead-questioning", "name": "Lead Educator"}],
}
RULE: dict[str, Any] = {
    "rule_id": "sec-rule",
    "name": "Stipend",
    "state": "FL",
    "kind": "per_credential",
    "amount_cents": 100_000,
    "funding_source": "fl-fund",
    "effective_from": "2020-01-01T00:00:00Z",
}
SCORES = {"scores": [{"criterion_id": "c1", "level_id": "l1"}]}
DECISION = {"reason": "checked"}

MATRIX: dict[str, dict[RouteKey, Case]] = {
    "enrollment": {
        ("POST", "/roster/imports"): Case(roles(STATE, DISTRICT), "/roster/imports", "multipart"),
        ("GET", "/roster/educators/{educator_id}"): Case(
            roles(STATE, DISTRICT, EDUCATOR), "/roster/educators/sec-nobody"
        ),
        ("POST", "/enrollments"): Case(
            roles(EDUCATOR),
            "/enrollments",
            "json",
            {"educator_id": "sec-ed-1", "micro_credential_id": "sec-mc", "purpose": "curated_pd"},
        ),
        ("POST", "/enrollments/{enrollment_id}/withdraw"): Case(
            roles(EDUCATOR), "/enrollments/sec-enr/withdraw", "json", {"reason": "moving"}
        ),
        ("GET", "/enrollments/me"): Case(roles(EDUCATOR), "/enrollments/me"),
        ("GET", "/catalog/micro-credentials/{micro_credential_id}"): Case(
            roles(EDUCATOR, DISTRICT, STATE), "/catalog/micro-credentials/sec-mc"
        ),
        ("POST", "/enrollments/{enrollment_id}/evidence/{requirement_id}/reflection"): Case(
            roles(EDUCATOR),
            "/enrollments/sec-enr/evidence/r1/reflection",
            "json",
            {"text": "What I changed."},
        ),
        ("POST", "/enrollments/{enrollment_id}/evidence/{requirement_id}/link"): Case(
            roles(EDUCATOR),
            "/enrollments/sec-enr/evidence/r1/link",
            "json",
            {"url": "https://video.example/1"},
        ),
        ("POST", "/enrollments/{enrollment_id}/submissions"): Case(
            roles(EDUCATOR), "/enrollments/sec-enr/submissions", headers={"Idempotency-Key": "k1"}
        ),
        ("GET", "/enrollments/{enrollment_id}/submissions"): Case(
            roles(EDUCATOR), "/enrollments/sec-enr/submissions"
        ),
        ("POST", "/uploads/enrollments/{enrollment_id}/evidence/{requirement_id}"): Case(
            roles(EDUCATOR), "/uploads/enrollments/sec-enr/evidence/r1", "raw"
        ),
        ("GET", "/artifacts/{artifact_id}/content"): Case(
            roles(EDUCATOR, ASSESSOR, APPROVER, STATE), "/artifacts/sec-art/content"
        ),
        ("POST", "/operations/deadline-sweep"): Case(roles(STATE), "/operations/deadline-sweep"),
    },
    "review": {
        ("PUT", "/assessors/{assessor_id}"): Case(
            roles(STATE),
            "/assessors/sec-as-9",
            "json",
            {"district_id": "sec-d-1", "weekly_capacity": 5},
        ),
        ("GET", "/assessors"): Case(roles(STATE), "/assessors"),
        ("GET", "/assessors/{assessor_id}"): Case(roles(STATE, ASSESSOR), "/assessors/sec-as-1"),
        ("POST", "/assessors/{assessor_id}/calibrations"): Case(
            roles(STATE),
            "/assessors/sec-nobody/calibrations",
            "json",
            {
                "results": [
                    {
                        "reference_id": "ref-1",
                        "criterion_id": "c1",
                        "level_id": "l1",
                        "reference_level_id": "l1",
                    }
                ]
            },
        ),
        ("GET", "/assessors/{assessor_id}/calibrations"): Case(
            roles(STATE, ASSESSOR), "/assessors/sec-as-1/calibrations"
        ),
        ("GET", "/reviews/{submission_id}"): Case(roles(STATE), "/reviews/sec-sub"),
        ("POST", "/reviews/assign-pending"): Case(roles(STATE), "/reviews/assign-pending"),
        ("GET", "/assignments"): Case(roles(ASSESSOR), "/assignments"),
        ("POST", "/assignments/{assignment_id}/scores"): Case(
            roles(ASSESSOR), "/assignments/sec-asg/scores", "json", SCORES
        ),
        ("GET", "/approvals"): Case(roles(APPROVER), "/approvals"),
        ("POST", "/approvals/{submission_id}"): Case(
            roles(APPROVER), "/approvals/sec-sub", "json", SCORES
        ),
        ("POST", "/reviews/sweep-overdue"): Case(roles(STATE), "/reviews/sweep-overdue"),
        ("POST", "/assignments/{assignment_id}/misconduct"): Case(
            roles(ASSESSOR),
            "/assignments/sec-asg/misconduct",
            "json",
            {"kind": "plagiarism", "detail": "Copied."},
        ),
        ("GET", "/misconduct-cases"): Case(roles(APPROVER), "/misconduct-cases"),
        ("POST", "/misconduct-cases/{case_id}/ruling"): Case(
            roles(APPROVER), "/misconduct-cases/sec-case/ruling", "json", {"confirmed": False}
        ),
        ("GET", "/measures"): Case(roles(STATE), "/measures"),
        ("GET", "/measures/calibration-drift"): Case(roles(STATE), "/measures/calibration-drift"),
    },
    "registry": {
        ("GET", "/districts/{district_id}/awards/changes"): Case(
            roles(STATE, DISTRICT), "/districts/sec-d-1/awards/changes"
        ),
        ("POST", "/issuers"): Case(
            roles(STATE), "/issuers", "json", {"issuer_id": "sec-issuer", "name": "Provider"}
        ),
        ("POST", "/micro-credentials"): Case(roles(ISSUER), "/micro-credentials", "json", MC_SPEC),
        ("GET", "/micro-credentials"): Case(roles(ISSUER, STATE), "/micro-credentials"),
        ("GET", "/micro-credentials/{mc_id}/versions/{version}"): Case(
            roles(ISSUER, STATE), "/micro-credentials/sec-mc/versions/1"
        ),
        ("PUT", "/micro-credentials/{mc_id}/versions/{version}"): Case(
            roles(ISSUER), "/micro-credentials/sec-mc/versions/1", "json", MC_SPEC
        ),
        ("POST", "/micro-credentials/{mc_id}/versions"): Case(
            roles(ISSUER), "/micro-credentials/sec-mc/versions"
        ),
        ("POST", "/micro-credentials/{mc_id}/versions/{version}/submit"): Case(
            roles(ISSUER), "/micro-credentials/sec-mc/versions/1/submit"
        ),
        **{
            ("POST", f"/micro-credentials/{{mc_id}}/versions/{{version}}/{action}"): Case(
                roles(STATE), f"/micro-credentials/sec-mc/versions/1/{action}", "json", DECISION
            )
            for action in ("approve", "reject", "retire")
        },
        ("POST", "/stacks"): Case(roles(ISSUER), "/stacks", "json", STACK_SPEC),
        ("GET", "/stacks/{stack_id}/versions/{version}"): Case(
            roles(ISSUER, STATE), "/stacks/sec-stack/versions/1"
        ),
        ("PUT", "/stacks/{stack_id}/versions/{version}"): Case(
            roles(ISSUER), "/stacks/sec-stack/versions/1", "json", STACK_SPEC
        ),
        ("POST", "/stacks/{stack_id}/versions"): Case(roles(ISSUER), "/stacks/sec-stack/versions"),
        ("POST", "/stacks/{stack_id}/versions/{version}/submit"): Case(
            roles(ISSUER), "/stacks/sec-stack/versions/1/submit"
        ),
        **{
            ("POST", f"/stacks/{{stack_id}}/versions/{{version}}/{action}"): Case(
                roles(STATE), f"/stacks/sec-stack/versions/1/{action}", "json", DECISION
            )
            for action in ("approve", "reject", "retire")
        },
        ("POST", "/credentials/{credential_id}/revoke"): Case(
            roles(STATE), "/credentials/sec-cred/revoke", "json", {"reason": "issued_in_error"}
        ),
        ("POST", "/credentials/{credential_id}/suspend"): Case(
            roles(STATE), "/credentials/sec-cred/suspend", "json", {"reason": "inquiry"}
        ),
        ("POST", "/credentials/{credential_id}/reinstate"): Case(
            roles(STATE), "/credentials/sec-cred/reinstate", "json", {"reason": "cleared"}
        ),
        ("POST", "/credentials/{credential_id}/reissue"): Case(
            roles(STATE), "/credentials/sec-cred/reissue", "json", {"reason": "name change"}
        ),
        ("POST", "/issuer/keys/rotate"): Case(roles(STATE), "/issuer/keys/rotate"),
        ("POST", "/imports/{import_id}/recheck"): Case(roles(STATE), "/imports/sec-import/recheck"),
        # An educator's licensure records: the educator, the licensure system, the state.
        **{
            ("GET", f"/educators/{{educator_id}}/{record}"): Case(
                roles(EDUCATOR, LICENSURE, STATE), f"/educators/sec-ed-1/{record}"
            )
            for record in ("renewal-credits", "ed-fi/credentials", "clr", "imports", "stacks")
        },
        ("POST", "/educators/{educator_id}/imports"): Case(
            roles(EDUCATOR, STATE),
            "/educators/sec-ed-1/imports",
            "json",
            {"credential": {"type": ["VerifiableCredential", "OpenBadgeCredential"]}},
        ),
        ("PUT", "/licensure/rules"): Case(
            roles(STATE),
            "/licensure/rules",
            "json",
            {
                "cycle_years": 5,
                "required_credits": "120",
                "conversions": {"renewal_credits": {"per": "1", "renewal_credits": "1"}},
            },
        ),
        # The Open Badges 3.0 API: an educator's own credentials and profile (token scopes).
        ("GET", "/ims/ob/v3p0/credentials"): Case(roles(EDUCATOR), "/ims/ob/v3p0/credentials"),
        ("GET", "/ims/ob/v3p0/profile"): Case(roles(EDUCATOR), "/ims/ob/v3p0/profile"),
        ("POST", "/licensure/recognition-rules"): Case(
            roles(STATE),
            "/licensure/recognition-rules",
            "json",
            {
                "rule_id": "sec-recognition",
                "external_issuer_id": "https://badges.example",
                "achievement_name": "Wait Time",
                "credits": {"value": "5", "unit": "pd_hours"},
            },
        ),
    },
    "compensation": {
        ("PUT", "/districts/{district_id}"): Case(
            roles(STATE), "/districts/sec-d-9", "json", {"state": "FL", "name": "Leon"}
        ),
        ("POST", "/stipend-rules"): Case(roles(STATE, DISTRICT), "/stipend-rules", "json", RULE),
        ("GET", "/stipend-rules/{rule_id}"): Case(
            roles(STATE, DISTRICT), "/stipend-rules/sec-no-rule"
        ),
        ("POST", "/districts/{district_id}/budgets/{fiscal_year}/allocations"): Case(
            roles(STATE, DISTRICT),
            "/districts/sec-d-1/budgets/2026/allocations",
            "json",
            {"funding_source": "fl-fund", "amount_cents": 1000},
        ),
        ("GET", "/districts/{district_id}/budgets/{fiscal_year}"): Case(
            roles(STATE, DISTRICT), "/districts/sec-d-1/budgets/2026?funding_source=fl-fund"
        ),
        ("GET", "/educators/{educator_id}/stipends"): Case(
            roles(STATE, DISTRICT, EDUCATOR), "/educators/sec-ed-1/stipends"
        ),
        ("POST", "/districts/{district_id}/payroll-batches"): Case(
            roles(PAYROLL, DISTRICT),
            "/districts/sec-d-1/payroll-batches",
            "json",
            {
                "pay_period_id": "2026-PP01",
                "pay_period_start": "2026-01-01",
                "pay_period_end": "2026-01-14",
            },
        ),
        ("GET", "/payroll-batches/{batch_id}"): Case(
            roles(PAYROLL, DISTRICT), "/payroll-batches/sec-batch"
        ),
        ("GET", "/payroll-batches/{batch_id}/export.csv"): Case(
            roles(PAYROLL, DISTRICT), "/payroll-batches/sec-batch/export.csv"
        ),
        ("GET", "/payroll-batches/{batch_id}/export.json"): Case(
            roles(PAYROLL, DISTRICT), "/payroll-batches/sec-batch/export.json"
        ),
        ("POST", "/payroll-batches/{batch_id}/acknowledgement"): Case(
            roles(PAYROLL),
            "/payroll-batches/sec-batch/acknowledgement",
            "json",
            {"idempotency_key": "k1", "status": "accepted"},
        ),
        ("GET", "/districts/{district_id}/reports/{fiscal_year}"): Case(
            roles(DISTRICT, PAYROLL, STATE), "/districts/sec-d-1/reports/2026"
        ),
        ("GET", "/districts/{district_id}/payments/{fiscal_year}"): Case(
            roles(DISTRICT, PAYROLL, STATE), "/districts/sec-d-1/payments/2026"
        ),
        ("POST", "/salary-lane-rules"): Case(
            roles(STATE, DISTRICT),
            "/salary-lane-rules",
            "json",
            {
                "rule_id": "sec-lane",
                "name": "Lane",
                "state": "FL",
                "lane": "MA+15",
                "rank": 2,
                "effective_from": "2020-01-01T00:00:00Z",
            },
        ),
        ("GET", "/salary-lane-rules/{rule_id}"): Case(
            roles(STATE, DISTRICT), "/salary-lane-rules/sec-no-rule"
        ),
        ("GET", "/educators/{educator_id}/salary-lane"): Case(
            roles(STATE, DISTRICT, EDUCATOR), "/educators/sec-ed-1/salary-lane"
        ),
        ("GET", "/districts/{district_id}/salary-lane-changes"): Case(
            roles(DISTRICT, PAYROLL, STATE), "/districts/sec-d-1/salary-lane-changes"
        ),
    },
}

# Routes every service serves without a token: probes, metrics and machine-readable docs.
OPERATIONS_PUBLIC: dict[RouteKey, str] = {
    ("GET", "/healthz"): "/healthz",
    ("GET", "/readyz"): "/readyz",
    ("GET", "/metrics"): "/metrics",
    ("GET", "/openapi.json"): "/openapi.json",
    ("GET", "/docs"): "/docs",
    ("GET", "/docs/oauth2-redirect"): "/docs/oauth2-redirect",
    ("GET", "/redoc"): "/redoc",
    ("GET", "/asyncapi.json"): "/asyncapi.json",
}

PUBLIC: dict[str, dict[RouteKey, str]] = {
    "enrollment": {},
    "review": {},
    # The public catalog, credentials, status lists, the issuer profile and keys, verification
    # and the renewal rules: what a verifier or a prospective educator uses without an account.
    "registry": {
        ("GET", "/issuers/{issuer_id}"): "/issuers/sec-nobody",
        ("GET", "/stacks/{stack_id}"): "/stacks/sec-nobody",
        ("GET", "/achievements"): "/achievements?q=wait",
        ("GET", "/achievements/{mc_id}"): "/achievements/sec-nobody",
        ("GET", "/achievements/{mc_id}/versions/{version}"): "/achievements/sec-nobody/versions/1",
        ("GET", "/issuer"): "/issuer",
        ("GET", "/credentials/{credential_id}"): "/credentials/sec-nobody",
        ("GET", "/status/{list_id}"): "/status/sec-nobody",
        ("GET", "/issuer/keys/{key_id}"): "/issuer/keys/sec-nobody",
        ("POST", "/credentials/verify"): "/credentials/verify",
        ("POST", "/credentials/verify/batch"): "/credentials/verify/batch",
        ("GET", "/licensure/rules"): "/licensure/rules",
        ("GET", "/licensure/recognition-rules"): "/licensure/recognition-rules",
        ("GET", "/ims/ob/v3p0/discovery"): "/ims/ob/v3p0/discovery",
    },
    "compensation": {},
}


def service_factory(
    name: str,
) -> tuple[Callable[..., ServiceDefinition], type[ServiceSettings]]:
    bootstrap = importlib.import_module(f"{name}.bootstrap")
    config = importlib.import_module(f"{name}.config")
    return bootstrap.build, config.Settings


def built_app(name: str) -> FastAPI:
    """The service's app as its composition root builds it (not started: nothing connects)."""
    build, settings_class = service_factory(name)
    return create_app(build(settings_class(database_url="postgresql://unused/x")))


def served_routes(app: FastAPI) -> set[RouteKey]:
    """Every (method, path) the app answers, HEAD aside (it follows GET)."""
    served: set[RouteKey] = set()
    for route in iter_route_contexts(app.routes):
        for method in route.methods or ():
            if method != "HEAD":
                served.add((method, str(route.path)))
    return served


def token_claims() -> dict[str, Any]:
    return dict(CLAIMS)


def fresh(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"
