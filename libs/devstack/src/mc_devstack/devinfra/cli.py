"""``mc-dev``: local infrastructure and services for development.

    mc-dev run     [--service NAME[:PORT[:MODULE|SCRIPT.py]] ...] [--infra-only] [--fresh]
    mc-dev stop    stop the running instance (by the PID in .run/dev/run.pid)
    mc-dev status  what runs where (exit 0 running, 1 not running)

Environment: DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS (use these instead of starting anything),
KAFKA_ENABLE_IDEMPOTENCE (for an external broker, default true), MC_INFRA (auto|docker|embedded),
MC_PG_PORT (55432), MC_KAFKA_PORT (59092), <SERVICE>_PORT (8001-8004), MC_DEV_RUN_DIR
(default <repo>/.run/dev), MC_POSTGRES_IMAGE / MC_KAFKA_IMAGE (docker).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from mc_devstack.devinfra.common import (
    DEFAULT_KAFKA_PORT,
    DEFAULT_PG_PORT,
    InfraError,
    dev_run_dir,
    env_port,
)
from mc_devstack.devinfra.supervisor import (
    Supervisor,
    console_for,
    dev_issuer,
    parse_service,
    status,
    stop_running,
)
from mc_platform.auth import Role


def _run_dir(value: str | None) -> Path:
    if value:
        return Path(value).resolve()
    if os.environ.get("MC_DEV_RUN_DIR"):
        return Path(os.environ["MC_DEV_RUN_DIR"]).resolve()
    return dev_run_dir()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mc-dev",
        description="Local PostgreSQL + Kafka + the four services (see `make run`).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--run-dir", help="run folder (default: <repo>/.run/dev)")

    run = sub.add_parser("run", parents=[common], help="start everything, stop on Ctrl-C")
    run.add_argument("--pg-port", type=int, help="embedded/docker PostgreSQL port (MC_PG_PORT)")
    run.add_argument("--kafka-port", type=int, help="embedded/docker Kafka port (MC_KAFKA_PORT)")
    run.add_argument(
        "--service",
        action="append",
        metavar="NAME[:PORT[:TARGET]]",
        help="run only these services (repeatable); TARGET: module or script.py",
    )
    run.add_argument("--infra-only", action="store_true", help="PostgreSQL and Kafka only")
    run.add_argument(
        "--fresh", action="store_true", help="delete the embedded PostgreSQL data first"
    )
    run.add_argument(
        "--no-fsync", action="store_true", help="PostgreSQL fsync off (faster, not crash-safe)"
    )
    run.add_argument("--ready-timeout", type=float, default=60.0, help="seconds (default 60)")
    run.add_argument("--migrate-timeout", type=float, default=120.0, help="seconds (default 120)")
    run.add_argument(
        "--grace", type=float, default=10.0, help="seconds between SIGTERM and SIGKILL"
    )

    stop = sub.add_parser("stop", parents=[common], help="stop the running instance")
    stop.add_argument("--timeout", type=float, default=60.0)

    st = sub.add_parser("status", parents=[common], help="show what runs where")
    st.add_argument("--json", action="store_true")

    tok = sub.add_parser(
        "token",
        parents=[common],
        help="print a bearer token from the development issuer",
        description="Mint an access token for the services of `make run`, e.g. "
        "`mc-dev token --role educator --educator-id TX-0001 --district-id D-1`; "
        'use it as `curl -H "Authorization: Bearer $(mc-dev token --role state_admin)" ...`.',
    )
    tok.add_argument("--role", action="append", required=True, choices=[r.value for r in Role])
    tok.add_argument("--sub", help="subject (default: derived from the role and ids)")
    tok.add_argument("--educator-id")
    tok.add_argument("--assessor-id")
    tok.add_argument("--district-id")
    tok.add_argument("--issuer-id")
    tok.add_argument("--scope", help="space-separated OAuth scopes")
    tok.add_argument("--expires-in", type=int, default=8 * 3600, help="seconds (default 8 h)")
    return parser


def mint_token(args: argparse.Namespace, run_dir: Path) -> str:
    claims = {
        name: value
        for name in ("educator_id", "assessor_id", "district_id", "issuer_id", "scope")
        if (value := getattr(args, name)) is not None
    }
    subject = args.sub or next(iter(claims.values()), None) or f"dev-{args.role[0]}"
    return dev_issuer(run_dir).mint(subject, args.role, expires_in=args.expires_in, **claims)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    run_dir = _run_dir(args.run_dir)
    console = console_for()
    try:
        if args.command == "stop":
            return stop_running(run_dir, timeout=args.timeout, console=console)
        if args.command == "status":
            return status(run_dir, as_json=args.json, console=console)
        if args.command == "token":
            print(mint_token(args, run_dir))
            return 0
        env = dict(os.environ)
        services = None
        if args.infra_only:
            services = []
        elif args.service:
            services = [parse_service(text, env) for text in args.service]
        supervisor = Supervisor(
            run_dir,
            services,
            pg_port=args.pg_port or env_port(env, "MC_PG_PORT", DEFAULT_PG_PORT),
            kafka_port=args.kafka_port or env_port(env, "MC_KAFKA_PORT", DEFAULT_KAFKA_PORT),
            env=env,
            fsync=not args.no_fsync,
            fresh=args.fresh,
            ready_timeout=args.ready_timeout,
            migrate_timeout=args.migrate_timeout,
            grace=args.grace,
            console=console,
        )
        return supervisor.run()
    except InfraError as exc:
        console.print(f"mc-dev: {exc}", style="bold red", markup=False)
        return 1


if __name__ == "__main__":
    sys.exit(main())
