"""Credentials issued elsewhere and their issuer's status lists: verification reads the list
over HTTP, an import is refused when its issuer revoked it, a recheck (or the sweep) revokes an
import its issuer revoked later and reverses its credits and stacks once, and the Ed-Fi view
shows recognised imports until then.

The other issuer is a ``did:key``; its signed status lists are served by a real HTTP server on
loopback (tests/integration/registry/foreign_issuer.py)."""

# The fixtures are imported from registry_it (no conftest.py here: it would shadow the
# ``conftest`` module other integration tests import), so test parameters redefine them.
# ruff: noqa: F811

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from foreign_issuer import ForeignIssuer, StatusServer, status_server
from registry_it import (  # noqa: F401  (actors: a fixture)
    Actors,
    actors,
    decided,
    events_on,
    mc_spec_data,
    processed,
    publish,
    stack_spec_data,
)
from sqlalchemy.ext.asyncio import create_async_engine

from mc_devstack.testing import (
    RunningService,
    fresh_database_async,
    running_service,
    unique_name,
)
from mc_events.contracts.registry import RenewalCreditsPosted, StackCompletionReversed
from mc_events.db import async_url, execute_core
from mc_events.topics import CREDENTIALS
from mc_platform import audit, migrations
from mc_platform.auth import Role
from registry.adapters.licensure_tables import renewal_ledger
from registry.adapters.status_fetch import StatusListFetcher
from registry.bootstrap import MIGRATIONS, build
from registry.config import Settings
from registry.domain import status_list
from registry.domain.awards import credential_id_for
from registry.service_layer.portability import recheck_due_imports
from registry.service_layer.unit_of_work import UnitOfWork

pytestmark = pytest.mark.timeout(180)

ACHIEVEMENT = "https://badges.other-state.example/achievements/checks-for-understanding"


@pytest.fixture(scope="module")
async def registry(infra, tmp_path_factory) -> AsyncIterator[RunningService]:
    async with running_service(
        build,
        Settings,
        infra,
        status_fetch_timeout_seconds=2.0,
    ) as svc:
        yield svc


@pytest.fixture(scope="module")
def server() -> Iterator[StatusServer]:
    with status_server() as running:
        yield running


def bits_with(*indexes: int) -> bytes:
    bits = status_list.empty_list()
    for index in indexes:
        bits = status_list.set_bit(bits, index)
    return bits


async def verify(registry: RunningService, document: dict[str, Any]) -> dict[str, Any]:
    r = await registry.client.post("/credentials/verify", json=document)
    assert r.status_code == 200, r.text
    body = r.json()
    body["by_check"] = {c["check"]: c for c in body["checks"]}
    return body


# -- verification ----------------------------------------------------------------------------


async def test_verification_reads_the_issuers_status_list_over_http(registry, server):
    other = ForeignIssuer()
    path = f"/{unique_name('lists')}/revocation-1"
    url = server.url(path)
    server.publish(path, other.status_list(url, bits_with(4)))
    valid = other.badge("TX-1", ACHIEVEMENT, status_url=url, index=3)
    revoked = other.badge("TX-1", ACHIEVEMENT, status_url=url, index=4)

    body = await verify(registry, valid)
    assert (body["verified"], body["status"]) == (True, "valid"), body
    assert body["by_check"]["status"]["result"] == "passed"
    assert url in body["by_check"]["status"]["detail"]

    body = await verify(registry, revoked)
    assert (body["verified"], body["status"]) == (False, "revoked"), body

    # The issuer revokes index 3 later: the next verification sees it.
    server.publish(path, other.status_list(url, bits_with(3, 4)))
    assert (await verify(registry, valid))["status"] == "revoked"


async def test_a_suspension_entry_of_another_issuer_reads_as_suspended(registry, server):
    other = ForeignIssuer()
    path = f"/{unique_name('lists')}/suspension-1"
    url = server.url(path)
    server.publish(path, other.status_list(url, bits_with(9), purpose="suspension"))
    badge = other.badge("TX-1", ACHIEVEMENT, status_url=url, index=9, purpose="suspension")
    assert (await verify(registry, badge))["status"] == "suspended"


