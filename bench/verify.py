"""Registry verification requests per second: POST /credentials/verify under concurrent load.

    make bench     (or: .venv/bin/python bench/verify.py [--seconds 10] [--credentials 400])

Starts embedded (or given) PostgreSQL and broker under .run/bench-verify, migrates the registry
and runs it as its own process (``python -m registry serve``, the environment ``make run``
gives it). Real signed credentials are made through the award path: a micro-credential is
published over the API, passed review decisions go onto ``review.reviews``, and the registry's
consumer records and signs one credential per decision (eddsa-rdfc-2022). One credential is
then revoked (it must verify as revoked in every configuration).

Then, for each configuration, the registry is restarted API-only (``serve --no-relay
--no-consumers``) and hammered over ``--concurrency`` keep-alive connections (a lean asyncio
client: httpx would cost as much CPU as the server), each phase for a fixed time:

- ``verify, same credential``: one credential verified again and again (a verifier portal
  re-checking);
- ``verify, distinct (cold)``: every credential once, never seen by this process before;
- ``verify, distinct (warm)``: the same credentials again, round robin;
- ``GET /credentials/{id}`` and ``GET /status/{list}``: the public documents verifiers fetch.

Configurations: the verification memos off (``REGISTRY_PROOF_CACHE_SIZE=0``: every request
canonicalizes and validates in full) and on (the default), one process; and on, with
``--processes`` API processes behind a client-side round robin. Reports requests/s, p50/p99
latency (as the client sees it), and the registry processes' CPU per request, so the figures
can be read as "what one core does" on a machine whose two cores the load generator shares.

Writes ``.run/bench-verify/report.json`` and ``summary.md`` (git-ignored).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration" / "registry"))

from registry_it import decided, mc_spec_data  # noqa: E402  (the registry's test fixtures)

from mc_devstack import benchmarking  # noqa: E402
from mc_devstack.devinfra import start_infra  # noqa: E402
from mc_devstack.devinfra.common import free_port, tail  # noqa: E402
from mc_events import kafka  # noqa: E402
from mc_events.envelope import to_record  # noqa: E402
from mc_platform.auth import DevIssuer, Role  # noqa: E402
from registry.domain.awards import credential_id_for  # noqa: E402

OUT = ROOT / ".run" / "bench-verify"
TARGET_PER_S = 1000


# -- the registry as processes -----------------------------------------------------------------


@dataclass
class Registry:
    """The registry's processes on one database (started and stopped by this script)."""

    run_dir: Path
    base_env: dict[str, str]
    public_url: str
    procs: list[tuple[subprocess.Popen[bytes], int]] = field(default_factory=list)

    def env(self, port: int, extra: dict[str, str]) -> dict[str, str]:
        return {**self.base_env, "REGISTRY_PORT": str(port), **extra}

    def migrate(self) -> None:
        log = self.run_dir / "logs" / "registry-migrate.log"
        with log.open("wb") as out:
            code = subprocess.run(
                [sys.executable, "-m", "registry", "migrate"],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env(0, {}),
                check=False,
                timeout=180,
            ).returncode
        if code != 0:
            raise RuntimeError(f"registry migrate exited {code}:\n{tail(log)}")

    def start(self, ports: list[int], extra: dict[str, str], api_only: bool) -> None:
        argv = [sys.executable, "-m", "registry", "serve"]
        if api_only:
            argv += ["--no-relay", "--no-consumers"]
        for port in ports:
            log = self.run_dir / "logs" / f"registry-{port}.log"
            with log.open("ab") as out:
                popen = subprocess.Popen(  # noqa: S603 (our own service command)
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=self.env(port, extra),
                    start_new_session=True,
                )
            self.procs.append((popen, port))
        deadline = time.monotonic() + 90
        for popen, port in self.procs:
            while True:
                if popen.poll() is not None:
                    raise RuntimeError(
                        f"registry exited {popen.returncode}:\n"
                        f"{tail(self.run_dir / 'logs' / f'registry-{port}.log')}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError("registry not ready after 90 s")
                time.sleep(0.2)

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for _, port in self.procs]

    def cpu_seconds(self) -> float:
        total = 0.0
        for popen, _ in self.procs:
            with contextlib.suppress(psutil.Error):
                times = psutil.Process(popen.pid).cpu_times()
                total += times.user + times.system
        return total

    def stop(self) -> None:
        for popen, _ in self.procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(popen.pid, signal.SIGTERM)
        for popen, _ in self.procs:
            try:
                popen.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(popen.pid, signal.SIGKILL)
                popen.wait()
        self.procs.clear()


