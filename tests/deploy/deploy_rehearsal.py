"""The deployment rehearsal: the services run exactly as a deployment manifest gives them.

For every container of our image in the rendered Kubernetes overlay (or the Compose file) the
rehearsal takes what the manifest gives it and nothing else: the command and arguments on top
of the image's entrypoint, the environment (ConfigMap and Secret references resolved; Secrets
that live outside the repository filled with test values), the user id, a read-only root
filesystem where only the declared volumes are writable, the ports and the readiness probe.
Each container becomes a local process:

* its own loopback address stands for the pod (``127.x.y.z``; the manifest's ports unchanged);
* the host names the configuration names are mapped to loopback: the cluster's Services to the
  pods' addresses, the platform's PostgreSQL and Kafka to the embedded ones, the identity
  provider to a local issuer serving its JWKS over TLS at the configured path, the object
  store to a local S3-compatible server, the trace collector to a closed port;
* mounted paths are mapped to folders (Secrets and ConfigMaps as files, ``emptyDir`` and named
  volumes writable), the working directory is the image's, empty and read-only;
* under root the process runs as the manifest's user id, so a write outside the declared
  volumes fails as it would in the container.

What cannot be the same here is said where it happens: the embedded broker speaks plaintext
without authentication (the client settings are validated as given, then pointed at it; what
each process did on the broker is recorded and checked against its ``KafkaUser`` instead), it
has one node (replication factor 1) and no idempotent producer, and PgBouncer is not run (the
pooler's address leads to the same embedded PostgreSQL).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import random
import re
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

from deploy_manifests import REPO, Image, compose_environment

from mc_devstack.devinfra.common import free_port, tail, terminate_popen, terminate_popens
from mc_devstack.devinfra.infra import InfraHandle

Kind = Literal["init", "job", "service"]

OUR_IMAGE = "mc-backbone"


class RehearsalError(RuntimeError):
    """The configuration cannot be run as given; the message says what and where."""


@dataclass
class Mount:
    path: str
    """Where the container sees it."""
    volume: str
    """Which volume (containers of one pod share an ``emptyDir`` by name)."""
    writable: bool
    files: dict[str, bytes] = field(default_factory=dict)
    """Content of a read-only volume (Secret, ConfigMap, bind mount): relative path -> bytes."""
    owner: int | None = None
    """Who owns a writable volume at start (fsGroup, or the image's folder owner)."""


@dataclass
class Container:
    workload: str
    """The Deployment or Compose service (one pod each here)."""
    name: str
    kind: Kind
    argv: list[str]
    env: dict[str, str]
    user: int | None
    group: int | None
    read_only_root: bool
    mounts: list[Mount]
    ports: list[int]
    ready: tuple[str, int] | None
    """Readiness probe: (HTTP path, port)."""
    workdir: str = "/"
    depends_on: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return (
            self.workload
            if self.name in ("service", self.workload)
            else (f"{self.workload}-{self.name}")
        )


# -- reading manifests ----------------------------------------------------------------------

SecretValues = Mapping[tuple[str, str], str]


def _secret(values: SecretValues, name: str, key: str) -> str:
    if (name, key) not in values:
        raise RehearsalError(
            f"the manifests read Secret {name!r} key {key!r}, which the rehearsal has no test "
            "value for (and docs/operations.md should list among the Secrets to create)"
        )
    return values[(name, key)]


def _is_ours(image: str) -> bool:
    return OUR_IMAGE in image


def k8s_containers(
    docs: list[dict[str, Any]], image: Image, secrets: SecretValues
) -> list[Container]:
    """Every container of our image in the rendered resources' Deployments."""
    config_maps = {
        d["metadata"]["name"]: d.get("data", {}) for d in docs if d["kind"] == "ConfigMap"
    }
    out: list[Container] = []
    for deployment in (d for d in docs if d["kind"] == "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        workload = deployment["metadata"]["name"]
        pod_security = pod.get("securityContext", {})
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        listed = [("init", c) for c in pod.get("initContainers", [])]
        listed += [("service", c) for c in pod["containers"]]
        for kind, spec in listed:
            if not _is_ours(spec["image"]):
                continue
            security = spec.get("securityContext", {})
            env = dict(image.env)
            for source in spec.get("envFrom", []):
                if "configMapRef" in source:
                    env.update(config_maps[source["configMapRef"]["name"]])
                else:
                    raise RehearsalError(f"{workload}: envFrom {source} is not supported here")
            for item in spec.get("env", []):
                env[item["name"]] = _env_value(item, env, config_maps, secrets, workload)
            ports = [p["containerPort"] for p in spec.get("ports", [])]
            named = {p.get("name"): p["containerPort"] for p in spec.get("ports", [])}
            ready = None
            if probe := spec.get("readinessProbe", {}).get("httpGet"):
                port = probe["port"]
                ready = (probe["path"], named[port] if isinstance(port, str) else int(port))
            argv = list(spec["command"]) if "command" in spec else list(image.entrypoint)
            argv += list(spec.get("args", [] if "command" in spec else image.cmd))
            mounts = [
                _k8s_mount(workload, m, volumes[m["name"]], secrets, config_maps, pod_security)
                for m in spec.get("volumeMounts", [])
            ]
            out.append(
                Container(
                    workload=workload,
                    name=spec["name"],
                    kind=kind,  # type: ignore[arg-type]
                    argv=[_expand(a, env) for a in argv],
                    env=env,
                    user=security.get("runAsUser", pod_security.get("runAsUser", image.user)),
                    group=security.get("runAsGroup", pod_security.get("runAsGroup", image.group)),
                    read_only_root=bool(security.get("readOnlyRootFilesystem", False)),
                    mounts=mounts,
                    ports=ports,
                    ready=ready,
                    workdir=spec.get("workingDir", image.workdir),
                )
            )
    return out


def _expand(value: str, env: Mapping[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` references to variables defined earlier."""
    return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env.get(m[1], m[0]), value)


def _env_value(
    item: dict[str, Any],
    env: Mapping[str, str],
    config_maps: Mapping[str, Mapping[str, str]],
    secrets: SecretValues,
    workload: str,
) -> str:
    if "value" in item:
        return _expand(str(item["value"]), env)
    source = item.get("valueFrom", {})
    if ref := source.get("configMapKeyRef"):
        data = config_maps.get(ref["name"])
        if data is None or ref["key"] not in data:
            raise RehearsalError(f"{workload}: {item['name']} reads a missing ConfigMap key {ref}")
        return str(data[ref["key"]])
    if ref := source.get("secretKeyRef"):
        return _secret(secrets, ref["name"], ref["key"])
    raise RehearsalError(f"{workload}: {item['name']}: unsupported valueFrom {source}")


def _k8s_mount(
    workload: str,
    mount: dict[str, Any],
    volume: dict[str, Any],
    secrets: SecretValues,
    config_maps: Mapping[str, Mapping[str, str]],
    pod_security: Mapping[str, Any],
) -> Mount:
    if "emptyDir" in volume:
        return Mount(
            mount["mountPath"],
            f"{workload}/{volume['name']}",
            writable=True,
            owner=pod_security.get("fsGroup"),
        )
    if "secret" in volume:
        name = volume["secret"]["secretName"]
        items = volume["secret"].get("items")
        if not items:
            raise RehearsalError(f"{workload}: Secret volume {name} must list its items")
        files = {i["path"]: _secret(secrets, name, i["key"]).encode() for i in items}
        return Mount(mount["mountPath"], f"{workload}/{volume['name']}", False, files)
    if "configMap" in volume:
        data = config_maps[volume["configMap"]["name"]]
        files = {k: v.encode() for k, v in data.items()}
        return Mount(mount["mountPath"], f"{workload}/{volume['name']}", False, files)
    raise RehearsalError(f"{workload}: volume {volume['name']} of an unsupported type")


def compose_containers(compose: dict[str, Any], image: Image) -> list[Container]:
    """Every service of our image in the (interpolated) Compose file."""
    out: list[Container] = []
    for name, service in compose["services"].items():
        if not _is_ours(str(service.get("image", ""))):
            continue
        env = dict(image.env)
        env.update(compose_environment(service))
        argv = list(service.get("entrypoint", image.entrypoint))
        argv += list(service.get("command", image.cmd))
        mounts = [Mount(path, f"{name}/tmpfs{path}", True) for path in service.get("tmpfs", [])]
        for volume in service.get("volumes", []):
            source, target, *mode = volume.split(":")
            read_only = "ro" in mode
            if source.startswith((".", "/")):
                mounts.append(_bind_mount(name, REPO / source, target))
            else:
                mounts.append(
                    Mount(
                        target,
                        f"volume/{source}",
                        writable=not read_only,
                        owner=image.owned_dirs.get(target),
                    )
                )
        ports = [int(str(p).split(":")[-1]) for p in service.get("ports", [])]
        ready = None
        test = " ".join(service.get("healthcheck", {}).get("test", []))
        if url := re.search(r"https?://[^'\" ]+", test):
            parsed = urllib.parse.urlsplit(url[0])
            ready = (parsed.path, parsed.port or 80)
        user = service.get("user")
        uid, gid = image.user, image.group
        if user:
            u, _, g = str(user).partition(":")
            uid, gid = int(u), int(g or u)
        depends = service.get("depends_on", {})
        out.append(
            Container(
                workload=name,
                name=name,
                kind="job" if service.get("restart") == "no" else "service",
                argv=argv,
                env=env,
                user=uid,
                group=gid,
                read_only_root=bool(service.get("read_only", False)),
                mounts=mounts,
                ports=ports,
                ready=ready,
                workdir=service.get("working_dir", image.workdir),
                depends_on=list(depends),
            )
        )
    return out


def _bind_mount(service: str, source: Path, target: str) -> Mount:
    if source.is_dir():
        files = {
            str(p.relative_to(source)): p.read_bytes() for p in source.rglob("*") if p.is_file()
        }
    else:
        files = {"": source.read_bytes()}
    return Mount(target, f"{service}/bind{target}", False, files)


# -- infrastructure stand-ins ---------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Where a host (and port) of the configuration leads here."""

    host: str
    port: int | None = None
    """None: the port the configuration names."""
    scheme: str | None = None
    """Replaces the URL's scheme (an object store served over plain HTTP here)."""


class JwksServer:
    """The identity provider's key endpoint: serves ``jwks()`` at ``path`` over TLS on
    loopback (what a state's OIDC provider does at its ``jwks_uri``)."""

    def __init__(self, jwks: Callable[[], bytes], path: str, cert: Path, key: Path) -> None:
        served_path = path

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != served_path:
                    self.send_error(404)
                    return
                body = jwks()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> JwksServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- running --------------------------------------------------------------------------------

CONNECTION_VARS: dict[str, str] = {
    r".*_DATABASE_URL": "postgres",
    r".*_DATABASE_LISTEN_URL": "postgres",
    r"KAFKA_BOOTSTRAP_SERVERS": "kafka",
    r"AUTH_JWKS_URL": "idp",
    r".*_S3_ENDPOINT_URL": "s3",
    r"OTEL_EXPORTER_OTLP_ENDPOINT": "otel",
}
"""Variables that name something a process connects to, and what kind of thing it is."""

_DEFAULT_PORTS = {"http": 80, "https": 443, "postgresql": 5432, "postgres": 5432}


def _endpoints(value: str) -> list[tuple[str | None, str, int | None]]:
    """(scheme, host, port) of each URL or ``host:port`` in a (comma-separated) value."""
    out = []
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        parsed = urllib.parse.urlsplit(part if "://" in part else f"//{part}")
        if parsed.hostname:
            port = parsed.port or _DEFAULT_PORTS.get(parsed.scheme)
            out.append((parsed.scheme or None, parsed.hostname, port))
    return out


def connections(container: Container) -> dict[str, list[tuple[str, str, int | None]]]:
    """Per kind (postgres, kafka, idp, s3, otel): the (variable, host, port) it names."""
    found: dict[str, list[tuple[str, str, int | None]]] = {}
    for var, value in container.env.items():
        for pattern, kind in CONNECTION_VARS.items():
            if re.fullmatch(pattern, var):
                for _, host, port in _endpoints(value):
                    found.setdefault(kind, []).append((var, host, port))
    return found


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def rewrite_hosts(value: str, routes: Mapping[str, Target]) -> str:
    """A URL, or a comma-separated list of ``host:port``, whose host is routed: sent where its
    :class:`Target` says. Any other value is returned as it is."""
    if "://" in value:
        url = urllib.parse.urlsplit(value)
        if (url.hostname or "") not in routes:
            return value
        target = routes[url.hostname or ""]
        port = target.port or url.port or _DEFAULT_PORTS.get(url.scheme)
        userinfo = url.netloc.rpartition("@")[0]
        netloc = (f"{userinfo}@" if userinfo else "") + target.host + (f":{port}" if port else "")
        return urllib.parse.urlunsplit(
            (target.scheme or url.scheme, netloc, url.path, url.query, url.fragment)
        )
    parts = [p.strip() for p in value.split(",")]
    if not all(re.fullmatch(r"[A-Za-z0-9.-]+:\d+", p) for p in parts):
        return value
    out = []
    for part in parts:
        host, given = part.rsplit(":", 1)
        if host in routes:
            target = routes[host]
            part = f"{target.host}:{target.port or given}"
        out.append(part)
    return ",".join(out)


@dataclass
class Running:
    container: Container
    address: str
    env: dict[str, str]
    argv: list[str]
    cwd: Path
    log: Path
    uid: int | None
    gid: int | None
    popen: subprocess.Popen[bytes] | None = None


class Rehearsal:
    """Runs a list of :class:`Container` as local processes (see the module doc)."""

    def __init__(
        self,
        run_dir: Path,
        containers: list[Container],
        *,
        stand_ins: Mapping[str, Target],
        hostnames: Mapping[str, str],
        extra_env: Mapping[str, str] | None = None,
        broker_env: Mapping[str, str] | None = None,
        ready_timeout: float = 120.0,
    ) -> None:
        """``stand_ins``: kind of connection (postgres, kafka, idp, s3, otel) -> where it leads.
        ``hostnames``: extra names of each workload (a Kubernetes Service's DNS names).
        ``broker_env``: the embedded broker's client settings, replacing the security and
        durability ones the configuration gives (which are validated first)."""
        self.run_dir = run_dir
        self.containers = containers
        self.stand_ins = dict(stand_ins)
        self.extra_env = dict(extra_env or {})
        self.broker_env = dict(broker_env or {})
        self.ready_timeout = ready_timeout
        self.notes: list[str] = []
        octet = random.randrange(2, 250)
        workloads = sorted({c.workload for c in containers})
        self.addresses = {
            w: f"127.{octet}.{i // 250}.{i % 250 + 2}" for i, w in enumerate(workloads)
        }
        self.routes: dict[str, Target] = {}
        for workload, address in self.addresses.items():
            self.routes[workload] = Target(address)
            for name in hostnames.get(workload, "").split():
                self.routes[name] = Target(address)
        self.running: list[Running] = []
        self.access_logs: dict[str, Path] = {}
        self._runs_as: dict[tuple[int | None, int | None], bool] = {}

    # -- preparing each process ---------------------------------------------------------

    def _route_connections(self) -> None:
        for container in self.containers:
            for kind, named in connections(container).items():
                for var, host, _ in named:
                    if host in self.routes or _loopback(host):
                        continue
                    if kind not in self.stand_ins:
                        raise RehearsalError(
                            f"{container.label}: {var} names {host}, and the rehearsal has "
                            f"nothing standing in for a {kind}"
                        )
                    self.routes[host] = self.stand_ins[kind]

    def _folder(self, mount: Mount, uid: int | None, gid: int | None) -> Path:
        """The folder standing for a mount (a file, for a single-file bind mount)."""
        folder = self.run_dir / "volumes" / mount.volume.replace("/", "_")
        target = folder / "file" if list(mount.files) == [""] else folder
        if folder.exists():
            return target
        folder.mkdir(parents=True)
        folder.chmod(0o755)
        if mount.writable:
            owner = mount.owner if mount.owner is not None else uid
            if os.geteuid() == 0 and owner is not None:
                os.chown(folder, uid if uid is not None else owner, owner if gid is None else gid)
            elif os.geteuid() != 0:
                folder.chmod(0o777)
            return folder
        for relative, content in mount.files.items():
            path = folder / (relative or "file")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            path.chmod(0o644)
        return target

    def _prepare(self, container: Container) -> Running:
        address = self.addresses[container.workload]
        uid, gid = container.user, container.group
        can_switch = os.geteuid() == 0 and uid is not None
        paths = {m.path: self._folder(m, uid, gid) for m in container.mounts}
        rootfs = self.run_dir / "rootfs" / container.label
        rootfs.mkdir(parents=True, exist_ok=True)
        if container.read_only_root:
            rootfs.chmod(0o555)
        elif can_switch:
            os.chown(rootfs, uid or 0, gid or 0)
        env: dict[str, str] = {}
        for key, value in container.env.items():
            if key in ("PATH", "VIRTUAL_ENV"):
                continue
            if any(re.fullmatch(pattern, key) for pattern in CONNECTION_VARS):
                value = rewrite_hosts(value, self.routes)
            if value == "0.0.0.0":
                value = address
            for path in sorted(paths, key=len, reverse=True):
                if value == path or value.startswith(path.rstrip("/") + "/"):
                    value = str(paths[path]) + value[len(path.rstrip("/")) :]
                    break
            env[key] = value
        self._check_connections(container, env)
        env = self._broker(container, env)
        venv_bin = Path(sys.executable).parent
        env["PATH"] = f"{venv_bin}:{os.environ.get('PATH', '/usr/bin:/bin')}"
        env["VIRTUAL_ENV"] = str(venv_bin.parent)
        env["HOME"] = str(rootfs)
        if "/tmp" in paths:
            env["TMPDIR"] = str(paths["/tmp"])
        env.update(self.extra_env)
        log_dir = self.run_dir / "kafka-access"
        log_dir.mkdir(exist_ok=True)
        log_dir.chmod(0o777)
        self.access_logs[container.label] = log_dir / f"{container.label}.jsonl"
        env["KAFKA_ACCESS_LOG"] = str(self.access_logs[container.label])
        argv = [sys.executable if a == "python" else a for a in container.argv]
        if not can_switch:
            uid = gid = None
        elif not self._can_run_as(uid, gid, rootfs):
            self.notes.append(
                f"{container.label}: ran as uid {os.geteuid()}: uid {uid} cannot run this "
                "interpreter or read this checkout; writes outside the declared volumes are "
                "caught afterwards instead (root_writes)"
            )
            uid = gid = None
        return Running(
            container,
            address,
            env,
            argv,
            rootfs,
            self.run_dir / "logs" / f"{container.label}.log",
            uid,
            gid,
        )

    def _can_run_as(self, uid: int | None, gid: int | None, cwd: Path) -> bool:
        """Whether that user can run this interpreter and read this checkout (probed once)."""
        if (uid, gid) not in self._runs_as:
            self._runs_as[(uid, gid)] = self._probe_user(uid, gid, cwd)
        return self._runs_as[(uid, gid)]

    def _probe_user(self, uid: int | None, gid: int | None, cwd: Path) -> bool:
        try:
            probe = subprocess.run(
                [sys.executable, "-c", "import mc_platform.service"],
                cwd=cwd,
                user=uid,
                group=gid,
                extra_groups=[],
                capture_output=True,
                timeout=60,
                check=False,
            )
        except OSError:  # the interpreter itself is out of that user's reach
            return False
        return probe.returncode == 0

    def _check_connections(self, container: Container, env: Mapping[str, str]) -> None:
        routed = Container(**{**container.__dict__, "env": dict(env)})
        for kind, named in connections(routed).items():
            for var, host, _ in named:
                if not _loopback(host):
                    raise RehearsalError(
                        f"{container.label}: {var} still names {host} ({kind}) after mapping"
                    )

    def _broker(self, container: Container, env: dict[str, str]) -> dict[str, str]:
        """Validate the Kafka client settings as given, then point them at the embedded
        broker (plaintext, one node, no idempotent producer)."""
        if not self.broker_env or "KAFKA_BOOTSTRAP_SERVERS" not in env:
            return env
        from mc_events.kafka import KafkaSettings

        given = {
            k.removeprefix("KAFKA_").lower(): v for k, v in env.items() if k.startswith("KAFKA_")
        }
        try:
            KafkaSettings.model_validate(given)
        except ValueError as exc:
            raise RehearsalError(f"{container.label}: Kafka settings as given: {exc}") from exc
        secured = sorted(k for k in env if k.startswith(("KAFKA_SASL_", "KAFKA_SSL_")))
        if secured:
            self.notes.append(
                f"{container.label}: {', '.join(secured)} validated, then left out: "
                "the embedded broker speaks plaintext without authentication"
            )
        out = {k: v for k, v in env.items() if k not in secured}
        out.update(self.broker_env)
        return out

    # -- life cycle ---------------------------------------------------------------------

    def __enter__(self) -> Rehearsal:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        (self.run_dir / "logs").mkdir(parents=True, exist_ok=True)
        self._route_connections()
        order = self._order()
        for container in order:
            running = self._prepare(container)
            self.running.append(running)
            self._spawn(running)
            if container.kind in ("init", "job"):
                self._wait_exit(running)
        self.wait_ready()

    def _order(self) -> list[Container]:
        """Init containers and one-shot jobs first (each pod's before its service), then the
        services in dependency order."""
        done: list[Container] = []
        pending = list(self.containers)
        while pending:
            started = {c.workload for c in done}
            progress = False
            for container in list(pending):
                inits_first = container.kind != "service" or all(
                    c in done
                    for c in self.containers
                    if c.workload == container.workload and c.kind == "init"
                )
                deps = [d for d in container.depends_on if d in self.addresses]
                if inits_first and all(d in started for d in deps):
                    done.append(container)
                    pending.remove(container)
                    progress = True
            if not progress:
                raise RehearsalError(f"circular depends_on among {[c.label for c in pending]}")
        return [c for c in done if c.kind != "service"] + [c for c in done if c.kind == "service"]

    def _spawn(self, running: Running) -> None:
        with running.log.open("ab") as out:
            out.write(f"--- {' '.join(running.argv)} (uid {running.uid})\n".encode())
            out.flush()
            running.popen = subprocess.Popen(
                running.argv,
                cwd=running.cwd,
                env=running.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                user=running.uid,
                group=running.gid,
                extra_groups=[] if running.uid is not None else None,
                start_new_session=True,
            )

    def _wait_exit(self, running: Running, timeout: float = 180.0) -> None:
        assert running.popen is not None
        try:
            code = running.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            terminate_popen(running.popen, grace=0.0, group=True)
            code = -9
        if code != 0:
            raise RehearsalError(
                f"{running.container.label} exited {code}:\n{tail(running.log, 60)}"
            )

    def url(self, workload: str) -> str:
        """The workload's HTTP address (its first declared port)."""
        container = next(
            c for c in self.containers if c.workload == workload and c.kind == "service"
        )
        return f"http://{self.addresses[workload]}:{container.ports[0]}"

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        waiting = [r for r in self.running if r.container.kind == "service" and r.container.ready]
        while waiting:
            for running in list(waiting):
                assert running.popen is not None
                assert running.container.ready is not None
                if running.popen.poll() is not None:
                    raise RehearsalError(
                        f"{running.container.label} exited {running.popen.returncode} during "
                        f"start-up:\n{tail(running.log, 60)}"
                    )
                path, port = running.container.ready
                if _http_status(f"http://{running.address}:{port}{path}") == 200:
                    waiting.remove(running)
            if waiting and time.monotonic() > deadline:
                raise RehearsalError(
                    f"not ready after {self.ready_timeout:.0f} s: "
                    + "; ".join(f"{r.container.label}:\n{tail(r.log, 30)}" for r in waiting)
                )
            if waiting:
                time.sleep(0.25)

    def stop(self) -> None:
        terminate_popens((r.popen for r in self.running if r.popen is not None), grace=10.0)

    def root_writes(self) -> dict[str, list[str]]:
        """Files a container wrote to its read-only root filesystem (where it could not be
        enforced, running as root): there must be none."""
        out = {}
        for running in self.running:
            if running.container.read_only_root:
                written = [str(p.relative_to(running.cwd)) for p in running.cwd.rglob("*")]
                if written:
                    out[running.container.label] = written
        return out

    def volume(self, mount: Mount) -> Path:
        """The folder that stood for a mount."""
        return self.run_dir / "volumes" / mount.volume.replace("/", "_")

    def accesses(self) -> dict[str, Path]:
        """The Kafka access log of each process (see ``KAFKA_ACCESS_LOG``)."""
        return dict(self.access_logs)


def _http_status(url: str, timeout: float = 2.0) -> int | None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError, ValueError):
        return None


@contextlib.contextmanager
def moto_s3() -> Iterator[str]:
    """A local S3-compatible server (moto) on loopback; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


S3_KEYS = ("rehearsal-key", "rehearsal-secret")
"""The access key the rehearsal's object store takes (the Secret enrollment-evidence-s3)."""


def s3_client(endpoint: str, region: str) -> Any:
    """A client of the rehearsal's object store, as the state's admin (who creates the bucket)
    or an auditor (who lists it) would use it."""
    import boto3

    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=S3_KEYS[0],
        aws_secret_access_key=S3_KEYS[1],
    )


def infra_stand_ins(handle: InfraHandle) -> dict[str, Target]:
    """The embedded PostgreSQL and broker for the configuration's database and Kafka, and a
    closed loopback port for the trace collector (its exporter gives up quietly)."""
    broker_host, broker_port = handle.infra.kafka_bootstrap.rsplit(":", 1)
    postgres = urllib.parse.urlsplit(handle.infra.postgres_url)
    return {
        "postgres": Target(postgres.hostname or "127.0.0.1", postgres.port or 5432),
        "kafka": Target(broker_host, int(broker_port)),
        "otel": Target("127.0.0.1", free_port(), scheme="http"),
    }