async def test_a_status_list_that_cannot_be_trusted_leaves_the_status_unknown(registry, server):
    other = ForeignIssuer()
    impostor = ForeignIssuer()
    base = f"/{unique_name('lists')}"

    def at(name: str) -> str:
        return server.url(f"{base}/{name}")

    altered = other.status_list(at("altered"), bits_with())
    altered["credentialSubject"]["encodedList"] = status_list.encode(bits_with(0))
    undecodable = other.status_list(at("undecodable"), bits_with())
    del undecodable["proof"]
    undecodable["credentialSubject"]["encodedList"] = "unot-gzip"
    cases: dict[str, tuple[str, dict[str, Any] | None]] = {
        "missing": ("HTTP 404", None),
        "another-issuer": (
            "not by the credential's issuer",
            impostor.status_list(at("another-issuer"), bits_with()),
        ),
        "signed-by-another-key": (
            "does not verify",
            impostor.status_list(at("signed-by-another-key"), bits_with(), issuer=other.did),
        ),
        "altered": ("does not verify", altered),
        "expired": (
            "expired",
            other.status_list(at("expired"), bits_with(), validUntil="2026-01-02T00:00:00Z"),
        ),
        "wrong-purpose": (
            "is not a revocation status list",
            other.status_list(at("wrong-purpose"), bits_with(), "suspension"),
        ),
        "undecodable": ("cannot be decoded", other.sign(undecodable)),
    }
    for name, (expected, document) in cases.items():
        if document is not None:
            server.publish(f"{base}/{name}", document)
        badge = other.badge("TX-1", ACHIEVEMENT, status_url=at(name))
        body = await verify(registry, badge)
        assert (body["verified"], body["status"]) == (False, "status_unknown"), (name, body)
        status = body["by_check"]["status"]
        assert status["result"] == "unknown", (name, status)
        assert expected in status["detail"], (name, status)


async def test_nothing_is_fetched_for_a_credential_whose_proof_fails(registry, server):
    other = ForeignIssuer()
    path = f"/{unique_name('lists')}/revocation-1"
    server.publish(path, other.status_list(server.url(path), bits_with()))
    badge = other.badge("TX-1", ACHIEVEMENT, status_url=server.url(path))
    badge["name"] = "Altered after signing"
    before = server.hits.count(path)
    body = await verify(registry, badge)
    assert body["status"] == "invalid"
    assert body["by_check"]["status"]["result"] == "unknown"
    assert server.hits.count(path) == before


# -- imports, rechecks, the Ed-Fi view -------------------------------------------------------


class Setup:
    def __init__(self, registry: RunningService, actors: Actors, server: StatusServer) -> None:
        self.registry = registry
        self.actors = actors
        self.server = server
        self.other = ForeignIssuer()
        self.path = f"/{unique_name('lists')}/revocation-1"
        self.url = server.url(self.path)
        self.educator = unique_name("SC")
        self.me = registry.auth("me", Role.EDUCATOR, educator_id=self.educator, district_id="d-4")
        self.admin = actors.admin

    def publish_bits(self, *revoked: int) -> None:
        self.server.publish(self.path, self.other.status_list(self.url, bits_with(*revoked)))

    async def recognise(self) -> str:
        """A rule recognising the other issuer's badge as a new state MC (1.5 CEU = 15)."""
        mc_id = await self.actors.published_mc(mc_spec_data(title="Checks for Understanding"))
        rule = {
            "rule_id": unique_name("rule").lower(),
            "external_issuer_id": self.other.did,
            "external_achievement_id": ACHIEVEMENT,
            "equivalent_micro_credential_id": mc_id,
            "credits": {"value": "1.5", "unit": "ceu"},
        }
        r = await self.registry.client.post(
            "/licensure/recognition-rules", json=rule, headers=self.admin
        )
        assert r.status_code == 201, r.text
        return mc_id

    async def import_badge(self, badge: dict[str, Any], expected: int = 201) -> dict[str, Any]:
        r = await self.registry.client.post(
            f"/educators/{self.educator}/imports", json={"credential": badge}, headers=self.me
        )
        assert r.status_code == expected, r.text
        return dict(r.json())

    async def recheck(self, import_id: str) -> dict[str, Any]:
        r = await self.registry.client.post(f"/imports/{import_id}/recheck", headers=self.admin)
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def ledger(self) -> list[Any]:
        async with self.registry.runtime.sessions() as session:
            rows = await execute_core(
                session,
                sa.select(renewal_ledger.c.credential_id, renewal_ledger.c.renewal_credits)
                .where(renewal_ledger.c.educator_id == self.educator)
                .order_by(renewal_ledger.c.posted_at),
            )
            return [(row.credential_id, row.renewal_credits) for row in rows]

    async def edfi(self) -> list[dict[str, Any]]:
        r = await self.registry.client.get(
            f"/educators/{self.educator}/ed-fi/credentials", headers=self.me
        )
        assert r.status_code == 200, r.text
        return list(r.json()["credentials"])

    async def audit_actions(self, object_id: str) -> list[str]:
        async with self.registry.runtime.sessions() as session:
            rows = await execute_core(
                session,
                sa.select(audit.audit_log.c.action)
                .where(audit.audit_log.c.object_id == object_id)
                .order_by(audit.audit_log.c.id),
            )
            return [row.action for row in rows]


