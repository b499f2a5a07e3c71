"""A stand-in service for the supervisor's tests: ``python devinfra_fake_service.py ACTION``
(its name comes from ``MC_SERVICE``, as the supervisor sets it).

``migrate`` creates a table in ``<NAME>_DATABASE_URL``; ``serve`` checks that table, starts a
"worker" child process (like a multi-worker server would) and answers ``GET /readyz`` with what
it received. It records its PIDs under ``$MC_RUN_DIR/fake/`` so tests can check that nothing is
left behind. ``FAKE_<NAME>`` selects a misbehaviour: ``fail-migrate``, ``die-on-serve``,
``ignore-term`` (needs SIGKILL).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import asyncpg


async def migrate(url: str) -> None:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        await conn.execute("CREATE TABLE IF NOT EXISTS fake_migrated (id int PRIMARY KEY)")
        await conn.execute("INSERT INTO fake_migrated VALUES (1) ON CONFLICT DO NOTHING")
    finally:
        await conn.close()


async def check(url: str) -> int:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM fake_migrated"))
    finally:
        await conn.close()


def record(name: str, action: str, *pids: int) -> None:
    folder = Path(os.environ["MC_RUN_DIR"]) / "fake"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.{action}.{os.getpid()}").write_text(" ".join(map(str, pids)))


def main() -> int:
    name, action = os.environ["MC_SERVICE"], sys.argv[1]
    prefix = name.upper()
    port = int(os.environ[f"{prefix}_PORT"])
    db_url = os.environ[f"{prefix}_DATABASE_URL"]
    behaviour = os.environ.get(f"FAKE_{prefix}", "")
    record(name, action, os.getpid())
    print(f"{name} {action}: pid {os.getpid()}, behaviour {behaviour or 'normal'}", flush=True)

    if action == "migrate":
        if behaviour == "fail-migrate":
            print("migration exploded: relation already exists", flush=True)
            return 3
        asyncio.run(migrate(db_url))
        print("migrated", flush=True)
        return 0

    if behaviour == "die-on-serve":
        print("boom: cannot serve", flush=True)
        return 4
    rows = asyncio.run(check(db_url))
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    record(name, action, os.getpid(), worker.pid)
    info = {
        "name": name,
        "pid": os.getpid(),
        "worker_pid": worker.pid,
        "migrated_rows": rows,
        "database_url": db_url,
        "kafka_bootstrap": os.environ["KAFKA_BOOTSTRAP_SERVERS"],
        "kafka_idempotence": os.environ["KAFKA_ENABLE_IDEMPOTENCE"],
        "run_dir": os.environ["MC_RUN_DIR"],
    }

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(info).encode()
            self.send_response(200 if self.path == "/readyz" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)

    def on_term(signum: int, frame: object) -> None:
        # Deliberately leaves the worker running: the supervisor must clean the process group.
        raise SystemExit(0)

    if behaviour == "ignore-term":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGTERM, on_term)
    print(f"serving on {port}", flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
