"""Seed a world and take educators through the whole flow, over the services' public HTTP APIs
only (as the state's admins, an issuer, HR, educators and assessors would), with tokens from the
development issuer.

Every step survives a service being killed under it: transport errors and 5xx answers are
retried until a deadline, and a step that may have been applied before its answer was lost is
checked (409) or made idempotent (the submission's ``Idempotency-Key``) rather than repeated.
"""

from __future__ import annotations

import asyncio
import csv
import io
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx

from mc_devstack.samples import mc_spec_data
from mc_platform.auth import DevIssuer, Role

STATE = "TX"
RUBRIC_PASS = {"planning": "proficient", "practice": "proficient"}
RUBRIC_REVISE = {"planning": "emerging", "practice": "proficient"}
REFLECTION = (
    "After planning deliberate pauses of three to five seconds after each question, more "
    "students answered, answers were longer, and students built on each other's reasoning. "
    "Next I will pair wait time with think-pair-share for the quieter students."
)
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


class DriverError(RuntimeError):
    """A step got an answer it cannot go on from (the message has the request and answer)."""


@dataclass(frozen=True)
class WorldSpec:
    """How big a world to seed."""

    districts: int = 3
    schools_per_district: int = 2
    educators: int = 10
    assessors: int = 4
    assessor_capacity: int = 500
    stipend_cents: int = 50_000
    credits: Decimal = Decimal("15")
    tag: str = ""
    """Makes ids unique (several worlds on one system, e.g. ``make demo`` twice)."""


@dataclass(frozen=True)
class Educator:
    educator_id: str
    district_id: str
    school_id: str
    first_name: str
    last_name: str


@dataclass
class World:
    """What was seeded: the ids the flows and the reconciliation need."""

    tag: str
    issuer_id: str
    mc_id: str
    mc_version: int
    rule_id: str
    funding_source: str
    stipend_cents: int
    credits: Decimal
    districts: list[str]
    educators: list[Educator]
    assessors: list[str]
    fiscal_years: list[int]
    budget_cents_per_district: int


@dataclass
class Journey:
    """One educator's way through the flow, as the driver saw it."""

    educator: Educator
    enrollment_id: str | None = None
    submissions: list[str] = field(default_factory=list)
    decisions: list[tuple[str, str]] = field(default_factory=list)
    """(decision id, outcome) per scored submission."""
    passed_at: float | None = None
    """time.monotonic() of the passing score's answer (the assessor's decision)."""
    credential_id: str | None = None
    revoked: bool = False


def fiscal_year(at: datetime, start_month: int = 7) -> int:
    """The fiscal year (named by the year it ends in) of a July-to-June calendar."""
    return at.year + 1 if at.month >= start_month else at.year


def mc_spec(title: str, credits: Decimal) -> dict[str, Any]:
    """The sample micro-credential with what the driver's educators submit: a lesson plan and
    a short reflection (no video)."""
    return mc_spec_data(
        title=title,
        criteria_narrative="Submit a lesson plan and a reflection on what changed.",
        evidence_requirements=[
            {"id": "plan", "kind": "document", "prompt": "Lesson plan", "required": True},
            {
                "id": "reflection",
                "kind": "reflection",
                "prompt": "What changed in your classroom?",
                "required": True,
                "min_words": 20,
                "max_words": 800,
            },
        ],
        credits={"value": str(credits), "unit": "pd_hours"},
    )


def school_of(districts: list[str], n: int, schools: int) -> str:
    district = districts[n % len(districts)]
    return f"{district}-S{(n // len(districts)) % schools + 1}"


FIRST = ["Ada", "Grace", "Alan", "Maria", "Jamal", "Mei", "Omar", "Lucia", "Ken", "Priya"]
LAST = ["Lovelace", "Hopper", "Turing", "Montessori", "Baldwin", "Chen", "Haddad", "Reyes"]


