"""``make run``: infrastructure, databases, migrations and the four services, under one pid file,
stopped together on Ctrl-C / SIGTERM / ``mc-dev stop``.

Order: pid lock (``run.pid``; a live holder means refuse, a dead one means take over and stop
its leftovers by PID) -> PostgreSQL and Kafka (resolved: external / docker / embedded) -> one
database per service -> ``python -m <service> migrate`` (in parallel) -> ``python -m <service>
serve`` -> wait for ``GET /readyz`` = 200 -> table of URLs -> wait for a signal -> services
(SIGTERM, SIGKILL after a grace period) -> broker -> database -> pid file removed.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table

from mc_devstack.devinfra.common import (
    DEFAULT_KAFKA_PORT,
    DEFAULT_PG_PORT,
    PID_FILE,
    AlreadyRunning,
    InfraError,
    PidLock,
    ProcessRecord,
    ProcessRegistry,
    env_port,
    now_iso,
    tail,
    terminate_popen,
)
from mc_devstack.devinfra.infra import Infra, InfraHandle, start_infra, write_json
from mc_devstack.devinfra.postgres import EmbeddedPostgres
from mc_devstack.devinfra.resolve import docker_available
from mc_platform.auth import DevIssuer

STATE_FILE = "state.json"
DEFAULT_PORTS: dict[str, int] = {
    "enrollment": 8001,
    "review": 8002,
    "registry": 8003,
    "compensation": 8004,
}


@dataclass(frozen=True)
class ServiceSpec:
    """A service the supervisor runs: ``<argv> migrate`` then ``<argv> serve``.

    ``argv`` defaults to ``python -m <name>``; tests pass a script of their own."""

    name: str
    port: int
    argv: tuple[str, ...] = ()
    migrate: bool = True

    def command(self, action: str) -> list[str]:
        return [*(self.argv or (sys.executable, "-m", self.name)), action]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def default_services(env: Mapping[str, str] | None = None) -> tuple[ServiceSpec, ...]:
    """The four services, ports from ``<SERVICE>_PORT`` or 8001-8004."""
    env = os.environ if env is None else env
    return tuple(
        ServiceSpec(name, env_port(env, f"{name.upper()}_PORT", port))
        for name, port in DEFAULT_PORTS.items()
    )


def parse_service(text: str, env: Mapping[str, str] | None = None) -> ServiceSpec:
    """``name[:port[:target]]``; target is a module (``python -m target``) or a ``.py`` script
    (``python target``). Port defaults to ``<NAME>_PORT`` or the standard one."""
    env = os.environ if env is None else env
    name, _, rest = text.partition(":")
    port_s, _, target = rest.partition(":")
    if not name:
        raise InfraError(f"--service {text!r}: expected name[:port[:module-or-script.py]]")
    default = env_port(env, f"{name.upper()}_PORT", DEFAULT_PORTS.get(name, 0))
    port = int(port_s) if port_s else default
    if not port:
        raise InfraError(f"--service {text!r}: no port for {name!r}")
    argv: tuple[str, ...] = ()
    if target.endswith(".py"):
        argv = (sys.executable, target)
    elif target:
        argv = (sys.executable, "-m", target)
    return ServiceSpec(name, port, argv)


class StartupError(InfraError):
    """Start-up failed; the message holds the reason and the relevant log tail."""


class Interrupted(Exception):
    """A stop signal arrived during start-up."""


def http_ready(url: str, timeout: float = 1.0) -> bool:
    """``GET url`` answers 200 (no proxies: these are local addresses)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError):
        return False


@dataclass
class _Running:
    spec: ServiceSpec
    proc: subprocess.Popen[bytes]
    log: Path
    database_url: str
    started: float = field(default_factory=time.monotonic)
    ready_after: float | None = None
    reported_exit: bool = False


