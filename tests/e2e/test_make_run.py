"""`make run` (mc-dev run) brings up the whole system on embedded infrastructure: all four
services healthy within a minute, `make demo` drives educators through it to a summary, and
Ctrl-C stops every process it started."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

SERVICES = {
    "enrollment": "ENROLLMENT",
    "review": "REVIEW",
    "registry": "REGISTRY",
    "compensation": "COMPENSATION",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def all_ready(ports: dict[str, int]) -> dict[str, int]:
    statuses = {}
    for name, port in ports.items():
        try:
            statuses[name] = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code
        except httpx.HTTPError:
            statuses[name] = 0
    return statuses


def test_make_run_brings_up_all_four_services_healthy_a_demo_runs_on_it_and_it_stops_cleanly(
    tmp_path: Path,
):
    ports = {name: free_port() for name in SERVICES}
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")
    }
    env.update({f"{prefix}_PORT": str(ports[name]) for name, prefix in SERVICES.items()})
    env["MC_INFRA"] = "embedded"
    run_dir = tmp_path / "run"
    log = (tmp_path / "mc-dev.log").open("w")
    started = time.monotonic()
    supervisor = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mc_devstack.devinfra.cli",
            "run",
            "--run-dir",
            str(run_dir),
            "--pg-port",
            str(free_port()),
            "--kafka-port",
            str(free_port()),
            "--no-fsync",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        statuses: dict[str, int] = {}
        while time.monotonic() - started < 60:
            statuses = all_ready(ports)
            if all(code == 200 for code in statuses.values()):
                break
            assert supervisor.poll() is None, (tmp_path / "mc-dev.log").read_text()[-3000:]
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        assert all(code == 200 for code in statuses.values()), (
            f"not ready after {elapsed:.0f}s: {statuses}\n"
            + (tmp_path / "mc-dev.log").read_text()[-3000:]
        )
        for name, port in ports.items():
            ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).json()
            assert ready["checks"]["database"] == "ok", name
            assert ready["checks"]["broker"] == "ok", name

        # `make demo` on top: seeds a small state, drives educators to an award, and prints
        # the summary read back from the services' APIs and the streams.
        demo = subprocess.run(
            [
                sys.executable,
                "-m",
                "mc_devstack.pipeline.demo",
                "--run-dir",
                str(run_dir),
                "--districts",
                "2",
                "--schools",
                "2",
                "--educators",
                "60",
                "--assessors",
                "6",
                "--drive",
                "8",
            ],
            env={**env, "COLUMNS": "200"},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
        summary = " ".join(demo.stdout.split())
        assert "credentials 8; stipends 8 ($" in summary, summary[-2000:]
        assert "failures 0" in summary
        assert "pass rate" in summary
        assert "time to decision" in summary
        assert "where to look" in summary

        # Services and broker are recorded by the supervisor; PostgreSQL by its own pid file.
        pids = [child["pid"] for child in json.loads((run_dir / "children.json").read_text())]
        assert len(pids) >= 5, "four services and the broker"
        postmaster = run_dir / "postgres" / "data" / "postmaster.pid"
        pids.append(int(postmaster.read_text().splitlines()[0]))

        supervisor.send_signal(signal.SIGINT)  # what Ctrl-C sends
        assert supervisor.wait(60) == 0
    finally:
        if supervisor.poll() is None:
            os.killpg(supervisor.pid, signal.SIGKILL)
            supervisor.wait(10)
        log.close()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.2)
    assert not [pid for pid in pids if _alive(pid)], "every process make run started is gone"
    for port in ports.values():
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
