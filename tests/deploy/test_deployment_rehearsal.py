"""The deployment rehearsal: the production Kubernetes overlay and the Compose file, each run
as its manifests give it (deploy_rehearsal.py says exactly how), then the whole story driven
through it as its users would: the HR roster import, an enrolment, evidence uploaded to the
configured store, a review, the award, the credential fetched at its public URL and verified,
the stipend, the district's payroll export, and a district reading its own award stream with
the reference consumer. Under Kubernetes, what each process did on the broker is checked
against its ``KafkaUser``.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import importlib.util
import json
import os
import secrets
import shutil
import subprocess
import sys
import urllib.parse
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import jsonschema
import pytest
from deploy_manifests import REPO, load_compose, load_image
from deploy_rehearsal import (
    S3_KEYS,
    Container,
    JwksServer,
    Rehearsal,
    Target,
    compose_containers,
    infra_stand_ins,
    k8s_containers,
    moto_s3,
    s3_client,
)
from deploy_support import render_overlay, runbook_secrets

from mc_devstack.devinfra.common import find_repo_root, run_root, run_sync
from mc_devstack.devinfra.infra import InfraHandle, start_infra
from mc_devstack.pipeline.driver import Driver, Journey, World, WorldSpec
from mc_events import kafka_access
from mc_platform.auth import DevIssuer
from mc_platform.dev_identity import self_signed_tls
from registry.standards import ob3_achievement_credential_schema

pytestmark = pytest.mark.timeout(600)

WAIT = 90.0
SERVICES = ("enrollment", "review", "registry", "compensation")


# -- shared pieces --------------------------------------------------------------------------


@pytest.fixture
def run_dir() -> Iterator[Path]:
    path = run_root(find_repo_root()) / f"rehearsal-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    path.mkdir(parents=True)
    path.chmod(0o755)
    try:
        yield path
    finally:
        if not os.environ.get("MC_KEEP_RUN_DIR"):
            shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def infra(run_dir: Path) -> Iterator[InfraHandle]:
    """Embedded PostgreSQL and broker, whatever the developer's environment points at."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")
    }
    handle = start_infra(run_dir / "infra", fsync=False, env=env)
    try:
        yield handle
    finally:
        handle.stop()


def provision_databases(handle: InfraHandle, containers: list[Container]) -> None:
    """What the platform does before the services start (CloudNativePG's managed roles and
    Database resources; Compose's init script): each database URL's role, with its password,
    owning its database."""
    wanted: dict[str, tuple[str, str]] = {}
    for container in containers:
        for key, value in container.env.items():
            if key.endswith(("_DATABASE_URL", "_DATABASE_LISTEN_URL")):
                url = urllib.parse.urlsplit(value)
                wanted[url.path.lstrip("/")] = (url.username or "", url.password or "")

    async def create() -> None:
        import asyncpg

        conn = await asyncpg.connect(handle.infra.postgres_url)
        try:
            for database, (role, password) in wanted.items():
                if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role):
                    escaped = password.replace("'", "''")
                    await conn.execute(f"CREATE ROLE \"{role}\" LOGIN PASSWORD '{escaped}'")
                if not await conn.fetchval(
                    "SELECT 1 FROM pg_database WHERE datname = $1", database
                ):
                    await conn.execute(f'CREATE DATABASE "{database}" OWNER "{role}"')
        finally:
            await conn.close()

    run_sync(create, timeout=60)


def create_topics(handle: InfraHandle, platform: list[dict[str, Any]]) -> list[str]:
    """The Topic Operator's work: every KafkaTopic of the platform, before the services start
    (the cluster creates no topic on a client's behalf)."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    topics = [d for d in platform if d["kind"] == "KafkaTopic"]

    async def create() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=handle.infra.kafka_bootstrap)
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            await admin.create_topics(
                [
                    NewTopic(t["spec"]["topicName"], t["spec"]["partitions"], 1)
                    for t in topics
                    if t["spec"]["topicName"] not in existing
                ]
            )
        finally:
            await admin.close()

    run_sync(create, timeout=60)
    return [t["spec"]["topicName"] for t in topics]


@functools.cache
def reference_consumer() -> ModuleType:
    path = REPO / "examples" / "district_consumer" / "district_consumer.py"
    spec = importlib.util.spec_from_file_location("district_consumer", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def district_awards(bootstrap: str, district_id: str, group_id: str) -> list[Any]:
    """The district's award events as the reference consumer reads them, once one is there."""
    consumer = reference_consumer()
    events: list[Any] = []
    deadline = asyncio.get_running_loop().time() + WAIT
    seen: set[str] = set()
    while not events:
        await consumer.consume(
            bootstrap,
            district_id,
            group_id=group_id,
            on_event=events.append,
            stop_after_idle=1.0,
            seen=seen,
        )
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"no award on {consumer.topic_for(district_id)} within {WAIT:.0f} s")
    return events


