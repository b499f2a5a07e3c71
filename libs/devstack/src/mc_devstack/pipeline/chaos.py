"""``make chaos``: thousands of awards while every service's API, relay and consumer
process is killed with SIGKILL at random moments and restarted; then the run is reconciled from
the public APIs and the streams, the figures printed, and the exit code is 1 on any mismatch.

    python -m mc_devstack.pipeline.chaos --awards 5000 --kills 50

Each service runs as three processes (``serve --no-relay --no-consumers``, ``relay``,
``consume``): twelve targets. Kills are spread over the run (a shuffled round over all twelve,
then random picks), each followed by a restart after a random pause. ``--fault-probability``
also arms the relay's and consumer's crash points (``MC_FAULTS``), which hit the narrowest
windows (published but not marked; committed but offset not committed). ``--db-crashes``
times during the awards (default 2, spread evenly) the embedded PostgreSQL is shut down
immediately (``pg_ctl stop -m immediate``: every connection cut, no checkpoint), left down
``--db-down`` seconds and started again, recovering from its WAL: every service, relay and
consumer loses its database at once. (An external database is never touched, and one in a
container is not restarted; the embedded broker keeps its topics in memory only, so it is not
restarted either: a restart would lose them, which a real broker never does.) A share of the
educators is asked for a revision first; a share of the credentials is revoked, under the same
fire.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shutil
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mc_devstack.devinfra.common import find_repo_root, run_root
from mc_devstack.pipeline.cluster import Cluster
from mc_devstack.pipeline.driver import Driver, DriverError, Journey, World, WorldSpec
from mc_devstack.pipeline.reconcile import CREDITS_PATH, Reconciliation, reconcile, settled
from mc_devstack.pipeline.streams import StreamWatcher
from mc_events.kafka import KafkaSettings

ASSUMED_AWARDS_PER_S = 3.0


@dataclass
class ChaosOptions:
    awards: int = 5000
    kills: int = 50
    concurrency: int = 24
    revision_share: float = 0.1
    revocation_share: float = 0.05
    fault_probability: float = 0.0
    db_crashes: int = 2
    db_down: float = 2.0
    restart_pause: tuple[float, float] = (0.1, 1.5)
    settle_timeout: float = 600.0
    step_timeout: float = 300.0
    seed: int | None = None
    run_dir: Path | None = None


@dataclass
class ChaosResult:
    reconciliation: Reconciliation
    kills: dict[str, int] = field(default_factory=dict)
    crashes: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    requests: int = 0
    retries: int = 0
    database_crashes: int = 0
    database_down: float = 0.0
    database_restartable: bool = True

    @property
    def disruptions(self) -> int:
        return sum(self.kills.values()) + sum(self.crashes.values())

    def render(self) -> str:
        lines = ["chaos run:"]
        lines.append(
            f"  SIGKILLs sent {sum(self.kills.values())}, crash points hit "
            f"{sum(self.crashes.values())}, processes disrupted "
            f"{sum(1 for n in self.kills if self.kills[n] + self.crashes.get(n, 0))}"
            f"/{len(self.kills)}"
        )
        lines.append(
            "  per process: "
            + ", ".join(f"{n} {self.kills[n]}+{self.crashes.get(n, 0)}" for n in sorted(self.kills))
        )
        if not self.database_restartable:
            lines.append("  database: not restarted (external, or in a container)")
        elif self.database_crashes:
            lines.append(
                f"  database: {self.database_crashes} immediate shutdowns, down "
                f"{self.database_down:.1f} s each, restarted with crash recovery"
            )
        lines.append(
            f"  HTTP requests {self.requests} ({self.retries} retried); "
            + ", ".join(f"{k} {v:.1f} s" for k, v in self.seconds.items())
        )
        lines.append(self.reconciliation.render())
        return "\n".join(lines)


class Killer:
    """Kills random processes of the cluster at random moments and restarts them."""

    def __init__(
        self,
        cluster: Cluster,
        target: int,
        rng: random.Random,
        pause: tuple[float, float],
        say: Callable[[str], None],
    ) -> None:
        self.cluster = cluster
        self.target = target
        self.rng = rng
        self.pause = pause
        self.say = say
        self.sent = 0
        self.gap = 2.0
        self._order: list[str] = []

    def _next_victim(self) -> str:
        """Rounds over every process, in random order within a round but alternating roles
        (API, relay, consumer), so that even a few kills hit each kind of process."""
        if not self._order:
            by_role: dict[str, list[str]] = {}
            for proc in self.cluster.procs.values():
                by_role.setdefault(proc.role, []).append(proc.name)
            for names in by_role.values():
                self.rng.shuffle(names)
            roles = list(by_role)
            self.rng.shuffle(roles)
            rounds = max(len(names) for names in by_role.values())
            self._order = [
                by_role[role][n] for n in range(rounds) for role in roles if n < len(by_role[role])
            ]
            self._order.reverse()
        return self._order.pop()

    async def run(self, stop: asyncio.Event) -> None:
        """Kill until the target is reached (faster once ``stop`` is set), then only restart
        crashed processes until ``stop``."""
        while self.sent < self.target:
            gap = 0.5 if stop.is_set() else self.gap
            await self._restart_for(self.rng.uniform(0.3, 1.7) * gap)
            victim = self._next_victim()
            await asyncio.to_thread(self.cluster.kill, victim)
            self.sent += 1
            await asyncio.sleep(self.rng.uniform(*self.pause))
            restarted = await asyncio.to_thread(self.cluster.restart_dead)
            self.say(f"kill {self.sent}/{self.target}: {victim}; restarted {', '.join(restarted)}")
        while not stop.is_set():
            await self._restart_for(0.5)
        await asyncio.to_thread(self.cluster.restart_dead)

    async def _restart_for(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while True:
            await asyncio.to_thread(self.cluster.restart_dead)
            left = deadline - time.monotonic()
            if left <= 0:
                return
            await asyncio.sleep(min(0.5, left))


async def drive(
    cluster: Cluster,
    options: ChaosOptions,
    *,
    say: Callable[[str], None] = print,
    progress: Callable[[int, int], None] | None = None,
) -> ChaosResult:
    """The chaos run on a started (split) cluster."""
    rng = random.Random(options.seed)  # noqa: S311 (chaos, not secrets)
    assert cluster.issuer is not None
    settings = KafkaSettings(
        bootstrap_servers=cluster.infra.kafka_bootstrap,
        enable_idempotence=cluster.infra.kafka_idempotence,
        fetch_max_wait_ms=50,
    )
    seconds: dict[str, float] = {}
    driver = Driver(cluster.urls, cluster.issuer, retry_for=options.step_timeout)
    watcher = StreamWatcher(settings)
    try:
        started = time.monotonic()
        spec = WorldSpec(
            districts=max(2, options.awards // 500),
            educators=options.awards,
            assessors=max(4, options.awards // 150),
            assessor_capacity=500,
        )
        world = await driver.seed(spec, progress=say)
        seconds["seed"] = time.monotonic() - started
        # Renewal credits are reconciled where the registry keeps the credit ledger.
        credits = CREDITS_PATH in await driver.openapi_paths("registry")
        await watcher.start()

        killer = Killer(cluster, options.kills, rng, options.restart_pause, say)
        # Until the real rate is known, assume a few awards per second on a small machine.
        killer.gap = max(1.0, options.awards / ASSUMED_AWARDS_PER_S / max(options.kills, 1))
        stop_killing = asyncio.Event()
        killing = asyncio.create_task(killer.run(stop_killing), name="killer")
        journeys = [Journey(e) for e in world.educators]
        revisions = {
            j.educator.educator_id for j in journeys if rng.random() < options.revision_share
        }
        done = 0
        failures: list[str] = []
        gate = asyncio.Semaphore(options.concurrency)
        t0 = time.monotonic()
        crash_at = [
            len(journeys) * k // (options.db_crashes + 1) for k in range(1, options.db_crashes + 1)
        ]
        crashes: list[asyncio.Task[bool]] = []

        async def crash_database() -> bool:
            say(f"database: immediate shutdown, down {options.db_down:.1f} s")
            restarted = await asyncio.to_thread(cluster.crash_database, options.db_down)
            say("database: started again" if restarted else "database: cannot be restarted")
            return restarted

        async def one(journey: Journey) -> None:
            nonlocal done
            async with gate:
                try:
                    await driver.earn(
                        world,
                        journey,
                        revision=journey.educator.educator_id in revisions,
                        within=options.step_timeout,
                    )
                except DriverError as exc:  # reconciled as an educator not driven to a pass
                    failures.append(f"{journey.educator.educator_id}: {exc}")
            done += 1
            if crash_at and done >= crash_at[0]:
                crash_at.pop(0)
                crashes.append(asyncio.create_task(crash_database(), name="database crash"))
            if progress is not None:
                progress(done, len(journeys))
            if done % max(1, len(journeys) // 20) == 0:
                say(f"{done}/{len(journeys)} awards, {killer.sent} kills")
            # Spread the kills over the expected length of the run, once the rate is known.
            if done >= max(10, len(journeys) // 50):
                elapsed = time.monotonic() - t0
                left = max(options.kills - killer.sent, 1)
                killer.gap = max(0.3, elapsed * (len(journeys) - done) / done / left)

        await asyncio.gather(*(one(j) for j in journeys))
        restarted = await asyncio.gather(*crashes)
        seconds["awards"] = time.monotonic() - t0

        # Revocations, still under fire: a share of the credentials the stream shows.
        t1 = time.monotonic()
        # A dead letter already fails the run: reconcile then rather than wait in vain.
        with contextlib.suppress(TimeoutError):
            await watcher.wait_for(
                lambda ix: (
                    ix.dead_letters or all(ix.awards.get(j.enrollment_id or "") for j in journeys)
                ),
                options.settle_timeout,
                "a credential for every pass",
            )
        awarded = [
            awards[0].credential_id
            for j in journeys
            if (awards := watcher.index.awards.get(j.enrollment_id or ""))
        ]
        revoked = set(rng.sample(awarded, int(len(awarded) * options.revocation_share)))
        gate2 = asyncio.Semaphore(options.concurrency)

        async def revoke(credential_id: str) -> None:
            async with gate2:
                await driver.revoke(credential_id)

        await asyncio.gather(*(revoke(c) for c in sorted(revoked)))
        stop_killing.set()
        await killing
        seconds["revocations"] = time.monotonic() - t1

        t2 = time.monotonic()
        await asyncio.to_thread(cluster.restart_dead)
        await asyncio.to_thread(cluster.wait_ready, 120.0)
        with contextlib.suppress(TimeoutError):
            await watcher.wait_for(
                lambda ix: ix.dead_letters or settled(world, ix, revoked, credits=credits),
                options.settle_timeout,
                "every effect of the run",
            )
        batches = await payroll_batches(driver, world)
        with contextlib.suppress(TimeoutError):
            await watcher.wait_for(
                lambda ix: all(b["batch_id"] in ix.batches for b in batches.values()),
                120,
                "the payroll batches",
            )
        seconds["settle"] = time.monotonic() - t2
        result = await reconcile(
            driver,
            world,
            journeys,
            watcher.index,
            revoked,
            credits=credits,
            payroll_batches=batches,
        )
        if failures:
            result.figures["journeys that failed (first 3)"] = failures[:3]
        seconds["total"] = time.monotonic() - started
        return ChaosResult(
            reconciliation=result,
            kills={p.name: p.kills for p in cluster.procs.values()},
            crashes={p.name: p.crashes for p in cluster.procs.values()},
            seconds=seconds,
            requests=driver.requests,
            retries=driver.retries,
            database_crashes=sum(restarted),
            database_down=options.db_down,
            database_restartable=all(restarted),
        )
    finally:
        await watcher.stop()
        await driver.aclose()


async def payroll_batches(driver: Driver, world: World) -> dict[str, dict[str, Any]]:
    """Each district's payroll export of a pay period covering the whole run."""
    today = datetime.now(UTC).date()
    return {
        district: await driver.payroll_export(
            district,
            f"CHAOS-{world.tag}",
            str(today - timedelta(days=13)),
            str(today + timedelta(days=1)),
        )
        for district in world.districts
    }


