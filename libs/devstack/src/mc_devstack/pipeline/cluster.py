"""The whole system as separate OS processes, for end-to-end tests, chaos runs and benchmarks.

PostgreSQL and the broker come from :func:`mc_devstack.devinfra.infra.start_infra` (the same
resolution as ``make run``: ``DATABASE_URL`` / ``KAFKA_BOOTSTRAP_SERVERS``, else Docker, else
embedded), each service gets its own database, is migrated with ``python -m <service> migrate``
and runs as ``python -m <service> serve`` on a free port, with tokens from a development issuer
in the run folder. ``split=True`` runs each service as three processes instead (``serve
--no-relay --no-consumers``, ``relay``, ``consume``), so a chaos run can kill each one alone.

Every process this class starts is its own process group; :meth:`Cluster.kill` sends SIGKILL
(no clean-up, like an OOM kill), :meth:`Cluster.restart_dead` starts whatever is not running.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from mc_devstack.devinfra.common import free_port, tail, terminate_popens
from mc_devstack.devinfra.infra import Infra, InfraHandle, start_infra
from mc_devstack.devinfra.postgres import EmbeddedPostgres
from mc_platform.auth import DevIssuer

SERVICES: tuple[str, ...] = ("enrollment", "review", "registry", "compensation")

ROLES_SPLIT: tuple[str, ...] = ("api", "relay", "consume")


class ClusterError(RuntimeError):
    """Start-up failed; the message names the process and holds the tail of its log."""


@dataclass
class Proc:
    """One OS process of the cluster: a whole service, or its API, relay or consumer."""

    name: str
    service: str
    role: str  # serve | api | relay | consume
    argv: list[str]
    env: dict[str, str]
    log: Path
    popen: subprocess.Popen[bytes] | None = None
    starts: int = 0
    kills: int = 0
    """SIGKILLs sent by :meth:`Cluster.kill`."""
    crashes: int = 0
    """Exits nobody asked for (an ``MC_FAULTS`` crash point, say), seen by restart_dead."""
    killed_at: float | None = None

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen is not None else None


def _http_ok(url: str, timeout: float = 1.0) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


@dataclass
class Cluster:
    """Infrastructure plus the four services as processes (see module doc)."""

    run_dir: Path
    split: bool = False
    env: Mapping[str, str] | None = None
    """Base environment (default: this process's)."""
    overrides: Mapping[str, str] = field(default_factory=dict)
    """Extra variables for every service process (tuning, ``LOG_LEVEL``...)."""
    faults: Mapping[str, str] = field(default_factory=dict)
    """``MC_FAULTS`` per role (``relay``, ``consume``, ``serve``, ``api``) for chaos runs."""
    fsync: bool = False
    ready_timeout: float = 90.0
    migrate_on_restart: bool = False
    """Run ``migrate`` before a restart, as a deployment would: in a shared working tree the
    code a process restarts with may be newer than the schema it started with."""
    handle: InfraHandle | None = None
    issuer: DevIssuer | None = None
    ports: dict[str, int] = field(default_factory=dict)
    procs: dict[str, Proc] = field(default_factory=dict)
    database_urls: dict[str, str] = field(default_factory=dict)

    # -- life cycle -----------------------------------------------------------------------

    def __enter__(self) -> Cluster:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def infra(self) -> Infra:
        assert self.handle is not None, "cluster not started"
        return self.handle.infra

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    @property
    def urls(self) -> dict[str, str]:
        return {name: self.url(name) for name in SERVICES}

    def start(self) -> None:
        self.run_dir = self.run_dir.resolve()  # PostgreSQL and the services run elsewhere
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "logs").mkdir(exist_ok=True)
        base = dict(os.environ if self.env is None else self.env)
        try:
            self.handle = start_infra(self.run_dir, fsync=self.fsync, env=base)
            self.issuer = DevIssuer(self.run_dir / "auth")
            suffix = uuid.uuid4().hex[:8]
            external = self.infra.kind.postgres == "external"
            for name in SERVICES:
                db = f"{name}_{suffix}" if external else name
                self.database_urls[name] = self.infra.create_database(db)
                self.ports[name] = free_port()
            self._migrate(base, suffix)
            for name in SERVICES:
                for role in ROLES_SPLIT if self.split else ("serve",):
                    proc = self._proc(base, name, role, suffix)
                    self.procs[proc.name] = proc
                    self._spawn(proc)
            self.wait_ready(self.ready_timeout)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Services (SIGTERM, SIGKILL after 5 s), then the broker and the database."""
        terminate_popens(p.popen for p in self.procs.values() if p.popen is not None)
        if self.handle is not None:
            try:
                self.handle.stop()
            finally:
                self.handle = None

    # -- processes ------------------------------------------------------------------------

    def _service_env(self, base: Mapping[str, str], name: str, suffix: str) -> dict[str, str]:
        assert self.issuer is not None
        prefix = name.upper()
        env = {
            k: v
            for k, v in base.items()
            if k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "MC_FAULTS")
        }
        env.update(self.issuer.env())
        env.update(self.infra.kafka_env())
        env.update(
            {
                f"{prefix}_DATABASE_URL": self.database_urls[name],
                f"{prefix}_PORT": str(self.ports[name]),
                # One caller (the driver's admin token) makes thousands of calls: the per-caller
                # limit protects production, not a load generator on loopback.
                f"{prefix}_RATE_LIMIT_PER_SECOND": "1000000",
                f"{prefix}_RATE_LIMIT_BURST": "1000000",
                "MC_RUN_DIR": str(self.run_dir),
                "MC_SERVICE": name,
                "PYTHONUNBUFFERED": "1",
                "LOG_LEVEL": "WARNING",
                # A killed consumer's partitions come back after about a session timeout.
                "KAFKA_SESSION_TIMEOUT_MS": "3000",
                "KAFKA_HEARTBEAT_INTERVAL_MS": "500",
                "ENROLLMENT_EVIDENCE_DIR": str(self.run_dir / "evidence"),
                "REGISTRY_PUBLIC_BASE_URL": self.url("registry"),
                "REGISTRY_EVIDENCE_BASE_URL": self.url("enrollment"),
            }
        )
        if self.infra.kind.kafka == "external":
            # A shared cluster: our own consumer groups, never another run's offsets.
            env[f"{prefix}_CONSUMER_GROUP"] = f"{name}-{suffix}"
        env.update(self.overrides)
        return env

    def _proc(self, base: Mapping[str, str], name: str, role: str, suffix: str) -> Proc:
        command = {
            "serve": ["serve"],
            "api": ["serve", "--no-relay", "--no-consumers"],
            "relay": ["relay"],
            "consume": ["consume"],
        }[role]
        env = self._service_env(base, name, suffix)
        if self.faults.get(role):
            env["MC_FAULTS"] = self.faults[role]
        label = name if role == "serve" else f"{name}-{role}"
        return Proc(
            name=label,
            service=name,
            role=role,
            argv=[sys.executable, "-m", name, *command],
            env=env,
            log=self.run_dir / "logs" / f"{label}.log",
        )

    def _spawn(self, proc: Proc) -> None:
        with proc.log.open("ab") as out:
            out.write(f"--- start {proc.starts + 1}: {' '.join(proc.argv)}\n".encode())
            out.flush()
            proc.popen = subprocess.Popen(  # noqa: S603 (our own service commands)
                proc.argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=proc.env,
                start_new_session=True,
            )
        proc.starts += 1

    def _migrate(self, base: Mapping[str, str], suffix: str) -> None:
        running: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}
        for name in SERVICES:
            log = self.run_dir / "logs" / f"{name}-migrate.log"
            with log.open("wb") as out:
                running[name] = (
                    subprocess.Popen(  # noqa: S603 (our own service commands)
                        [sys.executable, "-m", name, "migrate"],
                        stdin=subprocess.DEVNULL,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        env=self._service_env(base, name, suffix),
                    ),
                    log,
                )
        for name, (popen, log) in running.items():
            try:
                code = popen.wait(180)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait()
                code = -9
            if code != 0:
                raise ClusterError(f"{name} migrate exited {code}:\n{tail(log)}")

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Every API answers ``/readyz`` 200 (and no process has exited)."""
        deadline = time.monotonic() + timeout
        waiting = {p.service for p in self.procs.values() if p.role in ("serve", "api")}
        while waiting:
            for proc in self.procs.values():
                if proc.popen is not None and proc.popen.poll() is not None:
                    raise ClusterError(
                        f"{proc.name} exited with {proc.popen.returncode} during start-up:\n"
                        f"{tail(proc.log)}"
                    )
            for name in sorted(waiting):
                if _http_ok(f"{self.url(name)}/readyz"):
                    waiting.discard(name)
            if waiting and time.monotonic() > deadline:
                raise ClusterError(f"not ready after {timeout:.0f} s: {sorted(waiting)}")
            if waiting:
                time.sleep(0.2)

    def kill(self, name: str) -> None:
        """SIGKILL one process (and its group): no clean shutdown, nothing flushed."""
        proc = self.procs[name]
        if proc.popen is None or proc.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.popen.pid, signal.SIGKILL)
        proc.popen.wait(10)
        proc.kills += 1
        proc.killed_at = time.monotonic()

    def crash_database(self, down_for: float) -> bool:
        """The embedded PostgreSQL shut down immediately (every connection cut, no checkpoint),
        kept down ``down_for`` seconds, started again (crash recovery). False, and nothing done,
        when the database is not one this cluster can restart (external, or a container)."""
        assert self.handle is not None, "cluster not started"
        server = next((c for c in self.handle.components if c.name == "postgres"), None)
        if not isinstance(server, EmbeddedPostgres):
            return False
        server.crash()
        time.sleep(down_for)
        server.start()
        return True

    def restart_dead(self) -> list[str]:
        """Start every process that is not running; returns their names. An exit we did not
        cause (a crash point) is counted as a crash."""
        restarted = []
        migrated: set[str] = set()
        for proc in self.procs.values():
            if proc.popen is None or proc.popen.poll() is None:
                continue
            if proc.killed_at is None:
                proc.crashes += 1
            proc.killed_at = None
            if self.migrate_on_restart and proc.service not in migrated:
                migrated.add(proc.service)
                with proc.log.open("ab") as out:
                    subprocess.run(  # noqa: S603 (our own service commands)
                        [sys.executable, "-m", proc.service, "migrate"],
                        stdin=subprocess.DEVNULL,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        env=proc.env,
                        timeout=120,
                        check=False,
                    )
            self._spawn(proc)
            restarted.append(proc.name)
        return restarted

    def pids(self) -> dict[str, int]:
        """The live processes: every service process, the broker and PostgreSQL."""
        found = {p.name: p.pid for p in self.procs.values() if p.alive and p.pid is not None}
        if self.handle is not None:
            found.update({f"infra:{k}": v for k, v in self.handle.pids().items()})
        return {k: v for k, v in found.items() if v is not None}

    def disruptions(self) -> dict[str, int]:
        """Per process: SIGKILLs sent plus crashes seen."""
        return {p.name: p.kills + p.crashes for p in self.procs.values()}

    def log_tails(self, lines: int = 15) -> str:
        return "\n".join(f"== {p.name}\n{tail(p.log, lines)}" for p in self.procs.values())