async def test_an_import_revoked_upstream_is_revoked_on_recheck_and_its_credits_reversed_once(
    registry, actors: Actors, server
):
    setup = Setup(registry, actors, server)
    equivalent = await setup.recognise()
    wait_time = await actors.published_mc(
        mc_spec_data(title="Wait Time", allowed_purposes=["curated_pd"])
    )
    stack = stack_spec_data([equivalent, wait_time], id=unique_name("stack").lower())
    r = await registry.client.post("/stacks", json=stack, headers=actors.issuer)
    assert r.status_code == 201, r.text
    base = f"/stacks/{stack['id']}/versions/1"
    assert (await registry.client.post(f"{base}/submit", headers=actors.issuer)).status_code == 200
    r = await registry.client.post(f"{base}/approve", json={"reason": "ok"}, headers=actors.admin)
    assert r.status_code == 200, r.text
    earned = decided(wait_time, educator_id=setup.educator)
    assert await processed(registry, await publish(registry, earned))

    setup.publish_bits()
    badge = setup.other.badge(setup.educator, ACHIEVEMENT, status_url=setup.url, index=7)
    imported = await setup.import_badge(badge)
    import_id = imported["import_id"]
    assert (imported["recognition_status"], imported["issuer_status"]) == ("recognized", "valid")
    assert await setup.ledger() == [(import_id, Decimal("15.00"))]

    # Recognised: in the Ed-Fi view, marked as imported, with its issuer and the state MC.
    (shown,) = [c for c in await setup.edfi() if c["credentialIdentifier"] == import_id]
    assert shown["_ext"]["mc"]["imported"] is True
    assert shown["_ext"]["mc"]["issuer"] == setup.other.did
    assert shown["_ext"]["mc"]["equivalentMicroCredentialId"] == equivalent
    assert shown["credentialFieldDescriptor"].endswith(f"#{equivalent}")
    assert shown["issuanceDate"] == "2026-02-01"
    earned_id = credential_id_for(earned.enrollment_id)
    assert {c["credentialIdentifier"] for c in await setup.edfi()} >= {import_id, earned_id}

    # Still valid upstream: a recheck records it and changes nothing else.
    first = await setup.recheck(import_id)
    assert (first["changed"], first["revoked_now"]) == (False, False)
    assert first["import"]["issuer_status"] == "valid"

    setup.publish_bits(7)  # the issuer revokes it
    revoked = await setup.recheck(import_id)
    assert (revoked["changed"], revoked["revoked_now"]) == (True, True)
    assert revoked["renewal_credits_reversed"] == "15.00"
    assert revoked["stacks_reversed"] == 1
    assert revoked["import"]["recognition_status"] == "revoked"
    assert revoked["import"]["issuer_status"] == "revoked"
    assert revoked["import"]["revoked_at"] is not None
    assert await setup.ledger() == [(import_id, Decimal("15.00")), (import_id, Decimal("-15.00"))]

    again = await setup.recheck(import_id)
    assert (again["changed"], again["revoked_now"], again["renewal_credits_reversed"]) == (
        False,
        False,
        None,
    )
    assert await setup.ledger() == [(import_id, Decimal("15.00")), (import_id, Decimal("-15.00"))]

    # Gone from the Ed-Fi view and the CLR; the award earned here stays.
    assert {c["credentialIdentifier"] for c in await setup.edfi()} == {earned_id}
    r = await registry.client.get(f"/educators/{setup.educator}/clr", headers=setup.me)
    bundled = r.json()["credentialSubject"]["verifiableCredential"]
    assert [vc["id"] for vc in bundled] == [f"urn:uuid:{earned_id}"]
    assert badge["id"] not in r.text
    # Each read of the issuer's list a state admin asked for is audited; a revoked import is
    # not read again.
    assert await setup.audit_actions(import_id) == [
        "credential.imported",
        "credential_import.rechecked",
        "credential_import.revoked",
    ]
    events = [
        e
        for _, e in await events_on(registry, CREDENTIALS.name, setup.educator, at_least=5)
        if isinstance(e, RenewalCreditsPosted | StackCompletionReversed)
    ]
    reversals = [e for e in events if isinstance(e, RenewalCreditsPosted) and e.credits < 0]
    assert [(e.credential_id, e.renewal_credits, e.reason.value) for e in reversals] == [
        (import_id, Decimal("-15.00"), "revocation")
    ]
    (broken,) = [e for e in events if isinstance(e, StackCompletionReversed)]
    assert broken.revoked_credential_id == import_id