class Driver:
    """HTTP client of the four services (see module doc)."""

    def __init__(
        self,
        urls: Mapping[str, str],
        issuer: DevIssuer,
        *,
        retry_for: float = 120.0,
        poll_interval: float = 0.1,
        connections: int = 64,
    ) -> None:
        self.urls = dict(urls)
        self.issuer = issuer
        self.retry_for = retry_for
        self.poll_interval = poll_interval
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(30.0, connect=5.0),
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
            trust_env=False,
        )
        self._tokens: dict[tuple[str, ...], str] = {}
        self.requests = 0
        self.retries = 0

    async def aclose(self) -> None:
        await self.client.aclose()

    async def __aenter__(self) -> Driver:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- tokens ---------------------------------------------------------------------------

    def token(self, role: Role, **claims: str) -> str:
        key = (str(role), *sorted(f"{k}={v}" for k, v in claims.items()))
        if key not in self._tokens:
            subject = next(iter(claims.values()), f"pipeline-{role}")
            extra: dict[str, Any] = dict(claims)
            self._tokens[key] = self.issuer.mint(subject, [role], expires_in=12 * 3600, **extra)
        return self._tokens[key]

    def headers(self, role: Role, **claims: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role, **claims)}"}

    @property
    def admin(self) -> dict[str, str]:
        return self.headers(Role.STATE_ADMIN)

    # -- HTTP with retries ----------------------------------------------------------------

    async def call(
        self,
        method: str,
        service: str,
        path: str,
        *,
        headers: Mapping[str, str],
        expect: tuple[int, ...] = (200, 201),
        **kwargs: Any,
    ) -> httpx.Response:
        """The answer with a status in ``expect``; transport errors, 429 and 5xx are retried
        until ``retry_for`` seconds have passed (a service being restarted)."""
        deadline = time.monotonic() + self.retry_for
        delay = 0.05
        url = self.urls[service] + path
        while True:
            self.requests += 1
            try:
                response = await self.client.request(method, url, headers=headers, **kwargs)
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code in expect:
                    return response
                if response.status_code not in (429, 500, 502, 503, 504):
                    raise DriverError(
                        f"{method} {service}{path}: {response.status_code} {response.text[:500]}"
                    )
                problem = f"{response.status_code} {response.text[:200]}"
            if time.monotonic() > deadline:
                raise DriverError(f"{method} {service}{path}: still failing ({problem})")
            self.retries += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    async def poll(
        self, check: Callable[[], Awaitable[Any]], what: str, within: float = 60.0
    ) -> Any:
        """Until ``check()`` returns something truthy (returned), or DriverError."""
        deadline = time.monotonic() + within
        delay = self.poll_interval
        while True:
            result = await check()
            if result:
                return result
            if time.monotonic() > deadline:
                raise DriverError(f"{what}: not after {within:.0f} s")
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 1.0)

    # -- seeding --------------------------------------------------------------------------

    async def seed(
        self,
        spec: WorldSpec,
        *,
        progress: Callable[[str], None] | None = None,
        now: datetime | None = None,
    ) -> World:
        """Issuer, approved micro-credential, districts with a stipend rule and budgets, the HR
        roster, calibrated qualified assessors; returns once enrollment knows the catalog."""
        say = progress or (lambda _msg: None)
        tag = spec.tag or f"{random.randrange(16**6):06x}"  # noqa: S311 (ids, not secrets)
        now = now or datetime.now(UTC)
        issuer_id = f"prov-{tag}"
        say("registry: issuer and micro-credential")
        await self.call(
            "POST",
            "registry",
            "/issuers",
            headers=self.admin,
            json={"issuer_id": issuer_id, "name": "Learning Forward Texas", "url": None},
        )
        issuer = self.headers(Role.ISSUER, issuer_id=issuer_id)
        mc = await self.call(
            "POST",
            "registry",
            "/micro-credentials",
            headers=issuer,
            json={**mc_spec("Wait Time After Questioning", spec.credits), "id": f"wait-{tag}"},
        )
        mc_id = str(mc.json()["id"])
        base = f"/micro-credentials/{mc_id}/versions/1"
        await self.call("POST", "registry", f"{base}/submit", headers=issuer)
        await self.call(
            "POST", "registry", f"{base}/approve", headers=self.admin, json={"reason": "meets QA"}
        )

        say("compensation: districts, stipend rule, budgets")
        # The state whose licensure rules the registry applies, where it says so.
        rules = await self.call(
            "GET", "registry", "/licensure/rules", headers={}, expect=(200, 404, 503)
        )
        state = str(rules.json().get("state") or STATE) if rules.status_code == 200 else STATE
        districts = [f"D{tag}-{n:02d}" for n in range(1, spec.districts + 1)]
        for district in districts:
            await self.call(
                "PUT",
                "compensation",
                f"/districts/{district}",
                headers=self.admin,
                json={"state": state, "name": f"District {district}"},
            )
        rule_id = f"{state.lower()}-mc-{tag}"
        funding_source = f"{state.lower()}-mc-stipend-fund"
        await self.call(
            "POST",
            "compensation",
            "/stipend-rules",
            headers=self.admin,
            json={
                "rule_id": rule_id,
                "name": f"{state} micro-credential completion stipend",
                "state": state,
                "kind": "per_credential",
                "amount_cents": spec.stipend_cents,
                "funding_source": funding_source,
                "effective_from": "2020-01-01T00:00:00Z",
                "subject_ids": [mc_id],
                "calendar": {"start_month": 7, "start_day": 1, "timezone": "UTC"},
            },
        )
        per_district = -(-spec.educators // spec.districts)
        budget = spec.stipend_cents * per_district * 2
        years = sorted({fiscal_year(now), fiscal_year(now) + 1})
        for district in districts:
            for year in years:
                await self.call(
                    "POST",
                    "compensation",
                    f"/districts/{district}/budgets/{year}/allocations",
                    headers=self.admin,
                    json={"funding_source": funding_source, "amount_cents": budget},
                )

        say(f"enrollment: HR roster of {spec.educators} educators")
        educators = [
            Educator(
                educator_id=f"E{tag}-{n:06d}",
                district_id=districts[n % len(districts)],
                school_id=school_of(districts, n, spec.schools_per_district),
                first_name=FIRST[n % len(FIRST)],
                last_name=LAST[(n // len(FIRST)) % len(LAST)],
            )
            for n in range(spec.educators)
        ]
        for start in range(0, len(educators), 5000):
            await self.import_roster(educators[start : start + 5000])

        say(f"review: {spec.assessors} calibrated assessors")
        assessors = [f"A{tag}-{n:03d}" for n in range(1, spec.assessors + 1)]
        await asyncio.gather(*(self.add_assessor(a, mc_id, spec) for a in assessors))

        say("waiting for enrollment to see the published catalog entry")
        enrollment_admin = self.admin

        async def catalog_known() -> bool:
            r = await self.call(
                "GET",
                "enrollment",
                f"/catalog/micro-credentials/{mc_id}",
                headers=enrollment_admin,
                expect=(200, 404),
            )
            return r.status_code == 200

        await self.poll(catalog_known, f"enrollment's catalog entry {mc_id}", 120)
        return World(
            tag=tag,
            issuer_id=issuer_id,
            mc_id=mc_id,
            mc_version=1,
            rule_id=rule_id,
            funding_source=funding_source,
            stipend_cents=spec.stipend_cents,
            credits=spec.credits,
            districts=districts,
            educators=educators,
            assessors=assessors,
            fiscal_years=years,
            budget_cents_per_district=budget,
        )

    async def import_roster(self, educators: list[Educator]) -> dict[str, Any]:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(
            [
                "educator_id",
                "first_name",
                "last_name",
                "email",
                "district_id",
                "school_id",
                "role",
                "license_number",
                "license_type",
                "license_expires_on",
            ]
        )
        for e in educators:
            writer.writerow(
                [
                    e.educator_id,
                    e.first_name,
                    e.last_name,
                    f"{e.educator_id.lower()}@schools.example",
                    e.district_id,
                    e.school_id,
                    "teacher",
                    f"L-{e.educator_id}",
                    "standard",
                    "2030-06-30",
                ]
            )
        r = await self.call(
            "POST",
            "enrollment",
            "/roster/imports",
            headers=self.admin,
            files={"file": ("staff.csv", out.getvalue().encode(), "text/csv")},
        )
        report: dict[str, Any] = r.json()
        if report["accepted"] != len(educators):
            raise DriverError(f"roster import refused rows: {report['errors'][:5]}")
        return report

    async def add_assessor(self, assessor_id: str, mc_id: str, spec: WorldSpec) -> None:
        """Put the assessor on the roster (in a district of their own: no conflicts with the
        educators), then calibrate them against reference scores."""
        await self.call(
            "PUT",
            "review",
            f"/assessors/{assessor_id}",
            headers=self.admin,
            json={
                "district_id": f"assessor-pool-{assessor_id}",
                "qualifications": [{"kind": "micro_credential", "id": mc_id}],
                "calibration_status": "in_training",
                "weekly_capacity": spec.assessor_capacity,
            },
        )
        results = [
            {
                "reference_id": f"ref-{n}",
                "criterion_id": criterion,
                "level_id": level,
                "reference_level_id": level,
            }
            for n in range(3)
            for criterion, level in RUBRIC_PASS.items()
        ]
        r = await self.call(
            "POST",
            "review",
            f"/assessors/{assessor_id}/calibrations",
            headers=self.admin,
            json={"results": results},
        )
        if not r.json()["calibrated"]:
            raise DriverError(f"assessor {assessor_id} did not calibrate: {r.text}")

    # -- the educator's flow --------------------------------------------------------------

    def educator_headers(self, educator: Educator) -> dict[str, str]:
        return self.headers(
            Role.EDUCATOR, educator_id=educator.educator_id, district_id=educator.district_id
        )

    async def enroll(self, world: World, journey: Journey) -> str:
        me = self.educator_headers(journey.educator)
        r = await self.call(
            "POST",
            "enrollment",
            "/enrollments",
            headers=me,
            expect=(201, 409),
            json={
                "educator_id": journey.educator.educator_id,
                "micro_credential_id": world.mc_id,
                "purpose": "license_renewal",
            },
        )
        if r.status_code == 201:
            journey.enrollment_id = str(r.json()["enrollment_id"])
            return journey.enrollment_id
        # Refused: enrolled already (our earlier attempt committed before its answer was lost)?
        mine = await self.call("GET", "enrollment", "/enrollments/me", headers=me)
        open_ = [
            e
            for e in mine.json()
            if e["micro_credential_id"] == world.mc_id and e["closed_at"] is None
        ]
        if not open_:
            raise DriverError(f"enrollment refused: {r.text}")
        journey.enrollment_id = str(open_[0]["enrollment_id"])
        return journey.enrollment_id

    async def add_evidence(self, journey: Journey) -> None:
        me = self.educator_headers(journey.educator)
        eid = journey.enrollment_id
        await self.call(
            "POST",
            "enrollment",
            f"/uploads/enrollments/{eid}/evidence/plan",
            headers={**me, "Content-Type": "application/pdf"},
            expect=(201,),
            content=PDF,
        )
        await self.call(
            "POST",
            "enrollment",
            f"/enrollments/{eid}/evidence/reflection/reflection",
            headers=me,
            expect=(201,),
            json={"text": REFLECTION},
        )

    async def submit(self, journey: Journey) -> str:
        attempt = len(journey.submissions) + 1
        r = await self.call(
            "POST",
            "enrollment",
            f"/enrollments/{journey.enrollment_id}/submissions",
            headers={
                **self.educator_headers(journey.educator),
                "Idempotency-Key": f"{journey.enrollment_id}-attempt-{attempt}",
            },
            expect=(201,),
        )
        body = r.json()
        if not body["complete"]:
            raise DriverError(f"submission incomplete: {body['problems']}")
        journey.submissions.append(str(body["submission_id"]))
        return str(body["submission_id"])

    async def assignment_of(self, submission_id: str, within: float = 60.0) -> tuple[str, str]:
        """(assignment id, assessor id) once review has assigned the submission."""

        async def assigned() -> tuple[str, str] | None:
            r = await self.call(
                "GET",
                "review",
                f"/reviews/{submission_id}",
                headers=self.admin,
                expect=(200, 404),
            )
            if r.status_code == 404:
                return None
            for a in r.json()["assignments"]:
                if a["role"] == "rater":
                    return str(a["assignment_id"]), str(a["assessor_id"])
            return None

        found: tuple[str, str] = await self.poll(
            assigned, f"assignment of submission {submission_id}", within
        )
        return found

    async def score(
        self, journey: Journey, assignment_id: str, assessor_id: str, levels: Mapping[str, str]
    ) -> tuple[str | None, str | None]:
        """Score one assignment; (decision id, outcome) (None, None if it was scored before
        the answer to an earlier try was lost)."""
        deadline = time.monotonic() + self.retry_for
        while True:
            r = await self.call(
                "POST",
                "review",
                f"/assignments/{assignment_id}/scores",
                headers=self.headers(Role.ASSESSOR, assessor_id=assessor_id),
                expect=(200, 409),
                json={
                    "scores": [
                        {"criterion_id": c, "level_id": lvl, "feedback": f"{c}: {lvl}"}
                        for c, lvl in levels.items()
                    ]
                },
            )
            if r.status_code == 200:
                break
            # "not open" / "not in review": our earlier try went through. Anything else (the
            # rubric has not reached review yet) is worth another try.
            if "not open" in r.text or "not in review" in r.text:
                return None, None
            if time.monotonic() > deadline:
                raise DriverError(f"scoring {assignment_id}: {r.text[:300]}")
            await asyncio.sleep(0.5)
        body = r.json()
        decision = (body.get("decision_id"), body.get("outcome"))
        if decision[0]:
            journey.decisions.append((str(decision[0]), str(decision[1])))
        return decision

    async def enrollment_status(self, journey: Journey) -> str:
        mine = await self.call(
            "GET", "enrollment", "/enrollments/me", headers=self.educator_headers(journey.educator)
        )
        for e in mine.json():
            if e["enrollment_id"] == journey.enrollment_id:
                return str(e["status"])
        raise DriverError(f"enrollment {journey.enrollment_id} not among the educator's")

    async def wait_status(self, journey: Journey, status: str, within: float = 60.0) -> None:
        async def reached() -> bool:
            return await self.enrollment_status(journey) == status

        await self.poll(reached, f"enrollment {journey.enrollment_id} {status}", within)

    async def to_submitted(self, world: World, journey: Journey) -> str:
        """Enroll, add evidence, submit: the submission id (under review from here)."""
        await self.enroll(world, journey)
        await self.add_evidence(journey)
        return await self.submit(journey)

    async def review(
        self, journey: Journey, levels: Mapping[str, str], within: float = 60.0
    ) -> None:
        assignment_id, assessor_id = await self.assignment_of(journey.submissions[-1], within)
        await self.score(journey, assignment_id, assessor_id, levels)

    async def earn(
        self, world: World, journey: Journey, *, revision: bool, within: float = 60.0
    ) -> Journey:
        """The whole educator story up to the passing decision: enroll, evidence, submit; if
        ``revision``, the assessor asks for a revision and the educator resubmits; pass."""
        await self.to_submitted(world, journey)
        if revision:
            await self.review(journey, RUBRIC_REVISE, within)
            await self.wait_status(journey, "revision_requested", within)
            await self.add_evidence(journey)
            await self.submit(journey)
        await self.review(journey, RUBRIC_PASS, within)
        journey.passed_at = time.monotonic()
        return journey

    async def revoke(self, credential_id: str, reason: str = "issued_in_error") -> None:
        await self.call(
            "POST",
            "registry",
            f"/credentials/{credential_id}/revoke",
            headers=self.admin,
            expect=(200, 409),
            json={"reason": reason, "detail": "revoked by the pipeline driver"},
        )

    # -- reading back ---------------------------------------------------------------------

    async def credential(self, credential_id: str) -> dict[str, Any]:
        r = await self.call(
            "GET", "registry", f"/credentials/{credential_id}", headers={}, expect=(200,)
        )
        doc: dict[str, Any] = r.json()
        return doc

    async def district_report(self, district_id: str, year: int) -> dict[str, Any]:
        r = await self.call(
            "GET",
            "compensation",
            f"/districts/{district_id}/reports/{year}",
            headers=self.admin,
        )
        report: dict[str, Any] = r.json()
        return report

    async def educator_stipends(self, educator_id: str) -> dict[str, Any]:
        r = await self.call(
            "GET", "compensation", f"/educators/{educator_id}/stipends", headers=self.admin
        )
        body: dict[str, Any] = r.json()
        return body

    async def payroll_export(
        self, district_id: str, pay_period_id: str, start: str, end: str
    ) -> dict[str, Any]:
        """Compose the district's batch for a pay period as its payroll system would, and
        download the JSON export."""
        payroll = self.headers(Role.PAYROLL_SYSTEM, district_id=district_id)
        batch = await self.call(
            "POST",
            "compensation",
            f"/districts/{district_id}/payroll-batches",
            headers=payroll,
            json={"pay_period_id": pay_period_id, "pay_period_start": start, "pay_period_end": end},
        )
        batch_id = batch.json()["batch_id"]
        r = await self.call(
            "GET", "compensation", f"/payroll-batches/{batch_id}/export.json", headers=payroll
        )
        export: dict[str, Any] = r.json()
        return export

    async def openapi_paths(self, service: str) -> set[str]:
        r = await self.call("GET", service, "/openapi.json", headers={})
        return set(r.json()["paths"])
