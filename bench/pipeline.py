"""The whole pipeline under load: the four services as separate processes (each with
its relay and consumers, as ``make run`` runs them) on the real broker and databases.

    make bench     (or: .venv/bin/python bench/pipeline.py [--scale 0.5])

Measures the path "assessor decision → stipend on the payments stream": educators are first
taken, over the public APIs, to a submission assigned to an assessor (not measured); then
assessors post passing scores at stepped rates, and each award's latency runs from the scoring
call's answer (the decision committed) to the ``StipendApproved`` record's timestamp on
``compensation.payments`` (when compensation's relay put it there, after review → registry →
compensation, two relays and two consumers on the way; the benchmark's own reader of the
streams polls lazily and does not enter the figure). Reports, from one run:

- sustained awards per second end to end (the highest step the pipeline kept up with: at least
  90 % of the offered rate and p99 under 2 s) and the burst throughput (all at once);
- the backfill rate: decisions piled up while the registry and compensation were down, then
  both restarted; how fast the backlog drains to the payments stream (the real peak load:
  replays, backfills and recoveries, not live scoring);
- p50 / p99 / max latency at a fixed moderate rate, and what the offered 50/s and 100/s steps
  do to it;
- CPU seconds and peak memory (PSS) per process (services, broker, PostgreSQL with its backends),
  and CPU milliseconds per award for each (where the cores go);
- raw limits measured in the same run: PostgreSQL single-row commits per second (1 and 8
  clients) and broker produce / consume rates, with our figures as ratios of them.

Writes ``.run/bench-pipeline/report.json``, ``summary.md`` and ``plot.png`` (git-ignored).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import psutil

from mc_devstack import benchmarking
from mc_devstack.pipeline.cluster import Cluster
from mc_devstack.pipeline.driver import RUBRIC_PASS, Driver, Journey, World, WorldSpec
from mc_devstack.pipeline.streams import StreamWatcher
from mc_events import kafka
from mc_events.db import plain_url
from mc_events.topics import Topic, ensure_topics

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / ".run" / "bench-pipeline"


# -- per-process CPU and memory ----------------------------------------------------------------


class Sampler:
    """CPU seconds and peak RSS of process groups (a process and its children), sampled."""

    def __init__(self, pids: dict[str, int], interval: float = 0.5) -> None:
        self.groups = {name: psutil.Process(pid) for name, pid in pids.items()}
        self.interval = interval
        self.cpu_first: dict[tuple[str, int], float] = {}
        self.cpu_last: dict[tuple[str, int], float] = {}
        self.peak_rss: dict[str, int] = dict.fromkeys(self.groups, 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        for name, root in self.groups.items():
            try:
                members = [root, *root.children(recursive=True)]
            except psutil.Error:
                continue
            rss = 0
            for proc in members:
                try:
                    cpu = proc.cpu_times()
                    # PSS: shared pages (PostgreSQL's shared buffers) split between the
                    # processes sharing them, so a server's backends add up to its real use.
                    rss += getattr(proc.memory_full_info(), "pss", 0) or proc.memory_info().rss
                except psutil.Error:
                    continue
                key = (name, proc.pid)
                total = cpu.user + cpu.system
                self.cpu_first.setdefault(key, total)
                self.cpu_last[key] = total
            self.peak_rss[name] = max(self.peak_rss[name], rss)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def start(self) -> None:
        self._sample()
        self._thread.start()

    def follow(self, pids: dict[str, int]) -> None:
        """Processes restarted under the same names: sample the new ones from now on, with
        their CPU counted from their start (what the killed ones used stays counted)."""
        for name, pid in pids.items():
            if name in self.groups and self.groups[name].pid != pid:
                self.groups[name] = psutil.Process(pid)
                self.cpu_first[(name, pid)] = 0.0

    def stop(self) -> dict[str, dict[str, float]]:
        self._stop.set()
        self._thread.join()
        self._sample()
        cpu: dict[str, float] = dict.fromkeys(self.groups, 0.0)
        for (name, _pid), last in self.cpu_last.items():
            cpu[name] += last - self.cpu_first[(name, _pid)]
        return {
            name: {"cpu_seconds": round(cpu[name], 2), "peak_pss_mib": self.peak_rss[name] / 2**20}
            for name in self.groups
        }


# -- the measured path -------------------------------------------------------------------------


@dataclass
class Staged:
    journey: Journey
    assignment_id: str
    assessor_id: str
    decided_at: float | None = None


@dataclass
class Step:
    label: str
    offered_per_s: float | None  # None: everything at once
    count: int
    decisions_per_s: float = 0.0
    awards_per_s: float = 0.0
    completed: int = 0
    latencies_ms: list[float] = field(default_factory=list)

    def percentile(self, q: float) -> float | None:
        if not self.latencies_ms:
            return None
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]

    def summary(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "offered_per_s": self.offered_per_s,
            "count": self.count,
            "completed": self.completed,
            "decisions_per_s": round(self.decisions_per_s, 2),
            "awards_per_s": round(self.awards_per_s, 2),
            "p50_ms": _r(self.percentile(0.50)),
            "p99_ms": _r(self.percentile(0.99)),
            "max_ms": _r(max(self.latencies_ms) if self.latencies_ms else None),
        }


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


async def stage(driver: Driver, world: World, educators: int, concurrency: int) -> list[Staged]:
    """Take educators to a submission assigned to an assessor (not measured)."""
    gate = asyncio.Semaphore(concurrency)
    staged: list[Staged] = []

    async def one(journey: Journey) -> None:
        async with gate:
            submission = await driver.to_submitted(world, journey)
            assignment_id, assessor_id = await driver.assignment_of(submission, 120)
            staged.append(Staged(journey, assignment_id, assessor_id))

    await asyncio.gather(*(one(Journey(e)) for e in world.educators[:educators]))
    return staged


def stipend_written(watcher: StreamWatcher, job: Staged) -> float | None:
    """When the stipend of ``job``'s award was put on the payments stream (its record's
    timestamp, seconds since the epoch), or None. The reader's own polling does not enter the
    figure, so it can poll lazily and leave the broker's CPU to the pipeline."""
    awards = watcher.index.awards.get(job.journey.enrollment_id or "")
    if not awards:
        return None
    stipends = watcher.index.stipends.get(awards[0].credential_id)
    return watcher.index.written_at(stipends[0]) if stipends else None