@dataclass
class Story:
    world: World
    journey: Journey
    credential: dict[str, Any]
    credential_url: str


async def the_story(
    driver: Driver, *, bootstrap: str, district_group: Callable[[str], str], public_base: str
) -> Story:
    """From the roster import to the district's payroll export and award stream."""
    world = await driver.seed(
        WorldSpec(districts=1, schools_per_district=1, educators=1, assessors=1)
    )
    educator = world.educators[0]
    journey = await driver.earn(world, Journey(educator), revision=False, within=WAIT)
    await driver.wait_status(journey, "earned", WAIT)

    events = await district_awards(
        bootstrap, educator.district_id, district_group(educator.district_id)
    )
    awarded = [
        e.get_data() for e in events if e.get_type().startswith("registry.credential_awarded")
    ]
    assert awarded, [e.get_type() for e in events]
    data = awarded[0] if isinstance(awarded[0], dict) else json.loads(awarded[0])
    assert data["educator_id"] == educator.educator_id
    credential_id = data["credential_id"]

    # The credential, from the registry's API, names its public URL.
    document = await driver.credential(credential_id)
    jsonschema.validate(document, ob3_achievement_credential_schema())

    ledger: dict[str, Any] = {}
    for _ in range(int(WAIT * 4)):
        ledger = await driver.educator_stipends(educator.educator_id)
        if ledger["balance_cents"] == world.stipend_cents:
            break
        await asyncio.sleep(0.25)
    assert ledger["balance_cents"] == world.stipend_cents, ledger

    today = datetime.now(UTC).date()
    export = await driver.payroll_export(
        educator.district_id, f"PP-{world.tag}", str(today - timedelta(days=13)), str(today)
    )
    assert [
        e["amount_cents"] for e in export["entries"] if e["educator_id"] == educator.educator_id
    ] == [world.stipend_cents]
    return Story(world, journey, document, f"{public_base}/credentials/{credential_id}")


async def verify_at_public_url(
    client: httpx.AsyncClient, story: Story, public_base: str, route: Callable[[str], str]
) -> None:
    """The credential as a verifier gets it: at its public URL, then verified; every URL it
    names (issuer, achievement, signing key, status lists) is public and answers there."""
    document = story.credential
    fetched = await client.get(route(story.credential_url), headers={"accept": "application/json"})
    assert fetched.status_code == 200, fetched.text
    assert fetched.json() == document
    verified = await client.post(route(f"{public_base}/credentials/verify"), json=document)
    assert verified.status_code == 200, verified.text
    assert verified.json()["verified"] is True, verified.json()
    statuses = as_list(document.get("credentialStatus", []))
    named = [
        document["issuer"]["id"],
        document["credentialSubject"]["achievement"]["id"],
        *(p["verificationMethod"] for p in as_list(document["proof"])),
        *(s["statusListCredential"] for s in statuses),
    ]
    assert statuses, "a credential carries its status entries"
    for url in named:
        assert url.startswith(public_base + "/"), url
        answer = await client.get(route(url.split("#")[0]))
        assert answer.status_code == 200, (url, answer.text)


def as_list(value: Any) -> list[Any]:
    """A JSON-LD member given as one value or as an array."""
    return value if isinstance(value, list) else [value]


# -- Kubernetes -----------------------------------------------------------------------------


def kafka_users(platform: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in platform if d["kind"] == "KafkaUser"}