# -- seeding: real credentials through the award path ------------------------------------------


async def seed(
    url: str, issuer: DevIssuer, settings: kafka.KafkaSettings, count: int
) -> list[tuple[str, dict[str, Any]]]:
    """``count`` (credential id, signed document) pairs, awarded by the registry."""
    admin = {"Authorization": f"Bearer {issuer.mint('bench-sea', [Role.STATE_ADMIN])}"}
    provider = "bench-provider"
    author = {
        "Authorization": "Bearer " + issuer.mint("bench-author", [Role.ISSUER], issuer_id=provider)
    }
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        r = await client.post(
            "/issuers", json={"issuer_id": provider, "name": "Bench Provider"}, headers=admin
        )
        assert r.status_code == 201, r.text
        r = await client.post("/micro-credentials", json=mc_spec_data(), headers=author)
        assert r.status_code == 201, r.text
        mc_id = r.json()["id"]
        base = f"/micro-credentials/{mc_id}/versions/1"
        assert (await client.post(f"{base}/submit", headers=author)).status_code == 200
        r = await client.post(f"{base}/approve", json={"reason": "ok"}, headers=admin)
        assert r.status_code == 200, r.text

        decisions = [
            decided(mc_id, enrollment_id=f"bench-enr-{i:06d}", educator_id=f"TX-{i:07d}")
            for i in range(count)
        ]
        producer = kafka.producer(settings)
        await producer.start()
        try:
            for decision in decisions:
                record = to_record(decision, source="/mc/review")
                await producer.send(
                    record.topic, record.value, key=record.key, headers=record.headers
                )
            await producer.flush()
        finally:
            await producer.stop()

        documents: list[tuple[str, dict[str, Any]]] = []
        deadline = time.monotonic() + 60 + count * 0.5
        for decision in decisions:
            credential_id = credential_id_for(decision.enrollment_id)
            while True:
                r = await client.get(f"/credentials/{credential_id}")
                if r.status_code == 200:
                    documents.append((credential_id, r.json()))
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{len(documents)} of {count} credentials were awarded")
                await asyncio.sleep(0.2)
            if len(documents) % 100 == 0:
                print(f"  {len(documents)}/{count} credentials awarded and signed", flush=True)
    return documents


async def revoke(url: str, issuer: DevIssuer, credential_id: str) -> None:
    admin = {"Authorization": f"Bearer {issuer.mint('bench-sea', [Role.STATE_ADMIN])}"}
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        r = await client.post(
            f"/credentials/{credential_id}/revoke",
            json={"reason": "issued_in_error", "detail": "benchmark"},
            headers=admin,
        )
        assert r.status_code == 200, r.text


# -- load --------------------------------------------------------------------------------------

VERIFIED = b'"verified":true'


