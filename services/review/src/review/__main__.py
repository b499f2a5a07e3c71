"""``python -m review serve | migrate | relay | consume | audit-verify | sweep-overdue``."""

import asyncio
import json
import signal
from collections.abc import Sequence
from dataclasses import asdict

import typer

from mc_events.db import create_engine, session_factory
from mc_events.telemetry import configure_logging
from mc_platform import service
from review.bootstrap import build, scheduler
from review.config import Settings
from review.service_layer.unit_of_work import UnitOfWork


async def _sweep(every: float | None) -> None:
    definition = build()
    settings = definition.settings
    assert isinstance(settings, Settings)
    configure_logging(definition.name, settings.log_level, json=settings.log_json)
    runner = scheduler(settings, definition.registry)
    engine = create_engine(settings.database_url, pool_size=2)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        while True:
            result = await runner.sweep_once(UnitOfWork(session_factory(engine)))
            typer.echo(json.dumps(asdict(result)))
            if every is None:
                return
            try:
                await asyncio.wait_for(stop.wait(), timeout=every)
                return
            except TimeoutError:
                continue
    finally:
        await engine.dispose()


def sweep_overdue(
    every: float | None = typer.Option(
        None, help="Run every this many seconds until stopped, instead of once."
    ),
) -> None:
    """Reassign and escalate assignments past their SLA due date; print what was done."""
    asyncio.run(_sweep(every))


def cli() -> typer.Typer:
    app = service.cli(build)
    app.command("sweep-overdue")(sweep_overdue)
    return app


def main(argv: Sequence[str] | None = None) -> None:
    cli()(args=list(argv) if argv is not None else None)


if __name__ == "__main__":
    main()