def test_the_production_overlay_runs_the_whole_story(infra: InfraHandle, run_dir: Path) -> None:
    overlay = render_overlay("prod")
    platform = render_overlay("platform")
    image = load_image()
    tls = self_signed_tls(run_dir / "tls", ["127.0.0.1", "localhost"])
    kek = base64.b64encode(secrets.token_bytes(32)).decode()
    pooler = next((d for d in platform if d["kind"] == "Pooler"), None)
    cluster = next(d for d in platform if d["kind"] == "Cluster")
    namespace = "mc-data"
    db_host = f"{(pooler or cluster)['metadata']['name']}{'' if pooler else '-rw'}.{namespace}.svc"
    direct_host = f"{cluster['metadata']['name']}-rw.{namespace}.svc"
    values: dict[tuple[str, str], str] = {
        ("registry-signing", "kek"): kek,
        ("enrollment-evidence-s3", "access-key-id"): S3_KEYS[0],
        ("enrollment-evidence-s3", "secret-access-key"): S3_KEYS[1],
        ("kafka-ca", "ca.crt"): tls[0].read_text(),
    }
    for service in SERVICES:
        password = secrets.token_hex(8)
        values[(f"{service}-db", "database-url")] = (
            f"postgresql://{service}:{password}@{db_host}:5432/{service}"
        )
        values[(f"{service}-db", "database-listen-url")] = (
            f"postgresql://{service}:{password}@{direct_host}:5432/{service}"
        )
        values[(f"{service}-kafka", "username")] = service
        values[(f"{service}-kafka", "password")] = secrets.token_hex(8)
    ingress_tls = {
        (tls["secretName"], key)
        for d in overlay
        if d["kind"] == "Ingress"
        for tls in d["spec"].get("tls", [])
        for key in ("tls.crt", "tls.key")
    }
    assert set(values) | ingress_tls == runbook_secrets(), "the runbook's Secrets, no more"
    containers = k8s_containers(overlay, image, values)
    assert {c.workload for c in containers} == set(SERVICES)

    common = next(c for c in containers if c.workload == "registry" and c.kind == "service").env
    keys_dir = run_dir / "idp"
    issuer = DevIssuer(keys_dir, issuer=common["AUTH_ISSUER"], audience=common["AUTH_AUDIENCE"])
    jwks_path = urllib.parse.urlsplit(common["AUTH_JWKS_URL"]).path
    enrollment_env = next(
        c for c in containers if c.workload == "enrollment" and c.kind == "service"
    ).env
    bucket = enrollment_env["ENROLLMENT_EVIDENCE_S3_BUCKET"]
    region = enrollment_env.get("ENROLLMENT_EVIDENCE_S3_REGION", "us-east-1")

    services = {d["metadata"]["name"]: d for d in overlay if d["kind"] == "Service"}
    hostnames = {
        name: f"{name}.mc-backbone {name}.mc-backbone.svc {name}.mc-backbone.svc.cluster.local"
        for name in services
    }
    provision_databases(infra, containers)
    create_topics(infra, platform)

    with (
        moto_s3() as s3,
        JwksServer(issuer.jwks_path.read_bytes, jwks_path, tls[1], tls[2]) as jwks,
    ):
        s3_client(s3, region).create_bucket(Bucket=bucket)
        s3_port = int(s3.rsplit(":", 1)[1])
        rehearsal = Rehearsal(
            run_dir,
            containers,
            stand_ins={
                **infra_stand_ins(infra),
                "idp": Target("127.0.0.1", jwks.port),
                "s3": Target("127.0.0.1", s3_port, scheme="http"),
            },
            hostnames=hostnames,
            extra_env={"SSL_CERT_FILE": str(tls[0])},
            broker_env={
                "KAFKA_SECURITY_PROTOCOL": "PLAINTEXT",
                "KAFKA_ENABLE_IDEMPOTENCE": "false",
                "KAFKA_REPLICATION_FACTOR": "1",
            },
        )
        with rehearsal:
            ingress = public_routes(overlay, rehearsal)
            urls = {s: rehearsal.url(s) for s in SERVICES}
            assert set(ingress.values()) >= set(urls.values()), "every API is published"
            story = asyncio.run(
                drive(
                    urls,
                    issuer,
                    infra.infra.kafka_bootstrap,
                    ingress,
                    common["REGISTRY_PUBLIC_BASE_URL"],
                )
            )
            stored = s3_objects(s3, bucket, region)
            assert stored, "the evidence went to the configured bucket"

            # An operator republishes the district's stream, as the runbook says.
            district = story.journey.educator.district_id
            operator_log = run_dir / "kafka-access" / "mc-operator.jsonl"
            republish = subprocess.run(
                [str(Path(sys.executable).parent / "mc-events"), "district", "republish", district],
                env={
                    **os.environ,
                    "KAFKA_BOOTSTRAP_SERVERS": infra.infra.kafka_bootstrap,
                    "KAFKA_ENABLE_IDEMPOTENCE": "false",
                    "KAFKA_ACCESS_LOG": str(operator_log),
                },
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert republish.returncode == 0, republish.stdout + republish.stderr

            # The broker goes away: every pod stays in its Service, says so, and serves reads.
            broker = next(c for c in infra.components if c.name == "kafka")
            broker.stop()
            asyncio.run(
                broker_outage(rehearsal, ingress, story, common["REGISTRY_PUBLIC_BASE_URL"])
            )
        written = rehearsal.root_writes()
        assert not written, f"written outside the declared volumes: {written}"
        print("\n".join(rehearsal.notes))

    # What each process did on the broker is what its KafkaUser allows, and all it allows
    # (but the dead-letter writes of the topics it reads, which only a poison record needs).
    users = kafka_users(platform)
    logs = {**{s: rehearsal.accesses()[s] for s in SERVICES}, "mc-operator": operator_log}
    for user, log in logs.items():
        accesses = kafka_access.read_log(log)
        assert accesses, f"{user} recorded no Kafka access"
        read = {a.name for a in accesses if a.resource == "topic" and a.operation == "Read"}
        verdict = kafka_access.check(users[user], accesses, kafka_access.dead_letter_accesses(read))
        assert not verdict.uncovered, f"{user}'s KafkaUser lacks: {verdict.explain()}"
        if user in SERVICES:  # the operator's other rights serve dlq replay, pipeline status
            assert not verdict.unused, f"{user}'s KafkaUser grants unused: {verdict.explain()}"


async def broker_outage(
    rehearsal: Rehearsal, ingress: Mapping[str, str], story: Story, public_base: str
) -> None:
    """With the broker down, every service stays ready (it serves what its database holds),
    reports the broker in its readiness detail and its gauge, and the public verifier works."""
    deadline = asyncio.get_running_loop().time() + 30
    async with httpx.AsyncClient(timeout=5, trust_env=False) as client:
        for service in SERVICES:
            while True:
                r = await client.get(f"{rehearsal.url(service)}/readyz")
                assert r.status_code == 200, (service, r.text)
                if r.json()["checks"].get("broker", "ok") != "ok":
                    break
                assert asyncio.get_running_loop().time() < deadline, f"{service}: {r.text}"
                await asyncio.sleep(0.5)
            assert "broker" in r.json()["degraded"], r.json()
            metrics = (await client.get(f"{rehearsal.url(service)}/metrics")).text
            assert f'{service}_dependency_up{{dependency="broker"}} 0.0' in metrics

        def route(url: str) -> str:
            parts = urllib.parse.urlsplit(url)
            return ingress[str(parts.hostname)] + parts.path

        await verify_at_public_url(client, story, public_base, route)


def public_routes(overlay: list[dict[str, Any]], rehearsal: Rehearsal) -> dict[str, str]:
    """The Ingress: public host -> where its Service's pod listens here."""
    out = {}
    for ingress in (d for d in overlay if d["kind"] == "Ingress"):
        for rule in ingress["spec"]["rules"]:
            backend = rule["http"]["paths"][0]["backend"]["service"]["name"]
            out[rule["host"]] = rehearsal.url(backend)
    return out


def district_group(district_id: str) -> str:
    """The consumer group the reference consumer uses by default, checked against what the
    district's principal may use (deploy/k8s/platform/district-user-example.yaml, written for
    one district): its topic and its group fall under the user's prefixes."""
    import yaml

    consumer = reference_consumer()
    example = yaml.safe_load((REPO / "deploy/k8s/platform/district-user-example.yaml").read_text())
    example_id = example["metadata"]["labels"]["mc-backbone/district"]
    user = json.loads(json.dumps(example).replace(example_id, consumer.topic_id(district_id)))
    group = str(consumer.default_group(district_id))
    wanted = {
        kafka_access.Access("topic", consumer.topic_for(district_id), "Read"),
        kafka_access.Access("group", group, "Read"),
    }
    assert not kafka_access.uncovered(wanted, user), (wanted, user["spec"])
    return group


async def drive(
    urls: Mapping[str, str],
    issuer: Any,
    bootstrap: str,
    ingress: Mapping[str, str],
    public_base: str,
) -> Story:
    async with Driver(urls, issuer, retry_for=30) as driver:
        story = await the_story(
            driver, bootstrap=bootstrap, district_group=district_group, public_base=public_base
        )

        def route(url: str) -> str:
            parts = urllib.parse.urlsplit(url)
            assert parts.scheme == "https", url
            host = parts.hostname or ""
            assert host in ingress, f"{host} is not published by the Ingress"
            return ingress[host] + parts.path

        await verify_at_public_url(driver.client, story, public_base, route)
        return story


def s3_objects(endpoint: str, bucket: str, region: str) -> list[str]:
    listed = s3_client(endpoint, region).list_objects_v2(Bucket=bucket)
    return [o["Key"] for o in listed.get("Contents", [])]


# -- Compose --------------------------------------------------------------------------------


class TokenEndpoint:
    """Tokens from the Compose file's identity provider, over its HTTP token endpoint."""

    def __init__(self, url: str) -> None:
        self.url = url

    def mint(self, subject: str, roles: Any, *, expires_in: int = 3600, **claims: Any) -> str:
        body = {"sub": subject, "roles": [str(r) for r in roles], "expires_in": expires_in}
        r = httpx.post(f"{self.url}/token", json={**body, **claims}, timeout=10, trust_env=False)
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])