def cluster_for(options: ChaosOptions, run_dir: Path) -> Cluster:
    p = options.fault_probability
    faults = (
        {"relay": f"relay.after_publish%{p}", "consume": f"consumer.after_db_commit%{p}"}
        if p > 0
        else {}
    )
    return Cluster(run_dir, split=True, faults=faults, migrate_on_restart=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make chaos", description=__doc__.split("\n\n")[0])
    parser.add_argument("--awards", type=int, default=5000)
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=24)
    parser.add_argument("--revision-share", type=float, default=0.1)
    parser.add_argument("--revocation-share", type=float, default=0.05)
    parser.add_argument("--fault-probability", type=float, default=0.0)
    parser.add_argument(
        "--db-crashes", type=int, default=2, help="immediate database shutdowns during the run"
    )
    parser.add_argument("--db-down", type=float, default=2.0, help="seconds the database is down")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--run-dir", type=Path, help="kept (default: .run/chaos-<pid>, removed)")
    args = parser.parse_args(argv)
    options = ChaosOptions(
        awards=args.awards,
        kills=args.kills,
        concurrency=args.concurrency,
        revision_share=args.revision_share,
        revocation_share=args.revocation_share,
        fault_probability=args.fault_probability,
        db_crashes=args.db_crashes,
        db_down=args.db_down,
        seed=args.seed,
    )
    from rich.progress import Progress

    def on_term(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt  # unwinds the ExitStack: the cluster is stopped

    signal.signal(signal.SIGTERM, on_term)

    with contextlib.ExitStack() as stack:
        run_dir = args.run_dir or run_root(find_repo_root()) / f"chaos-{os.getpid()}"
        if not args.run_dir:
            stack.callback(shutil.rmtree, run_dir, True)
        print(f"starting the cluster (12 processes) in {run_dir} ...", flush=True)
        cluster = stack.enter_context(cluster_for(options, run_dir))
        bar = stack.enter_context(Progress(transient=False))
        task = bar.add_task("awards", total=options.awards)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done)

        result = asyncio.run(drive(cluster, options, say=bar.console.print, progress=advance))
        bar.stop()
        print(result.render(), flush=True)
        enough = result.disruptions >= options.kills
        if not enough:
            print(f"only {result.disruptions} disruptions (wanted {options.kills})")
        return 0 if result.reconciliation.ok and enough else 1
    return 1


if __name__ == "__main__":
    sys.exit(main())