class Supervisor:
    """Runs infrastructure and services for local development (``mc-dev run``)."""

    def __init__(
        self,
        run_dir: Path,
        services: Sequence[ServiceSpec] | None = None,
        *,
        pg_port: int | None = DEFAULT_PG_PORT,
        kafka_port: int | None = DEFAULT_KAFKA_PORT,
        env: Mapping[str, str] | None = None,
        fsync: bool = True,
        fresh: bool = False,
        ready_timeout: float = 60.0,
        migrate_timeout: float = 120.0,
        grace: float = 10.0,
        console: Console | None = None,
        docker_check: Callable[[], bool] = docker_available,
    ) -> None:
        self.run_dir = run_dir
        self.env: dict[str, str] = dict(os.environ if env is None else env)
        self.services = tuple(default_services(self.env) if services is None else services)
        self.pg_port = pg_port
        self.kafka_port = kafka_port
        self.fsync = fsync
        self.fresh = fresh
        self.ready_timeout = ready_timeout
        self.migrate_timeout = migrate_timeout
        self.grace = grace
        self.console = console or Console(highlight=False)
        self.docker_check = docker_check
        self.logs_dir = run_dir / "logs"
        self.registry = ProcessRegistry(run_dir)
        self.handle: InfraHandle | None = None
        self.running: dict[str, _Running] = {}
        self._children: list[subprocess.Popen[bytes]] = []
        self._stop_requested = False
        self._hurry = False
        self._signal_name = ""
        self.timings: dict[str, float] = {}

    # -- output -----------------------------------------------------------------------------

    def say(self, message: str, style: str | None = None) -> None:
        self.console.print(message, style=style, markup=False, highlight=False)

    # -- signals ----------------------------------------------------------------------------

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if self._stop_requested:
            self._hurry = True  # second Ctrl-C: no more grace
        self._stop_requested = True
        self._signal_name = signal.Signals(signum).name

    def _check_stop(self) -> None:
        if self._stop_requested:
            raise Interrupted

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self._stop_requested and time.monotonic() < deadline:
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))

    # -- the run ----------------------------------------------------------------------------

    def run(self) -> int:
        """Start everything, wait for a stop signal, stop everything. Returns the exit code."""
        lock = PidLock(self.run_dir / PID_FILE)
        try:
            stale = lock.acquire()
        except AlreadyRunning as exc:
            who = f"pid {exc.info.pid}, started {exc.info.started}" if exc.info else "pid ?"
            self.say(
                f"mc-dev is already running ({who}); stop it with Ctrl-C in its terminal or "
                "`make stop`",
                style="bold red",
            )
            return 1
        previous = {
            sig: signal.signal(sig, self._on_signal)
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        }
        code = 0
        try:
            with contextlib.suppress(OSError):
                (self.run_dir / STATE_FILE).unlink()  # a crashed run's
            leftovers = self.registry.reap(grace=5.0)
            if stale or leftovers:
                names = ", ".join(f"{r.name} (pid {r.pid})" for r in leftovers) or "none"
                self.say(f"took over a stale pid file; leftover processes stopped: {names}")
            if self.fresh:
                EmbeddedPostgres.stop_leftover(self.run_dir)
                shutil.rmtree(self.run_dir / "postgres", ignore_errors=True)
                self.say("--fresh: embedded PostgreSQL data removed")
            self.start()
            self.print_table()
            self.write_state()
            self.say("running; Ctrl-C (or `make stop`) stops everything", style="bold green")
            self.watch()
            self.say(f"{self._signal_name or 'stop'} received: stopping ...")
        except Interrupted:
            self.say(f"{self._signal_name} received during start-up: stopping ...", style="yellow")
            code = 130
        except InfraError as exc:
            self.say(f"start-up failed: {exc}", style="bold red")
            code = 1
        except Exception as exc:
            self.say(f"start-up failed: {exc!r}", style="bold red")
            code = 1
        finally:
            started = time.monotonic()
            try:
                self.shutdown()
            finally:
                with contextlib.suppress(OSError):
                    (self.run_dir / STATE_FILE).unlink()
                lock.release()
                for sig, handler in previous.items():
                    signal.signal(sig, handler)
            self.say(f"stopped in {time.monotonic() - started:.1f} s")
        return code

    def start(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        self.handle = start_infra(
            self.run_dir,
            pg_port=self.pg_port,
            kafka_port=self.kafka_port,
            fsync=self.fsync,
            env=self.env,
            docker_check=self.docker_check,
            check_ports=True,
            on_event=self.say,
        )
        self.timings["infra"] = time.monotonic() - t0
        self._check_stop()
        infra = self.handle.infra

        t0 = time.monotonic()
        urls = {spec.name: infra.create_database(spec.name) for spec in self.services}
        self.timings["databases"] = time.monotonic() - t0
        self._check_stop()

        t0 = time.monotonic()
        self._migrate(infra)
        self.timings["migrations"] = time.monotonic() - t0

        t0 = time.monotonic()
        for spec in self.services:
            self._check_stop()
            log = self.logs_dir / f"{spec.name}.log"
            proc = self._spawn(spec.name, spec.command("serve"), infra, spec, log, append=True)
            self.running[spec.name] = _Running(spec, proc, log, urls[spec.name])
        self._wait_ready()
        self.timings["services"] = time.monotonic() - t0
        total = sum(self.timings.values())
        parts = ", ".join(f"{k} {v:.2f} s" for k, v in self.timings.items() if v >= 0.005)
        self.say(f"ready in {total:.1f} s ({parts})", style="green")

    def service_env(self, infra: Infra, spec: ServiceSpec) -> dict[str, str]:
        # Tokens for `make run` come from a local dev issuer (`mc-dev token`); a real
        # deployment sets AUTH_* to its OIDC provider instead.
        issuer_env = {} if "AUTH_JWKS_URL" in self.env else dev_issuer(self.run_dir).env()
        return {
            **issuer_env,
            **self.env,
            **infra.service_env(spec.name, port=spec.port, run_dir=self.run_dir),
            "MC_SERVICE": spec.name,
            "PYTHONUNBUFFERED": "1",
        }

    def _spawn(
        self,
        name: str,
        command: list[str],
        infra: Infra,
        spec: ServiceSpec,
        log: Path,
        *,
        append: bool,
    ) -> subprocess.Popen[bytes]:
        with log.open("ab" if append else "wb") as out:
            out.write(f"--- {now_iso()} $ {' '.join(command)}\n".encode())
            out.flush()
            proc = subprocess.Popen(  # noqa: S603 (the service commands we were given)
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.service_env(infra, spec),
                cwd=self.env.get("MC_SERVICE_CWD") or None,
                start_new_session=True,  # Ctrl-C reaches us only; we stop them in order
            )
        self._children.append(proc)
        self.registry.add(ProcessRecord.of(name, proc.pid, group=True))
        return proc

    def _reap(self, proc: subprocess.Popen[bytes], *, grace: float) -> None:
        terminate_popen(proc, grace=0.0 if self._hurry else grace, group=True)
        self.registry.remove(proc.pid)
        with contextlib.suppress(ValueError):
            self._children.remove(proc)

    def _migrate(self, infra: Infra) -> None:
        pending: dict[str, tuple[subprocess.Popen[bytes], Path, list[str]]] = {}
        for spec in self.services:
            log = self.logs_dir / f"{spec.name}.log"
            if not spec.migrate:
                log.write_bytes(b"")
                continue
            self.say(f"migrating {spec.name} ...")
            command = spec.command("migrate")
            proc = self._spawn(f"{spec.name}-migrate", command, infra, spec, log, append=False)
            pending[spec.name] = (proc, log, command)
        deadline = time.monotonic() + self.migrate_timeout
        while pending:
            self._check_stop()
            for name, (proc, log, command) in list(pending.items()):
                code = proc.poll()
                if code is None:
                    continue
                self._reap(proc, grace=0)
                del pending[name]
                if code != 0:
                    raise StartupError(
                        f"`{' '.join(command)}` failed with exit code {code}; "
                        f"log {log}:\n{tail(log)}"
                    )
            if pending and time.monotonic() > deadline:
                name, (_, log, _) = next(iter(pending.items()))
                raise StartupError(
                    f"{name} migrate still running after {self.migrate_timeout:.0f} s; "
                    f"log {log}:\n{tail(log)}"
                )
            time.sleep(0.05)

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        waiting = dict(self.running)
        while waiting:
            self._check_stop()
            for name, svc in list(waiting.items()):
                code = svc.proc.poll()
                if code is not None:
                    svc.reported_exit = True
                    raise StartupError(
                        f"{name} exited with code {code} during start-up; "
                        f"log {svc.log}:\n{tail(svc.log)}"
                    )
                if http_ready(f"{svc.spec.base_url}/readyz", timeout=1.0):
                    svc.ready_after = time.monotonic() - svc.started
                    self.say(f"{name} ready on {svc.spec.base_url} ({svc.ready_after:.1f} s)")
                    del waiting[name]
            if waiting and time.monotonic() > deadline:
                names = ", ".join(sorted(waiting))
                last = next(iter(waiting.values()))
                raise StartupError(
                    f"not ready after {self.ready_timeout:.0f} s "
                    f"(GET /readyz did not answer 200): {names}; "
                    f"log {last.log}:\n{tail(last.log)}"
                )
            if waiting:
                self._sleep(0.2)

    def watch(self) -> None:
        """Until a stop signal; reports services that exit on their own (once each)."""
        while not self._stop_requested:
            for name, svc in self.running.items():
                code = svc.proc.poll()
                if code is not None and not svc.reported_exit:
                    svc.reported_exit = True
                    self.say(
                        f"{name} exited with code {code}; log {svc.log}:\n{tail(svc.log, 30)}",
                        style="bold red",
                    )
            self._sleep(0.5)

    def shutdown(self) -> None:
        """Services first (SIGTERM to all, SIGKILL to their groups after the grace period),
        then the broker and the database. Idempotent."""
        live = [p for p in self._children if p.poll() is None]
        for proc in live:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        while any(p.poll() is None for p in live) and time.monotonic() < deadline:
            if self._hurry:
                break
            time.sleep(0.05)
        for proc in list(self._children):
            self._reap(proc, grace=0.0)
        self.running.clear()
        if self.handle is not None:
            try:
                self.handle.stop()
            finally:
                self.handle = None
        with contextlib.suppress(OSError):
            self.registry.path.unlink()

    # -- reporting --------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        assert self.handle is not None
        handle = self.handle
        return {
            "pid": os.getpid(),
            "ready_at": now_iso(),
            "run_dir": str(self.run_dir),
            "infra": handle.infra.to_dict(),
            "components": {
                c.name: {"kind": c.kind, "address": c.address, "pid": c.pid(), "log": c.log}
                for c in handle.components
            },
            "services": [
                {
                    "name": name,
                    "port": svc.spec.port,
                    "pid": svc.proc.pid,
                    "url": svc.spec.base_url,
                    "log": str(svc.log),
                    "database_url": svc.database_url,
                }
                for name, svc in self.running.items()
            ],
            "timings": self.timings,
        }

    def write_state(self) -> None:
        write_json(self.run_dir / STATE_FILE, self.state())

    def print_table(self) -> None:
        print_state(self.console, self.state())


def short_path(path: str | Path) -> str:
    """``path`` relative to the working directory when inside it (shorter tables)."""
    with contextlib.suppress(ValueError):
        return str(Path(path).resolve().relative_to(Path.cwd()))
    return str(path)


def print_state(console: Console, state: Mapping[str, Any], *, check: bool = False) -> None:
    """The table of URLs, logs and databases (``check``: probe each service's /readyz)."""
    infra = Infra.from_dict(state["infra"])
    if state["services"]:
        table = Table(title="mc-dev", show_lines=False, expand=False)
        table.add_column("service", overflow="fold")
        if check:
            table.add_column("ready")
        for title in ("API docs", "metrics", "log", "database"):
            table.add_column(title, overflow="fold")
        for svc in state["services"]:
            row = [svc["name"]]
            if check:
                row.append("yes" if http_ready(f"{svc['url']}/readyz") else "NO")
            row += [
                f"{svc['url']}/docs",
                f"{svc['url']}/metrics",
                short_path(svc["log"]),
                svc["database_url"],
            ]
            table.add_row(*row)
        console.print(table)
    components = state.get("components", {})
    pg = components.get("postgres", {})
    kafka = components.get("kafka", {})
    console.print(
        f"PostgreSQL ({infra.kind.postgres}): {infra.postgres_url}"
        + (f"  log {short_path(pg['log'])}" if pg.get("log") else ""),
        markup=False,
        highlight=False,
    )
    console.print(
        f"Kafka ({infra.kind.kafka}): {infra.kafka_bootstrap}  idempotence "
        f"{'on' if infra.kafka_idempotence else 'off'}"
        + (f"  log {short_path(kafka['log'])}" if kafka.get("log") else "")
        + ("  (memory only: a restart loses topics)" if infra.kind.kafka == "embedded" else ""),
        markup=False,
        highlight=False,
    )
    exports = " ".join(f"{k}={v}" for k, v in infra.env().items())
    console.print(f"to reuse from another shell: export {exports}", markup=False, highlight=False)
    console.print(
        "API tokens: .venv/bin/mc-dev token --role state_admin (see `mc-dev token --help`)",
        markup=False,
        highlight=False,
    )


def dev_issuer(run_dir: Path) -> DevIssuer:
    """The development token issuer of a run folder (keys under ``<run_dir>/auth``)."""
    return DevIssuer(run_dir / "auth")


def console_for(stream: TextIO | None = None) -> Console:
    stream = stream or sys.stdout
    width = None if stream.isatty() else 320  # logs and pipes: never fold URLs or paths
    return Console(file=stream, width=width, highlight=False)


def stop_running(run_dir: Path, *, timeout: float = 60.0, console: Console | None = None) -> int:
    """``mc-dev stop``: SIGTERM the supervisor holding ``run_dir/run.pid`` and wait for it.
    If none runs, stop leftovers of a crashed run (recorded PIDs, PostgreSQL in run_dir)."""
    console = console or console_for()
    pid_file = run_dir / PID_FILE
    if not PidLock.held(pid_file):
        stopped = ProcessRegistry(run_dir).reap(grace=5.0)
        with contextlib.suppress(Exception):
            EmbeddedPostgres.stop_leftover(run_dir)
        extra = f"; stopped leftovers: {', '.join(r.name for r in stopped)}" if stopped else ""
        console.print(f"mc-dev is not running ({run_dir}){extra}", markup=False)
        return 0
    info = PidLock.read(pid_file)
    if info is None:
        console.print(f"{pid_file} is locked but unreadable; stop it from its terminal")
        return 1
    console.print(f"stopping mc-dev (pid {info.pid}, started {info.started}) ...", markup=False)
    os.kill(info.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while PidLock.held(pid_file) and time.monotonic() < deadline:
        time.sleep(0.1)
    if PidLock.held(pid_file):
        console.print(f"mc-dev (pid {info.pid}) still running after {timeout:.0f} s", markup=False)
        return 1
    console.print("stopped", markup=False)
    return 0


def status(run_dir: Path, *, as_json: bool = False, console: Console | None = None) -> int:
    """``mc-dev status``: 0 if running (prints the table, probing /readyz), 1 if not."""
    console = console or console_for()
    pid_file = run_dir / PID_FILE
    if not PidLock.held(pid_file):
        if as_json:
            print(json.dumps({"running": False}))
        else:
            console.print(f"mc-dev is not running ({run_dir})", markup=False)
        return 1
    info = PidLock.read(pid_file)
    try:
        state = json.loads((run_dir / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        state = None
    if as_json:
        print(json.dumps({"running": True, "pid": info and info.pid, "state": state}))
        return 0
    who = f"pid {info.pid}, started {info.started}" if info else "pid ?"
    if state is None:
        console.print(f"mc-dev is starting ({who})", markup=False)
        return 0
    console.print(f"mc-dev is running ({who})", markup=False)
    print_state(console, state, check=True)
    return 0