async def test_an_unreachable_status_list_makes_the_status_unknown_and_reverses_nothing(
    registry, actors: Actors, server
):
    setup = Setup(registry, actors, server)
    await setup.recognise()
    setup.publish_bits()
    imported = await setup.import_badge(
        setup.other.badge(setup.educator, ACHIEVEMENT, status_url=setup.url, index=2)
    )
    import_id = imported["import_id"]
    server.withdraw(setup.path)

    result = await setup.recheck(import_id)
    assert (result["changed"], result["revoked_now"]) == (True, False)
    assert result["import"]["issuer_status"] == "status_unknown"
    assert "HTTP 404" in result["import"]["status_detail"]
    assert result["import"]["recognition_status"] == "recognized"
    assert result["renewal_credits_reversed"] is None
    assert await setup.ledger() == [(import_id, Decimal("15.00"))]
    assert import_id in {c["credentialIdentifier"] for c in await setup.edfi()}

    # A server that is gone (connection refused): the same.
    with status_server() as gone:
        url = gone.url("/revocation-1")
        gone.publish("/revocation-1", setup.other.status_list(url, bits_with()))
        badge = setup.other.badge(
            setup.educator, ACHIEVEMENT, status_url=url, index=3, name="Second Badge"
        )
        second = (await setup.import_badge(badge))["import_id"]
    result = await setup.recheck(second)
    assert result["import"]["issuer_status"] == "status_unknown"
    assert "127.0.0.1" in result["import"]["status_detail"]
    assert (result["revoked_now"], result["renewal_credits_reversed"]) == (False, None)
    assert sorted(await setup.ledger()) == sorted(
        [(import_id, Decimal("15.00")), (second, Decimal("15.00"))]
    )


