"""Shared plumbing of the local infrastructure: where run folders live, ports, a pid lock,
records of the processes we start (so a later run can stop leftovers by PID), and bounded
process termination.

Everything here stops only what it started: processes are identified by PID *and* creation
time (guards against PID reuse), never by name.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Coroutine, Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import psutil

T = TypeVar("T")

RUN_DIR_NAME = ".run"
DEFAULT_PG_PORT = 55432
DEFAULT_KAFKA_PORT = 59092
CHILDREN_FILE = "children.json"
PID_FILE = "run.pid"


class InfraError(RuntimeError):
    """Infrastructure could not be started or reached; the message says what to look at."""


# --------------------------------------------------------------------------------------------
# Paths
# --------------------------------------------------------------------------------------------


def _is_repo_root(path: Path) -> bool:
    if (path / ".git").exists():
        return True
    pyproject = path / "pyproject.toml"
    if pyproject.is_file():
        with contextlib.suppress(OSError):
            return "[tool.uv.workspace]" in pyproject.read_text(encoding="utf-8")
    return False


def find_repo_root(start: Path | None = None) -> Path:
    """The repository root: the nearest ancestor of ``start`` (default: the working directory,
    then this file's location) holding ``.git`` or a ``pyproject.toml`` with
    ``[tool.uv.workspace]``. ``MC_REPO_ROOT`` overrides. Falls back to the working directory."""
    explicit = os.environ.get("MC_REPO_ROOT")
    if explicit:
        return Path(explicit).resolve()
    starts = [start] if start is not None else [Path.cwd(), Path(__file__).parent]
    for origin in starts:
        for candidate in [origin.resolve(), *origin.resolve().parents]:
            if _is_repo_root(candidate):
                return candidate
    return Path.cwd().resolve()


def run_root(repo_root: Path | None = None) -> Path:
    """``<repo>/.run``: every data directory, log and pid file of local infrastructure."""
    return (repo_root or find_repo_root()) / RUN_DIR_NAME


def dev_run_dir(repo_root: Path | None = None) -> Path:
    return run_root(repo_root) / "dev"


def process_run_dir(repo_root: Path | None = None, pid: int | None = None) -> Path:
    return run_root(repo_root) / f"test-{pid if pid is not None else os.getpid()}"


# --------------------------------------------------------------------------------------------
# Ports
# --------------------------------------------------------------------------------------------


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def require_free_port(port: int, what: str, env_var: str) -> None:
    if port_in_use(port):
        raise InfraError(
            f"port {port} (for {what}) is already in use on 127.0.0.1: stop whatever listens "
            f"there or choose another port with {env_var}=<port>"
        )


def env_port(env: dict[str, str] | Any, name: str, default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        port = int(raw)
    except ValueError:
        raise InfraError(f"{name}={raw!r} is not a port number") from None
    if not 0 < port < 65536:
        raise InfraError(f"{name}={raw!r} is not a port number")
    return port


def wait_for_port(host: str, port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_in_use(port, host):
            return True
        time.sleep(0.02)
    return False


# --------------------------------------------------------------------------------------------
# Logs
# --------------------------------------------------------------------------------------------


def tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a log file (or a note that it is missing)."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            data = handle.read().decode("utf-8", errors="replace")
    except OSError as exc:
        return f"(no log at {path}: {exc.strerror})"
    return "\n".join(data.splitlines()[-lines:])


def now_iso() -> str:
    return datetime.now(UTC).astimezone().isoformat(timespec="seconds")


# --------------------------------------------------------------------------------------------
# Running a coroutine from synchronous code, whatever loop the caller runs
# --------------------------------------------------------------------------------------------


def run_sync(factory: Callable[[], Coroutine[Any, Any, T]], timeout: float | None = None) -> T:
    """Run the coroutine made by ``factory`` to completion in a fresh thread with its own event
    loop, so that it works from plain code, from sync pytest fixtures and from inside a running
    loop alike (the caller's thread blocks; nothing touches the caller's loop)."""
    result: list[T] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(factory()))
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=target, name="mc-devinfra-sync", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise InfraError(f"operation did not finish within {timeout} s")
    if error:
        raise error[0]
    return result[0]


# --------------------------------------------------------------------------------------------
# Process records and termination
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcessRecord:
    """A process we started: enough to find it again (and only it) after a crash."""

    name: str
    pid: int
    create_time: float
    group: bool = False  # started in its own session: stop the whole process group

    @classmethod
    def of(cls, name: str, pid: int, *, group: bool = False) -> ProcessRecord:
        try:
            created = psutil.Process(pid).create_time()
        except psutil.Error:
            created = 0.0
        return cls(name=name, pid=pid, create_time=created, group=group)

    def process(self) -> psutil.Process | None:
        """The live process this record names, or None (gone, or the PID was reused)."""
        try:
            proc = psutil.Process(self.pid)
            if abs(proc.create_time() - self.create_time) > 0.05:
                return None
            if proc.status() == psutil.STATUS_ZOMBIE:
                return None
            return proc
        except psutil.Error:
            return None

    def alive(self) -> bool:
        return self.process() is not None


def pid_alive(pid: int) -> bool:
    try:
        status: str = psutil.Process(pid).status()
    except psutil.Error:
        return False
    return bool(status != psutil.STATUS_ZOMBIE)


class ProcessRegistry:
    """``children.json`` in a run folder: the processes a run started, written as they start, so
    that a run taking over after a crash can stop exactly those (by PID and creation time)."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / CHILDREN_FILE
        self._lock = threading.Lock()

    def read(self) -> list[ProcessRecord]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            return [ProcessRecord(**item) for item in raw]
        except (OSError, ValueError, TypeError):
            return []

    def _write(self, records: list[ProcessRecord]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps([asdict(r) for r in records], indent=1), encoding="utf-8")
        tmp.replace(self.path)

    def add(self, record: ProcessRecord) -> None:
        with self._lock:
            self._write([*self.read(), record])

    def remove(self, pid: int) -> None:
        with self._lock:
            self._write([r for r in self.read() if r.pid != pid])

    def reap(self, grace: float = 5.0) -> list[ProcessRecord]:
        """Stop every recorded process that still runs (services first, then the broker, each
        wave in parallel); returns those it had to stop."""
        live = [r for r in self.read() if r.alive()]
        services = [r for r in live if r.name != "kafka"]
        brokers = [r for r in live if r.name == "kafka"]
        for wave in (services, brokers):
            terminate_records(wave, grace=grace)
        with contextlib.suppress(OSError):
            self.path.unlink()
        return live


def _signal(record: ProcessRecord, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if record.group:
            os.killpg(record.pid, sig)
        else:
            os.kill(record.pid, sig)


def _wait_gone(records: list[ProcessRecord], timeout: float) -> list[ProcessRecord]:
    """Wait until the processes are gone (a zombie counts as gone: they are not our children,
    we cannot reap them); returns those still alive at the deadline."""
    deadline = time.monotonic() + timeout
    alive = [r for r in records if r.alive()]
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [r for r in alive if r.alive()]
    return alive


def terminate_records(records: list[ProcessRecord], grace: float = 10.0) -> list[ProcessRecord]:
    """SIGTERM recorded processes (not our children) all at once, SIGKILL (their process
    group, if they have one) those still alive after ``grace`` seconds. Returns the killed."""
    live = [r for r in records if r.alive()]
    for record in live:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(record.pid, signal.SIGTERM)
    stubborn = _wait_gone(live, grace)
    for record in live:
        if record.group or record in stubborn:
            _signal(record, signal.SIGKILL)  # stubborn ones, and stragglers in their groups
    _wait_gone(stubborn, 5.0)
    return stubborn


def terminate_pid(record: ProcessRecord, grace: float = 10.0) -> bool:
    """:func:`terminate_records` for one process. Returns True if it had to be killed."""
    return bool(terminate_records([record], grace))


def terminate_popen(
    proc: subprocess.Popen[Any], grace: float = 10.0, *, group: bool = False
) -> bool:
    """SIGTERM our child ``proc``, SIGKILL it (its process group if ``group``) after ``grace``
    seconds; always reaps it. Returns True if it had to be killed."""
    killed = False
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            killed = True
    if group:
        # Whatever is left in its own session (workers it forked), and itself if stubborn.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    elif killed:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5)
    return killed


def terminate_popens(procs: Iterable[subprocess.Popen[Any]], grace: float = 5.0) -> None:
    """SIGTERM all of our children ``procs`` at once, give them ``grace`` seconds together,
    then SIGKILL each one's process group (workers they forked, and themselves if stubborn)."""
    procs = list(procs)
    for proc in procs:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    while any(p.poll() is None for p in procs) and time.monotonic() < deadline:
        time.sleep(0.05)
    for proc in procs:
        terminate_popen(proc, grace=0.0, group=True)


# --------------------------------------------------------------------------------------------
# Pid lock
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PidInfo:
    pid: int
    started: str


class AlreadyRunning(InfraError):
    def __init__(self, info: PidInfo | None, path: Path) -> None:
        self.info = info
        self.path = path
        who = f"pid {info.pid}, started {info.started}" if info else "pid unknown"
        super().__init__(f"already running ({who}); pid file {path}")


class PidLock:
    """A pid file guarded by ``flock``: held for the life of the run, released by the kernel if
    the process dies, so a stale file (dead run) is simply taken over. The file's content (pid and
    start time) is for humans and for ``stop``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @staticmethod
    def read(path: Path) -> PidInfo | None:
        try:
            lines = path.read_text(encoding="utf-8").split("\n")
            return PidInfo(pid=int(lines[0]), started=lines[1] if len(lines) > 1 else "?")
        except (OSError, ValueError, IndexError):
            return None

    @staticmethod
    def held(path: Path) -> bool:
        """Whether a live process holds the lock on ``path`` (without taking it)."""
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return True
            raise
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
            return False
        finally:
            os.close(fd)

    def acquire(self) -> bool:
        """Take the lock and write our pid. Raises AlreadyRunning if a live run holds it.
        Returns True if a stale pid file (dead run) was taken over."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(20):
            stale = self.path.exists()
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise AlreadyRunning(self.read(self.path), self.path) from None
                raise
            # The holder may have unlinked the file between our open and our flock: retry.
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n{now_iso()}\n".encode())
            os.fsync(fd)
            self._fd = fd
            return stale
        raise InfraError(f"could not lock {self.path}")

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> PidLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


# --------------------------------------------------------------------------------------------
# Stale test run folders
# --------------------------------------------------------------------------------------------

_TEST_DIR = re.compile(r"^test-(\d+)$")


def reap_stale_test_dirs(root: Path, stop_postgres: Callable[[Path], None]) -> list[Path]:
    """Remove ``.run/test-<pid>`` folders left by test sessions that died (their lock is free):
    stop the processes they recorded and their PostgreSQL, then delete the folder."""
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    for entry in root.iterdir():
        if not (entry.is_dir() and _TEST_DIR.match(entry.name)):
            continue
        owner = int(entry.name.split("-")[1])
        if owner == os.getpid() or PidLock.held(entry / PID_FILE) or pid_alive(owner):
            continue
        ProcessRegistry(entry).reap(grace=3.0)
        with contextlib.suppress(Exception):
            stop_postgres(entry)
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return removed


@contextlib.contextmanager
def timed() -> Iterator[list[float]]:
    """``with timed() as t: ...`` then ``t[0]`` is the elapsed seconds."""
    box: list[float] = []
    start = time.perf_counter()
    try:
        yield box
    finally:
        box.append(time.perf_counter() - start)