async def every_stipend(
    watcher: StreamWatcher, step: Step, jobs: list[Staged], settle: float
) -> None:
    """Until the stipend of each of ``jobs`` is on the stream, or ``settle`` seconds (said)."""
    try:
        await watcher.wait_for(
            lambda _ix: all(stipend_written(watcher, j) is not None for j in jobs),
            settle,
            step.label,
        )
    except TimeoutError:
        print(f"  {step.label}: not every stipend arrived within {settle:.0f} s", flush=True)


async def run_step(
    driver: Driver, watcher: StreamWatcher, step: Step, jobs: list[Staged], settle: float
) -> None:
    """Post passing scores at the step's rate; wait for every stipend; figures."""

    async def decide(job: Staged) -> None:
        await driver.score(job.journey, job.assignment_id, job.assessor_id, RUBRIC_PASS)
        job.decided_at = time.time()

    started = time.time()
    tasks = []
    for n, job in enumerate(jobs):
        if step.offered_per_s:
            delay = started + n / step.offered_per_s - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(decide(job)))
    await asyncio.gather(*tasks)
    last_decision = max(j.decided_at or started for j in jobs)
    step.decisions_per_s = len(jobs) / max(last_decision - started, 1e-3)

    await every_stipend(watcher, step, jobs, settle)
    arrivals = [(j, seen) for j in jobs if (seen := stipend_written(watcher, j)) is not None]
    step.completed = len(arrivals)
    step.latencies_ms = [
        (seen - (job.decided_at or seen)) * 1000 for job, seen in arrivals if job.decided_at
    ]
    if arrivals:
        step.awards_per_s = len(arrivals) / max(max(s for _, s in arrivals) - started, 1e-3)


