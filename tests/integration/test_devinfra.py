"""The local infrastructure layer (mc_devstack.devinfra): resolution, embedded PostgreSQL and
broker, and the ``mc-dev`` supervisor, on real processes (no mocks)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import asyncpg
import psutil
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from rich.console import Console

from mc_devstack.devinfra import Infra, InfraKind, create_database, free_port, resolve_plan
from mc_devstack.devinfra.broker import EmbeddedBroker, kafka_metadata_async
from mc_devstack.devinfra.common import PidLock, port_in_use
from mc_devstack.devinfra.postgres import EmbeddedPostgres
from mc_devstack.devinfra.resolve import docker_available
from mc_devstack.devinfra.supervisor import Supervisor, parse_service
from mc_devstack.testing import fresh_database, unique_name

FAKE = Path(__file__).parent / "devinfra_fake_service.py"


def no_docker() -> bool:
    raise AssertionError("the Docker probe must not run when the environment decides")


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_for(predicate, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def get_json(url: str) -> dict:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=2) as response:
        return json.loads(response.read())


# ---------------------------------------------------------------------------------------------
# Resolution
# ---------------------------------------------------------------------------------------------


def test_resolution_prefers_the_environment():
    plan = resolve_plan(
        {
            "DATABASE_URL": "postgresql://app:secret@db.internal:5432",
            "KAFKA_BOOTSTRAP_SERVERS": "k1:9092,k2:9092",
            "KAFKA_ENABLE_IDEMPOTENCE": "false",
        },
        docker_check=no_docker,
    )
    assert (plan.postgres, plan.kafka) == ("external", "external")
    assert plan.postgres_url == "postgresql://app:secret@db.internal:5432/postgres"
    assert plan.kafka_bootstrap == "k1:9092,k2:9092"
    assert plan.kafka_idempotence is False


def test_resolution_mixes_external_and_local():
    only_db = {"DATABASE_URL": "postgresql://u@h:1/admin"}
    plan = resolve_plan(only_db, docker_check=lambda: False)
    assert (plan.postgres, plan.kafka) == ("external", "embedded")
    assert plan.postgres_url == "postgresql://u@h:1/admin"  # an explicit admin database is kept
    assert resolve_plan(only_db, docker_check=lambda: True).kafka == "docker"

    only_kafka = {"KAFKA_BOOTSTRAP_SERVERS": "k:9092"}
    plan = resolve_plan(only_kafka, docker_check=lambda: False)
    assert (plan.postgres, plan.kafka) == ("embedded", "external")
    assert plan.kafka_idempotence is True  # Apache Kafka by default

    assert resolve_plan({}, docker_check=lambda: True).postgres == "docker"
    assert resolve_plan({"MC_INFRA": "embedded"}, docker_check=no_docker).kafka == "embedded"


def test_docker_probe_is_bounded():
    started = time.monotonic()
    answer = docker_available(timeout=3.0)
    assert isinstance(answer, bool)
    assert time.monotonic() - started < 4.5


def test_infra_urls_and_service_environment():
    infra = Infra(
        kind=InfraKind("external", "embedded"),
        postgres_url="postgresql://app:pw@db:5432/postgres?sslmode=require",
        kafka_bootstrap="127.0.0.1:9",
        kafka_idempotence=False,
    )
    assert infra.database_url("registry") == "postgresql://app:pw@db:5432/registry?sslmode=require"
    env = infra.service_env("registry", port=8003, run_dir=Path("/x"))
    assert env == {
        "REGISTRY_DATABASE_URL": "postgresql://app:pw@db:5432/registry?sslmode=require",
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9",
        "KAFKA_ENABLE_IDEMPOTENCE": "false",
        "REGISTRY_PORT": "8003",
        "MC_RUN_DIR": "/x",
    }
    spec = parse_service(f"alpha:9001:{FAKE}", {})
    assert spec.command("serve") == [sys.executable, str(FAKE), "serve"]
    assert parse_service("review", {}).command("migrate") == [
        sys.executable,
        "-m",
        "review",
        "migrate",
    ]
    assert parse_service("review", {"REVIEW_PORT": "9100"}).port == 9100


# ---------------------------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------------------------


async def test_postgres_accepts_connections_and_creates_databases(infra):
    url = fresh_database(infra, "devinfra")
    conn = await asyncpg.connect(url, timeout=10)
    try:
        assert await conn.fetchval("SELECT current_database()") == url.rsplit("/", 1)[1]
        await conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
        await conn.execute("INSERT INTO t VALUES (1), (2)")
        assert await conn.fetchval("SELECT count(*) FROM t") == 2
    finally:
        await conn.close()

    name = unique_name("svc").replace("-", "_")
    assert create_database(infra.postgres_url, name) is True
    assert create_database(infra.postgres_url, name) is False  # idempotent
    conn = await asyncpg.connect(infra.postgres_url, timeout=10)
    try:
        assert await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name) == 1
        if infra.kind.postgres == "embedded":
            assert int(await conn.fetchval("SHOW max_connections")) >= 300
            assert await conn.fetchval("SHOW fsync") == "off"  # the test profile
    finally:
        await conn.close()


def test_embedded_postgres_warm_start_and_stale_pid_file(infra_handle):
    server = EmbeddedPostgres(infra_handle.run_dir / "pg-extra", free_port(), fsync=False)
    started = time.perf_counter()
    server.start()
    cold = time.perf_counter() - started
    first_pid = server.pid()
    try:
        assert first_pid is not None
        server.stop()
        assert gone(first_pid)
        assert server.pid() is None

        # A crash leaves postmaster.pid naming a process that no longer exists.
        dead = subprocess.Popen(["true"])
        dead.wait()
        (server.data / "postmaster.pid").write_text(f"{dead.pid}\n{server.data}\n")
        server.port = free_port()
        started = time.perf_counter()
        server.start()  # warm: no initdb, stale file removed
        warm = time.perf_counter() - started
        assert not server.initialised_now
        assert warm < max(cold, 2.0)

        async def probe() -> int:
            conn = await asyncpg.connect(server.url, timeout=10)
            try:
                return int(await conn.fetchval("SELECT 41 + 1"))
            finally:
                await conn.close()

        assert asyncio.run(probe()) == 42
    finally:
        pid = server.pid()
        server.stop()
    assert pid is not None
    assert wait_for(lambda: gone(pid), 10)
    assert not port_in_use(server.port)


# ---------------------------------------------------------------------------------------------
# Broker
# ---------------------------------------------------------------------------------------------


async def test_broker_round_trip_with_headers(infra):
    topic = unique_name("devinfra.roundtrip")
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()

    producer = AIOKafkaProducer(
        bootstrap_servers=infra.kafka_bootstrap,
        acks="all",
        enable_idempotence=infra.kafka_idempotence,
    )
    await producer.start()
    try:
        headers = [("ce_id", b"evt-1"), ("ce_type", b"devinfra.Tested")]
        await producer.send_and_wait(topic, b'{"ok": true}', key=b"k1", headers=headers)
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=infra.kafka_bootstrap,
        group_id=unique_name("devinfra.group"),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_wait_ms=20,
        session_timeout_ms=3000,
        heartbeat_interval_ms=500,
    )
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), timeout=20)
    finally:
        await consumer.stop()
    assert record.key == b"k1"
    assert record.value == b'{"ok": true}'
    assert list(record.headers) == headers


def test_embedded_broker_is_memory_only_and_stops_by_pid(infra_handle):
    log = infra_handle.run_dir / "logs" / "broker-extra.log"
    broker = EmbeddedBroker(log, free_port())
    broker.start()
    pid = broker.pid()
    assert pid is not None

    async def create_and_list() -> list[str]:
        admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic("kept", num_partitions=1, replication_factor=1)])
            return list(await admin.list_topics())
        finally:
            await admin.close()

    try:
        assert "kept" in asyncio.run(create_and_list())
        broker.stop()
        assert gone(pid)
        broker.start()
        assert "kept" not in asyncio.run(kafka_metadata_async(broker.bootstrap))
    finally:
        last = broker.pid()
        broker.stop()
    assert last is not None
    assert gone(last)
    assert "listening on" in log.read_text()


# ---------------------------------------------------------------------------------------------
# Supervisor (mc-dev)
# ---------------------------------------------------------------------------------------------


def mc_dev(*args: str, env: dict[str, str] | None = None, timeout: float = 60.0):
    return subprocess.run(
        [sys.executable, "-m", "mc_devstack.devinfra.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def fake_pids(run_dir: Path, action: str = "*") -> list[int]:
    """PIDs the fake services recorded (themselves and their workers)."""
    folder = run_dir / "fake"
    pids: list[int] = []
    for path in folder.glob(f"*.{action}.*") if folder.exists() else []:
        pids += [int(p) for p in path.read_text().split()]
    return pids


def test_supervisor_refuses_a_second_run(tmp_path):
    run_dir = tmp_path / "dev"
    with PidLock(run_dir / "run.pid"):
        console = Console(record=True, width=200)
        supervisor = Supervisor(run_dir, [], console=console, pg_port=None, kafka_port=None)
        assert supervisor.run() == 1
    output = console.export_text()
    assert f"mc-dev is already running (pid {os.getpid()}, started " in output
    assert "make stop" in output
    assert not (run_dir / "postgres").exists()  # nothing was started


def test_pid_lock_takes_over_a_stale_file(tmp_path):
    path = tmp_path / "run.pid"
    dead = subprocess.Popen(["true"])
    dead.wait()
    path.write_text(f"{dead.pid}\n2020-01-01T00:00:00\n")
    assert not PidLock.held(path)
    lock = PidLock(path)
    assert lock.acquire() is True  # stale: taken over
    try:
        assert PidLock.held(path)
        info = PidLock.read(path)
        assert info is not None
        assert info.pid == os.getpid()
    finally:
        lock.release()
    assert not path.exists()


def test_supervisor_starts_services_waits_for_ready_and_stops_everything(tmp_path):
    run_dir = tmp_path / "dev"
    ports = {"alpha": free_port(), "beta": free_port()}
    pg_port, kafka_port = free_port(), free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "MC_INFRA")
    }
    env.update(MC_INFRA="embedded", FAKE_BETA="ignore-term")
    args = ["--run-dir", str(run_dir), "--pg-port", str(pg_port), "--kafka-port", str(kafka_port)]
    services = [f"--service={n}:{p}:{FAKE}" for n, p in ports.items()]
    out = tmp_path / "supervisor.out"
    pids: list[int] = []
    started = time.monotonic()
    with out.open("w") as sink:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mc_devstack.devinfra.cli",
                "run",
                *args,
                *services,
                "--grace=1",
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        ready = wait_for(
            lambda: (run_dir / "state.json").exists() or proc.poll() is not None, 60, 0.1
        )
        assert ready, out.read_text()
        assert proc.poll() is None, out.read_text()
        startup = time.monotonic() - started
        state = json.loads((run_dir / "state.json").read_text())
        assert state["pid"] == proc.pid
        assert state["infra"]["kind"] == {"postgres": "embedded", "kafka": "embedded"}

        # Each service answers /readyz with what the supervisor gave it.
        workers = []
        for name, port in ports.items():
            info = get_json(f"http://127.0.0.1:{port}/readyz")
            assert info["database_url"] == f"postgresql://postgres@127.0.0.1:{pg_port}/{name}"
            assert info["migrated_rows"] == 1  # migrate ran before serve
            assert info["kafka_bootstrap"] == f"127.0.0.1:{kafka_port}"
            assert info["kafka_idempotence"] == "false"
            assert info["run_dir"] == str(run_dir)
            workers.append(info["worker_pid"])
        text = out.read_text()
        for name in ports:
            assert f"http://127.0.0.1:{ports[name]}/docs" in text
            assert str(run_dir / "logs" / f"{name}.log") in text

        # A second run is refused while this one holds the pid file.
        second = mc_dev("run", *args, *services, env=env, timeout=30)
        assert second.returncode == 1
        assert f"mc-dev is already running (pid {proc.pid}, started " in second.stdout

        status = mc_dev("status", "--run-dir", str(run_dir), env=env)
        assert status.returncode == 0, status.stdout
        assert "alpha" in status.stdout
        assert "beta" in status.stdout

        pids = [
            proc.pid,
            state["components"]["postgres"]["pid"],
            state["components"]["kafka"]["pid"],
            *(s["pid"] for s in state["services"]),
            *workers,
            *fake_pids(run_dir, "serve"),
        ]
        assert all(not gone(pid) for pid in pids)
        pids += fake_pids(run_dir, "migrate")  # already gone

        stop = mc_dev("stop", "--run-dir", str(run_dir), env=env, timeout=90)
        assert stop.returncode == 0, stop.stdout + stop.stderr
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
    text = out.read_text()
    assert wait_for(lambda: all(gone(pid) for pid in pids), 10), text
    assert not port_in_use(pg_port)
    assert not port_in_use(kafka_port)
    assert not any(port_in_use(p) for p in ports.values())
    assert not (run_dir / "run.pid").exists()
    assert not (run_dir / "state.json").exists()
    assert mc_dev("status", "--run-dir", str(run_dir), env=env).returncode == 1
    print(f"supervisor: cold start to ready in {startup:.1f} s")


@pytest.mark.parametrize(
    ("behaviour", "expected"),
    [
        ("die-on-serve", ["beta exited with code 4 during start-up", "boom: cannot serve"]),
        ("fail-migrate", ["failed with exit code 3", "migration exploded"]),
    ],
)
def test_supervisor_fails_loudly_and_stops_everything(infra, tmp_path, behaviour, expected):
    run_dir = tmp_path / "dev"
    ports = {"alpha": free_port(), "beta": free_port()}
    env = {**os.environ, **infra.env(), "FAKE_BETA": behaviour}  # external: the session's infra
    services = [f"--service={n}:{p}:{FAKE}" for n, p in ports.items()]
    result = mc_dev("run", "--run-dir", str(run_dir), *services, "--grace=2", env=env, timeout=90)
    assert result.returncode == 1
    for text in expected:
        assert text in result.stdout, result.stdout
    pids = fake_pids(run_dir)
    assert pids  # alpha (at least its migration) ran
    assert wait_for(lambda: all(gone(pid) for pid in pids), 10)
    assert not any(port_in_use(p) for p in ports.values())
    assert not (run_dir / "run.pid").exists()


async def test_embedded_postgres_crash_keeps_every_acknowledged_commit(infra_handle):
    """The test profile skips fsync (no power cut to survive) but not the write of a commit to
    the OS: after an immediate shutdown (every process gone, no checkpoint) and crash recovery,
    every transaction the database acknowledged is there."""
    server = EmbeddedPostgres(infra_handle.run_dir / "pg-crash", free_port(), fsync=False)
    server.start()
    try:
        conn = await asyncpg.connect(server.url, timeout=10)
        try:
            assert await conn.fetchval("SHOW synchronous_commit") == "on"
            await conn.execute("CREATE TABLE acknowledged (n int)")
            for n in range(200):
                await conn.execute("INSERT INTO acknowledged VALUES ($1)", n)
        finally:
            await conn.close()
        first = server.pid()
        server.crash()  # right after the last commit: nothing had time to flush it
        assert first is not None
        assert gone(first)
        server.start()
        conn = await asyncpg.connect(server.url, timeout=10)
        try:
            assert await conn.fetchval("SELECT count(*) FROM acknowledged") == 200
        finally:
            await conn.close()
    finally:
        server.stop()