@dataclass
class Phase:
    label: str
    requests: int = 0
    errors: int = 0
    batch: int = 1
    """Verifications per request (the batch endpoint carries several)."""
    seconds: float = 0.0
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    first_error: str | None = None

    def percentile(self, q: float) -> float | None:
        if not self.latencies_ms:
            return None
        ordered = sorted(self.latencies_ms)
        return round(ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)], 2)

    def summary(self) -> dict[str, Any]:
        items = self.requests * self.batch
        return {
            "label": self.label,
            "requests": self.requests,
            "batch": self.batch,
            "errors": self.errors,
            "seconds": round(self.seconds, 2),
            # Per item: a verification (several per request in a batch), or a GET.
            "per_s": round(items / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": self.percentile(0.50),
            "p99_ms": self.percentile(0.99),
            "server_cpu_ms_per_request": (
                round(1000 * self.server_cpu / items, 3) if self.requests else None
            ),
            "per_server_cpu_second": (
                round(items / self.server_cpu, 1) if self.server_cpu else None
            ),
            "client_cpu_ms_per_request": (
                round(1000 * self.client_cpu / items, 3) if self.requests else None
            ),
            "client_cpu_seconds": round(self.client_cpu, 2),
            "first_error": self.first_error,
        }


class Connection:
    """One keep-alive HTTP/1.1 connection of the load generator, on asyncio streams. httpx
    costs about as much CPU per request as the verification it would measure, on the same two
    cores; this costs a few percent of it. It sends ``Content-Length`` bodies and reads answers
    with a ``Content-Length`` (what the registry sends for these requests)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        assert self._reader is not None
        assert self._writer is not None
        self._writer.write(
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        head = await self._reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        headers = dict(line.partition(b":")[::2] for line in lines[1:] if line)
        length = headers.get(b"content-length", headers.get(b"Content-Length"))
        if length is None:
            raise ConnectionError(f"{method} {path}: an answer without Content-Length")
        return status, await self._reader.readexactly(int(length))


Request = Callable[[Connection, int], Awaitable[str | None]]
"""Send request number ``n`` on ``connection``; None when the answer is the expected one, else
what was wrong with it."""


def unexpected(path: str, answer: tuple[int, bytes], needle: bytes = b"") -> str | None:
    status, body = answer
    if status == 200 and needle in body:
        return None
    return f"{status} {path}: {body[:200].decode(errors='replace')}"


async def hammer(
    registry: Registry,
    label: str,
    request: Request,
    seconds: float,
    concurrency: int,
    limit: int | None = None,
    batch: int = 1,
) -> Phase:
    """``concurrency`` workers, each on its own keep-alive connection, send requests for
    ``seconds`` (or until ``limit`` requests), spread round robin over the registry's
    processes."""
    phase = Phase(label, batch=batch)
    connections = [Connection(registry.urls[w % len(registry.urls)]) for w in range(concurrency)]
    numbers: Iterator[int] = itertools.count()
    try:
        for connection in connections:  # connections up before the clock starts
            await connection.open()
            await connection.request("GET", "/healthz")
        cpu0, client0, start = registry.cpu_seconds(), time.process_time(), time.perf_counter()
        deadline = start + seconds

        async def worker(connection: Connection) -> None:
            while time.perf_counter() < deadline:
                n = next(numbers)
                if limit is not None and n >= limit:
                    return
                t = time.perf_counter()
                try:
                    wrong = await request(connection, n)
                except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
                    wrong = f"{type(exc).__name__}: {exc}"
                    await connection.close()
                    await connection.open()
                phase.latencies_ms.append((time.perf_counter() - t) * 1000)
                phase.requests += 1
                if wrong is not None:
                    phase.errors += 1
                    phase.first_error = phase.first_error or wrong

        await asyncio.gather(*(worker(c) for c in connections))
        phase.seconds = time.perf_counter() - start
        phase.server_cpu = registry.cpu_seconds() - cpu0
        phase.client_cpu = time.process_time() - client0
    finally:
        for connection in connections:
            await connection.close()
    return phase


async def measure_config(
    registry: Registry,
    documents: list[tuple[str, dict[str, Any]]],
    revoked: dict[str, Any],
    seconds: float,
    concurrency: int,
    only: str = "",
    batch: int = 50,
) -> list[dict[str, Any]]:
    bodies = [json.dumps(d).encode() for _, d in documents]
    revoked_body = json.dumps(revoked).encode()
    headers = {"content-type": "application/json"}
    ids = [credential_id for credential_id, _ in documents]
    status_url = documents[0][1]["credentialStatus"]["statusListCredential"]
    status_path = "/" + status_url.split("/", 3)[3]

    async with httpx.AsyncClient(base_url=registry.urls[0], timeout=60) as client:
        r = await client.post("/credentials/verify", content=revoked_body, headers=headers)
        assert r.json()["status"] == "revoked", r.text  # a revocation shows at once

    def verify(pick: Callable[[int], bytes]) -> Request:
        async def send(connection: Connection, n: int) -> str | None:
            path = "/credentials/verify"
            return unexpected(path, await connection.request("POST", path, pick(n)), VERIFIED)

        return send

    distinct = bodies[1:]
    batches = [
        b'{"credentials":['
        + b",".join(distinct[(n * batch + k) % len(distinct)] for k in range(batch))
        + b"]}"
        for n in range(max(1, len(distinct) // batch))
    ]

    async def verify_batch(connection: Connection, n: int) -> str | None:
        path = "/credentials/verify/batch"
        status, body = await connection.request("POST", path, batches[n % len(batches)])
        if status == 200 and body.count(VERIFIED) == batch:
            return None
        return unexpected(path, (status, body), b"\0")

    async def get_credential(connection: Connection, n: int) -> str | None:
        path = f"/credentials/{ids[n % len(ids)]}"
        return unexpected(path, await connection.request("GET", path))

    async def get_status(connection: Connection, n: int) -> str | None:
        return unexpected(status_path, await connection.request("GET", status_path))

    phases = []
    for label, request, size in (
        ("verify, same credential", verify(lambda n: bodies[0]), 1),
        ("verify, distinct (cold)", verify(lambda n: bodies[1 + n % (len(bodies) - 1)]), 1),
        ("verify, distinct (warm)", verify(lambda n: bodies[1 + n % (len(bodies) - 1)]), 1),
        (f"verify, batches of {batch} (warm)", verify_batch, batch),
        ("GET /credentials/{id}", get_credential, 1),
        ("GET /status/{list}", get_status, 1),
    ):
        if only not in label:
            continue
        cold = label.endswith("(cold)")
        phase = await hammer(
            registry,
            label,
            request,
            seconds,
            concurrency,
            # Cold: each credential at most once, so no request can hit a memo.
            limit=len(bodies) - 1 if cold else None,
            batch=size,
        )
        summary = phase.summary()
        phases.append(summary)
        print(
            f"    {label:<29} {summary['requests'] * size:>6} {summary['per_s']:>8,.1f}/s  "
            f"p50 {summary['p50_ms']} ms  p99 {summary['p99_ms']} ms (per request)  "
            f"server {summary['server_cpu_ms_per_request']} ms CPU each  "
            f"errors {summary['errors']}",
            flush=True,
        )
        if summary["first_error"]:
            print(f"      first unexpected answer: {summary['first_error']}", flush=True)
    return phases


def run(args: argparse.Namespace) -> dict[str, Any]:
    run_dir = (OUT / "infra").resolve()
    shutil.rmtree(run_dir, ignore_errors=True)
    (run_dir / "logs").mkdir(parents=True)
    configs: list[tuple[str, dict[str, str], int]] = [
        ("memos off, 1 process", {"REGISTRY_PROOF_CACHE_SIZE": "0"}, 1),
        ("memos on, 1 process", {}, 1),
    ]
    if args.processes > 1:
        configs.append((f"memos on, {args.processes} processes", {}, args.processes))
    if args.profile:
        configs = [("memos on, 1 process, sampled by py-spy", {}, 1)]
    with start_infra(run_dir, fsync=False) as handle:
        infra = handle.infra
        issuer = DevIssuer(run_dir / "auth")
        port = free_port()
        public = f"http://127.0.0.1:{port}"
        base_env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "MC_FAULTS")
        }
        base_env.update(issuer.env())
        base_env.update(infra.kafka_env())
        base_env.update(
            {
                "REGISTRY_DATABASE_URL": infra.create_database("registry"),
                "REGISTRY_PUBLIC_BASE_URL": public,
                "REGISTRY_EVIDENCE_BASE_URL": "http://127.0.0.1:8001",
                # A load generator on loopback, not the callers the limit protects.
                "REGISTRY_RATE_LIMIT_PER_SECOND": "1000000",
                "REGISTRY_RATE_LIMIT_BURST": "1000000",
                "MC_RUN_DIR": str(run_dir),
                "MC_SERVICE": "registry",
                "LOG_LEVEL": "WARNING",
                "PYTHONUNBUFFERED": "1",
            }
        )
        registry = Registry(run_dir, base_env, public)
        registry.migrate()
        settings = kafka.KafkaSettings(
            bootstrap_servers=infra.kafka_bootstrap, enable_idempotence=infra.kafka_idempotence
        )
        print(
            f"verification benchmark ({infra.kind}): awarding {args.credentials} credentials",
            flush=True,
        )
        registry.start([port], {}, api_only=False)
        try:
            t = time.monotonic()
            documents = asyncio.run(seed(public, issuer, settings, args.credentials + 1))
            revoked_id, revoked = documents.pop()
            asyncio.run(revoke(public, issuer, revoked_id))
            seeding = time.monotonic() - t
        finally:
            registry.stop()
        results = []
        for label, extra, processes in configs:
            print(f"  {label}:", flush=True)
            ports = [port, *(free_port() for _ in range(processes - 1))]
            registry.start(ports, extra, api_only=True)
            spy = sample(registry, OUT / "profile.raw") if args.profile else None
            try:
                phases = asyncio.run(
                    measure_config(
                        registry,
                        documents,
                        revoked,
                        args.seconds,
                        args.concurrency,
                        args.phase,
                        args.batch,
                    )
                )
            finally:
                if spy is not None:
                    spy.send_signal(signal.SIGINT)
                    spy.wait(60)
                registry.stop()
            results.append({"config": label, "processes": processes, "phases": phases})
    if args.profile:
        write_profile(OUT / "profile.raw", OUT / "profile.txt")
    shutil.rmtree(run_dir, ignore_errors=True)
    return {
        "when": benchmarking.now(),
        "machine": benchmarking.machine(infra.kind),
        "credentials": len(documents),
        "seconds_per_phase": args.seconds,
        "concurrency": args.concurrency,
        "seeding_seconds": round(seeding, 1),
        "target_per_s": TARGET_PER_S,
        "configs": results,
    }


def sample(registry: Registry, raw: Path) -> subprocess.Popen[bytes]:
    """py-spy (``pip install py-spy``, on PATH) sampling the registry process, every thread,
    into collapsed stacks."""
    spy = shutil.which("py-spy")
    if spy is None:
        raise SystemExit("--profile needs py-spy on PATH (pip install py-spy)")
    raw.parent.mkdir(parents=True, exist_ok=True)
    popen = subprocess.Popen(  # noqa: S603 (a profiler on our own process)
        [
            spy,
            "record",
            "--pid",
            str(registry.procs[0][0].pid),
            "--format",
            "raw",
            "--rate",
            "200",
            "--threads",
            "--output",
            str(raw),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1)
    return popen


def write_profile(raw: Path, text: Path, top: int = 45) -> None:
    """Per function: share of samples where it runs (self) and where it is on the stack
    (inclusive), from py-spy's collapsed stacks, all threads and phases together."""
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [
            f.split(" (")[0] + " (" + f.split(" (")[-1].split(":")[0].rsplit("/", 1)[-1] + ")"
            for f in stack.split(";")[1:]
        ]
        if frames:
            own[frames[-1]] = own.get(frames[-1], 0) + count
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + count
    lines = [f"{total} samples (all threads, idle included)", "", "self %:"]
    for name, count in sorted(own.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"  {100 * count / total:5.1f}  {name}")
    lines += ["", "inclusive %:"]
    for name, count in sorted(inclusive.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"  {100 * count / total:5.1f}  {name}")
    text.write_text("\n".join(lines) + "\n")
    print(f"profile of the registry process: {text}", flush=True)


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Registry verification benchmark",
        "",
        f"{report['when']}; {report['machine']['cpus']} CPUs, Python "
        f"{report['machine']['python']}, {report['machine']['infra']}.",
        f"{report['credentials']} real signed credentials (award path), "
        f"{report['concurrency']} concurrent keep-alive connections from one client process, "
        f"{report['seconds_per_phase']} s per phase (cold: each credential once). The load "
        "generator shares the machine's cores with the registry; 'per server CPU-s' is what "
        "one fully used core of the registry does. Latencies are per request (a batch "
        "request carries several verifications).",
        "",
        "| configuration | phase | requests | verifications (or GETs)/s | p50 ms | p99 ms "
        "| server CPU ms each | per server CPU-s | errors |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for config in report["configs"]:
        for p in config["phases"]:
            lines.append(
                f"| {config['config']} | {p['label']} | {p['requests']} | {p['per_s']} | "
                f"{p['p50_ms']} | {p['p99_ms']} | {p['server_cpu_ms_per_request']} | "
                f"{p['per_server_cpu_second']} | {p['errors']} |"
            )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    parser.add_argument("--credentials", type=int, default=400, help="distinct credentials")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent requests")
    parser.add_argument(
        "--processes", type=int, default=2, help="API processes in the last configuration"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="only memos on, 1 process, under cProfile; writes profile.txt beside the report",
    )
    parser.add_argument(
        "--batch", type=int, default=50, help="credentials per request in the batch phase"
    )
    parser.add_argument("--phase", default="", help="only the phases whose label contains this")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    report = run(args)
    benchmarking.write_report(args.out, report, markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