async def run_drain(
    cluster: Cluster,
    driver: Driver,
    watcher: StreamWatcher,
    step: Step,
    jobs: list[Staged],
    settle: float,
    sampler: Sampler,
) -> None:
    """Backfill: stop the registry and compensation, post every decision, restart them and
    time the backlog's way to the payments stream (first to last stipend)."""
    for name in ("registry", "compensation"):
        cluster.kill(name)
    gate = asyncio.Semaphore(16)

    async def decide(job: Staged) -> None:
        async with gate:
            await driver.score(job.journey, job.assignment_id, job.assessor_id, RUBRIC_PASS)
            job.decided_at = time.time()

    started = time.time()
    await asyncio.gather(*(decide(job) for job in jobs))
    step.decisions_per_s = len(jobs) / max(time.time() - started, 1e-3)
    await asyncio.sleep(2.0)  # let review's relay put the last decisions on the stream
    restarted = time.time()
    await asyncio.to_thread(cluster.restart_dead)
    sampler.follow(cluster.pids())
    await asyncio.to_thread(cluster.wait_ready, 120.0)

    await every_stipend(watcher, step, jobs, settle)
    seen = sorted(s for j in jobs if (s := stipend_written(watcher, j)) is not None)
    step.completed = len(seen)
    # From the registry's first award (it is consuming again) to the last stipend: the
    # drain, without the processes' start-up.
    first_award = min(
        (
            at
            for j in jobs
            for award in watcher.index.awards.get(j.journey.enrollment_id or "", [])[:1]
            if (at := watcher.index.written_at(award)) is not None
        ),
        default=None,
    )
    if seen and first_award is not None:
        step.awards_per_s = len(seen) / max(seen[-1] - first_award, 1e-3)
    step.latencies_ms = [(s - restarted) * 1000 for s in seen]


# -- raw limits, same machine, same run --------------------------------------------------------


