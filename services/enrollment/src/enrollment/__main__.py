"""``python -m enrollment serve | migrate | relay | consume | audit-verify | sweep-deadlines``."""

import asyncio
import json
from collections.abc import Sequence

import typer

from enrollment.bootstrap import build, deadline_scheduler
from mc_events.db import create_engine, session_factory
from mc_events.telemetry import configure_logging
from mc_platform import service


async def _sweep_once() -> dict[str, object]:
    definition = build()
    settings = definition.settings
    configure_logging(definition.name, settings.log_level, json=settings.log_json)
    engine = create_engine(settings.database_url, pool_size=2)
    try:
        result = await deadline_scheduler(definition).run_once(engine, session_factory(engine))
    finally:
        await engine.dispose()
    if result is None:
        return {"skipped": "another sweep holds the lock"}
    return {"expired": result.expired, "reminded": result.reminded}


def sweep_deadlines() -> None:
    """Run the deadline sweep once (expire overdue enrollments, send due reminders) and print
    what it did as JSON; for a cron job when ``ENROLLMENT_DEADLINE_SWEEP_ENABLED=false``."""
    typer.echo(json.dumps(asyncio.run(_sweep_once())))


def cli() -> typer.Typer:
    app = service.cli(build)
    app.command("sweep-deadlines")(sweep_deadlines)
    return app


def main(argv: Sequence[str] | None = None) -> None:
    cli()(args=list(argv) if argv is not None else None)


if __name__ == "__main__":
    main()