async def test_an_import_its_issuer_revoked_or_suspended_already_is_refused(
    registry, actors: Actors, server
):
    setup = Setup(registry, actors, server)
    await setup.recognise()
    setup.publish_bits(5)
    refused = await setup.import_badge(
        setup.other.badge(setup.educator, ACHIEVEMENT, status_url=setup.url, index=5), 422
    )
    assert "status: revoked by its issuer" in refused["detail"]
    suspended_path = f"/{unique_name('lists')}/suspension-1"
    url = server.url(suspended_path)
    server.publish(suspended_path, setup.other.status_list(url, bits_with(1), "suspension"))
    refused = await setup.import_badge(
        setup.other.badge(
            setup.educator, ACHIEVEMENT, status_url=url, index=1, purpose="suspension"
        ),
        422,
    )
    assert "status: suspended by its issuer" in refused["detail"]
    r = await registry.client.get(f"/educators/{setup.educator}/imports", headers=setup.me)
    assert r.json() == []
    assert await setup.ledger() == []

    # Unreadable at import time: recorded as unknown (never valid), credits as recognised.
    setup.server.withdraw(setup.path)
    imported = await setup.import_badge(
        setup.other.badge(setup.educator, ACHIEVEMENT, status_url=setup.url, index=6)
    )
    assert imported["issuer_status"] == "status_unknown"
    assert imported["recognition_status"] == "recognized"


async def test_the_recheck_sweep_revokes_imports_revoked_upstream_once(
    registry, actors: Actors, server
):
    setup = Setup(registry, actors, server)
    await setup.recognise()
    setup.publish_bits()
    kept = (
        await setup.import_badge(
            setup.other.badge(setup.educator, ACHIEVEMENT, status_url=setup.url, index=0)
        )
    )["import_id"]
    other_badge = setup.other.badge(
        setup.educator, ACHIEVEMENT, status_url=setup.url, index=1, name="Second Badge"
    )
    lost = (await setup.import_badge(other_badge))["import_id"]
    setup.publish_bits(1)

    assert "import-recheck" in registry.definition.workers  # serve runs this sweep
    issuance = replace(
        registry.definition.issuance, status_fetcher=StatusListFetcher(timeout_seconds=2)
    )
    now = datetime.now(UTC)
    for _ in range(2):  # a second pass (or another replica) finds nothing more to do
        uow = UnitOfWork(registry.runtime.sessions)
        await recheck_due_imports(uow, issuance, now, limit=1000)
    by_id = {
        i["import_id"]: i
        for i in (
            await registry.client.get(f"/educators/{setup.educator}/imports", headers=setup.me)
        ).json()
    }
    assert by_id[lost]["recognition_status"] == "revoked"
    assert by_id[kept]["recognition_status"] == "recognized"
    assert by_id[kept]["issuer_status"] == "valid"
    ledger = await setup.ledger()
    assert sorted(ledger) == sorted(
        [(kept, Decimal("15.00")), (lost, Decimal("15.00")), (lost, Decimal("-15.00"))]
    )
    assert await setup.audit_actions(lost) == ["credential.imported", "credential_import.revoked"]
    assert await setup.audit_actions(kept) == ["credential.imported"]  # unchanged: not audited


async def test_migration_0008_downgrades_and_upgrades_again(infra):
    url = await fresh_database_async(infra, "registry_import_status_migrations")

    def round_trip() -> None:
        migrations.upgrade(MIGRATIONS, url, "0008")
        command.downgrade(migrations.config(MIGRATIONS, url), "0007")
        migrations.upgrade(MIGRATIONS, url, "0008")

    await asyncio.to_thread(round_trip)
    engine = create_async_engine(async_url(url))
    try:
        async with engine.connect() as conn:
            columns = {
                row.column_name
                for row in await conn.execute(
                    sa.text(
                        "SELECT column_name FROM information_schema.columns "
                        "WHERE table_name = 'imported_credentials'"
                    )
                )
            }
            with pytest.raises(sa.exc.IntegrityError):
                await conn.execute(
                    sa.text(
                        "INSERT INTO imported_credentials (import_id, educator_id, district_id, "
                        "external_credential_id, external_issuer_id, achievement_name, "
                        "proof_status, recognition_status, document, imported_at, imported_by, "
                        "issuer_status) VALUES ('i', 'e', 'd', 'x', 'y', 'n', 'verified', "
                        "'recognized', '{}', now(), 'me', 'fine')"
                    )
                )
    finally:
        await engine.dispose()
    assert {"issuer_status", "status_checked_at", "status_detail", "revoked_at"} <= columns