def test_the_compose_file_runs_the_whole_story(infra: InfraHandle, run_dir: Path) -> None:
    compose = load_compose()
    containers = compose_containers(compose, load_image())
    assert set(SERVICES) | {"idp"} <= {c.workload for c in containers}
    provision_databases(infra, containers)
    rehearsal = Rehearsal(
        run_dir,
        containers,
        stand_ins=infra_stand_ins(infra),
        hostnames={},
        broker_env={"KAFKA_ENABLE_IDEMPOTENCE": "false", "KAFKA_REPLICATION_FACTOR": "1"},
    )
    with rehearsal:
        published = {
            int(str(p).split(":")[0]): rehearsal.url(name)
            for name, service in compose["services"].items()
            if name in rehearsal.addresses
            for p in service.get("ports", [])
        }
        registry = next(
            c for c in containers if c.workload == "registry" and c.kind == "service"
        ).env
        public_base = registry["REGISTRY_PUBLIC_BASE_URL"]

        def route(url: str) -> str:
            parts = urllib.parse.urlsplit(url)
            assert parts.hostname == "localhost", url
            assert parts.port in published, f"port {parts.port} is not published"
            return published[parts.port] + parts.path

        async def run() -> Story:
            issuer = TokenEndpoint(rehearsal.url("idp"))
            urls = {s: rehearsal.url(s) for s in SERVICES}
            async with Driver(urls, issuer, retry_for=30) as driver:  # type: ignore[arg-type]
                story = await the_story(
                    driver,
                    bootstrap=infra.infra.kafka_bootstrap,
                    district_group=district_group,
                    public_base=public_base,
                )
                await verify_at_public_url(driver.client, story, public_base, route)
                return story

        asyncio.run(run())
    written = rehearsal.root_writes()
    assert not written, f"written outside the declared volumes: {written}"
    volumes = [
        rehearsal.volume(m)
        for c in containers
        if c.workload == "enrollment"
        for m in c.mounts
        if m.writable and m.volume.startswith("volume/")
    ]
    assert any(p.is_file() for v in volumes for p in v.rglob("*")), "evidence kept on a volume"