async def raw_limits(cluster: Cluster) -> dict[str, float]:
    url = cluster.infra.create_database(f"bench_raw_{uuid.uuid4().hex[:6]}")
    conn = await asyncpg.connect(plain_url(url))
    await conn.execute("CREATE TABLE raw_commit (id bigserial primary key, v int)")
    n = 2000
    start = time.perf_counter()
    for i in range(n):
        await conn.execute("INSERT INTO raw_commit (v) VALUES ($1)", i)
    one_client = n / (time.perf_counter() - start)
    await conn.close()
    pool = await asyncpg.create_pool(plain_url(url), min_size=8, max_size=8)

    async def writer(k: int) -> None:
        for i in range(n // 8):
            await pool.execute("INSERT INTO raw_commit (v) VALUES ($1)", k * n + i)

    start = time.perf_counter()
    await asyncio.gather(*(writer(k) for k in range(8)))
    eight_clients = n / (time.perf_counter() - start)
    await pool.close()

    settings = kafka.KafkaSettings(
        bootstrap_servers=cluster.infra.kafka_bootstrap,
        enable_idempotence=cluster.infra.kafka_idempotence,
        fetch_max_wait_ms=10,
    )
    topic = f"bench.raw-{uuid.uuid4().hex[:6]}"
    admin = kafka.admin(settings)
    await admin.start()
    await ensure_topics(admin, [Topic(topic, 12, key="k", description="raw limit")])
    await admin.close()
    messages = 20_000
    payload = json.dumps({"pad": "x" * 480}).encode()
    producer = kafka.producer(settings)
    await producer.start()
    start = time.perf_counter()
    futures = [
        await producer.send(topic, payload, key=f"k{i % 1000}".encode()) for i in range(messages)
    ]
    await asyncio.gather(*futures)
    produce = messages / (time.perf_counter() - start)
    await producer.stop()
    consumer = kafka.consumer(settings, topic, group_id=f"bench-raw-{uuid.uuid4().hex[:6]}")
    await consumer.start()
    start = time.perf_counter()
    seen = 0
    deadline = time.monotonic() + 120
    while seen < messages and time.monotonic() < deadline:
        batch = await consumer.getmany(timeout_ms=200, max_records=5000)
        seen += sum(len(records) for records in batch.values())
    consume = seen / (time.perf_counter() - start)
    await consumer.stop()
    return {
        "postgres_single_row_commits_per_s_1_client": round(one_client, 1),
        "postgres_single_row_commits_per_s_8_clients": round(eight_clients, 1),
        "broker_produce_msgs_per_s": round(produce, 1),
        "broker_consume_msgs_per_s": round(consume, 1),
    }


# -- the run -----------------------------------------------------------------------------------


async def measure(cluster: Cluster, scale: float) -> dict[str, Any]:
    assert cluster.issuer is not None
    moderate = Step("latency at a fixed moderate rate", 4.0, max(10, int(80 * scale)))
    steps = [
        Step(f"step {rate:g}/s", rate, max(5, int(rate * seconds * scale)))
        for rate, seconds in ((2, 8), (5, 8), (10, 8), (20, 8), (50, 4), (100, 3))
    ]
    burst = Step("burst (all at once)", None, max(20, int(200 * scale)))
    drain = Step("backfill (backlog after a restart)", None, max(20, int(400 * scale)))
    everything = [moderate, *steps, burst, drain]
    total = sum(s.count for s in everything)
    settings = kafka.KafkaSettings(
        bootstrap_servers=cluster.infra.kafka_bootstrap,
        enable_idempotence=cluster.infra.kafka_idempotence,
        # Latencies come from the records' timestamps, not from when this reader fetches
        # them: it polls lazily (the embedded broker answers every poll after this wait, and
        # a reader of 4 topics and the dead-letter topics polling every 10 ms cost it about a
        # third of a core).
        fetch_max_wait_ms=250,
    )
    async with Driver(cluster.urls, cluster.issuer, retry_for=60) as driver:
        t = time.monotonic()
        world = await driver.seed(
            WorldSpec(districts=4, educators=total, assessors=max(4, total // 200 + 1))
        )
        async with StreamWatcher(settings) as watcher:
            staged = await stage(driver, world, total, concurrency=16)
            print(f"staged {len(staged)} submissions in {time.monotonic() - t:.0f} s", flush=True)
            idle = Sampler(cluster.pids())
            idle.start()
            await asyncio.sleep(10.0)
            idle_cores = {n: round(p["cpu_seconds"] / 10.0, 3) for n, p in idle.stop().items()}
            print(f"idle CPU (cores busy): {json.dumps(idle_cores)}", flush=True)
            sampler = Sampler(cluster.pids())
            sampler.start()
            offset = 0
            for step in everything:
                jobs = staged[offset : offset + step.count]
                offset += step.count
                if step is drain:
                    await run_drain(cluster, driver, watcher, step, jobs, 300, sampler)
                else:
                    await run_step(driver, watcher, step, jobs, settle=180)
                print(f"  {json.dumps(step.summary())}", flush=True)
            processes = sampler.stop()
    limits = await raw_limits(cluster)
    kept_up = [
        s
        for s in steps
        if s.offered_per_s
        and s.completed == s.count
        and s.awards_per_s >= 0.9 * s.offered_per_s
        and (s.percentile(0.99) or math.inf) < 2000
    ]
    sustained = max((s.awards_per_s for s in kept_up), default=0.0)
    awards = sum(s.completed for s in everything)
    for p in processes.values():
        p["cpu_ms_per_award"] = round(1000 * p["cpu_seconds"] / max(awards, 1), 1)
    at_100 = steps[-1]
    return {
        "when": benchmarking.now(),
        "machine": benchmarking.machine(cluster.infra.kind),
        "path": "assessor decision (score answered) -> StipendApproved on compensation.payments",
        "sustained_awards_per_s": round(sustained, 2),
        "burst_awards_per_s": round(burst.awards_per_s, 2),
        "backfill_awards_per_s": round(drain.awards_per_s, 2),
        "awards_measured": awards,
        "latency_at_moderate_rate": moderate.summary(),
        "latency_at_100_offered": at_100.summary(),
        "steps": [s.summary() for s in everything],
        "processes": processes,
        "idle_cores_busy": idle_cores,
        "raw_limits": limits,
        "ratios": {
            "sustained_awards_per_pg_commit_1_client": _ratio(
                sustained, limits["postgres_single_row_commits_per_s_1_client"]
            ),
            "burst_awards_per_pg_commit_8_clients": _ratio(
                burst.awards_per_s, limits["postgres_single_row_commits_per_s_8_clients"]
            ),
            "burst_awards_per_broker_produce": _ratio(
                burst.awards_per_s, limits["broker_produce_msgs_per_s"]
            ),
        },
    }


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 5) if b else None


def markdown(report: dict[str, Any]) -> str:
    lat = report["latency_at_moderate_rate"]
    hi = report["latency_at_100_offered"]
    lines = [
        "# Pipeline benchmark",
        "",
        f"{report['when']}; {report['machine']['cpus']} CPUs, Python "
        f"{report['machine']['python']}, {report['machine']['infra']}.",
        f"Path: {report['path']}.",
        "",
        f"- **sustained end-to-end awards/s: {report['sustained_awards_per_s']}**; "
        f"burst: {report['burst_awards_per_s']}",
        f"- backfill (backlog drained after the registry and compensation restart): "
        f"**{report['backfill_awards_per_s']} awards/s**",
        f"- latency at {lat['offered_per_s']}/s ({lat['completed']} awards): p50 "
        f"{lat['p50_ms']} ms, p99 {lat['p99_ms']} ms, max {lat['max_ms']} ms",
        f"- at 100/s offered (decisions actually posted at {hi['decisions_per_s']}/s): p99 "
        f"{hi['p99_ms']} ms",
        "",
        "| step | offered/s | awards | decisions/s | awards/s | p50 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in report["steps"]:
        lines.append(
            f"| {s['label']} | {s['offered_per_s'] or 'all'} | {s['completed']}/{s['count']} | "
            f"{s['decisions_per_s']} | {s['awards_per_s']} | {s['p50_ms']} | {s['p99_ms']} | "
            f"{s['max_ms']} |"
        )
    lines += [
        "",
        f"CPU seconds, CPU per award ({report['awards_measured']} awards) and peak memory (PSS, "
        "with children) per process, over the measured steps:",
        "",
        "| process | CPU s | CPU ms per award | peak PSS MiB |",
        "|---|---|---|---|",
    ]
    for name, p in sorted(report["processes"].items()):
        lines.append(
            f"| {name} | {p['cpu_seconds']} | {p['cpu_ms_per_award']} | {p['peak_pss_mib']:.0f} |"
        )
    lines += [
        "",
        "Idle CPU before the steps (cores busy with nothing to do: the embedded broker does not "
        "hold a fetch until data arrives, so every consumer's poll is answered after "
        "`fetch_max_wait_ms`; Apache Kafka holds it):",
        "",
        "| process | cores busy when idle |",
        "|---|---|",
    ]
    lines += [f"| {n} | {v} |" for n, v in sorted(report["idle_cores_busy"].items())]
    lines += ["", "| raw limit (same run) | per s |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in report["raw_limits"].items()]
    lines += ["", "| ratio | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in report["ratios"].items()]
    return "\n".join(lines) + "\n"


def plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [s for s in report["steps"] if s["offered_per_s"] and s["label"].startswith("step")]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    offered = [s["offered_per_s"] for s in steps]
    left.plot(offered, offered, "--", color="grey", label="offered")
    left.plot(offered, [s["awards_per_s"] for s in steps], "o-", label="awards/s (stipend seen)")
    left.axhline(report["burst_awards_per_s"], color="tab:red", linestyle=":", label="burst")
    left.set_xlabel("offered decisions/s")
    left.set_ylabel("end-to-end awards/s")
    left.set_title("Throughput")
    left.legend()
    labels = [
        s["label"].replace("latency at a fixed moderate rate", "moderate") for s in report["steps"]
    ]
    x = range(len(labels))
    right.bar([i - 0.2 for i in x], [s["p50_ms"] or 0 for s in report["steps"]], 0.4, label="p50")
    right.bar([i + 0.2 for i in x], [s["p99_ms"] or 0 for s in report["steps"]], 0.4, label="p99")
    right.set_xticks(list(x), labels, rotation=20, fontsize=8)
    right.set_ylabel("ms, decision → stipend on stream")
    right.set_title("Latency")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies the award counts")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        print("pipeline benchmark: starting the four services ...", flush=True)
        with Cluster(Path(tmp)) as cluster:
            report = asyncio.run(measure(cluster, args.scale))
    plot(report, args.out / "plot.png")
    benchmarking.write_report(args.out, report, markdown)
    print(f"and {args.out}/plot.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
