"""Operator commands: ``mc-events topics ...`` and ``mc-events dlq ...``.

The broker comes from ``KAFKA_BOOTSTRAP_SERVERS`` (and the other ``KAFKA_*`` settings), or
``--bootstrap``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from mc_events import kafka
from mc_events.dlq import list_dead_letters, replay_dead_letters
from mc_events.topics import TOPICS, all_topics, ensure_topics

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
topics_app = typer.Typer(no_args_is_help=True, help="The topic registry.")
dlq_app = typer.Typer(no_args_is_help=True, help="Dead letters: list and replay.")
app.add_typer(topics_app, name="topics")
app.add_typer(dlq_app, name="dlq")
console = Console()

Bootstrap = Annotated[
    str | None, typer.Option("--bootstrap", help="Kafka bootstrap servers (host:port).")
]


def _settings(bootstrap: str | None) -> kafka.KafkaSettings:
    settings = kafka.KafkaSettings()
    if bootstrap:
        settings = settings.model_copy(update={"bootstrap_servers": bootstrap})
    return settings


@topics_app.command("list")
def topics_list() -> None:
    """Every topic: partitions, key rule, retention."""
    table = Table("topic", "partitions", "key", "retention", "description")
    for t in all_topics(TOPICS):
        retention = (
            "compacted"
            if t.compacted
            else ("forever" if t.retention_ms is None else f"{t.retention_ms // 86_400_000} days")
        )
        table.add_row(t.name, str(t.partitions), t.key, retention, t.description)
    console.print(table)


@topics_app.command("create")
def topics_create(bootstrap: Bootstrap = None) -> None:
    """Create every missing topic (idempotent)."""
    settings = _settings(bootstrap)

    async def run() -> list[str]:
        admin = kafka.admin(settings)
        await admin.start()
        try:
            return await ensure_topics(admin, all_topics(TOPICS), settings.replication_factor)
        finally:
            await admin.close()

    created = asyncio.run(run())
    console.print(f"created {len(created)} topics" + (f": {', '.join(created)}" if created else ""))


@dlq_app.command("list")
def dlq_list(
    topic: Annotated[str, typer.Argument(help="Topic (or its .dlq) whose dead letters to list.")],
    limit: Annotated[int | None, typer.Option(help="Show at most this many.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    bootstrap: Bootstrap = None,
) -> None:
    """List dead letters: event, error, where it came from, which consumer gave up."""
    letters = asyncio.run(list_dead_letters(_settings(bootstrap), topic, limit=limit))
    if as_json:
        for d in letters:
            print(
                json.dumps(
                    {
                        "dlq_partition": d.partition,
                        "dlq_offset": d.offset,
                        "event_id": d.event_id,
                        "event_type": d.event_type,
                        "error_type": d.error_type,
                        "error_message": d.error_message,
                        "original": d.original_position,
                        "consumer": d.consumer,
                        "failed_at": d.failed_at,
                    }
                )
            )
        return
    table = Table("dlq offset", "event id", "type", "error", "original", "consumer", "failed at")
    for d in letters:
        table.add_row(
            f"{d.partition}:{d.offset}",
            d.event_id or "-",
            d.event_type or "-",
            f"{d.error_type}: {d.error_message[:80]}",
            d.original_position,
            d.consumer,
            d.failed_at,
        )
    console.print(table)
    console.print(f"{len(letters)} dead letters")


@dlq_app.command("replay")
def dlq_replay(
    topic: Annotated[str, typer.Argument(help="Topic (or its .dlq) whose dead letters to replay.")],
    event_id: Annotated[
        list[str] | None, typer.Option("--event-id", help="Replay only these (repeatable).")
    ] = None,
    replay_all: Annotated[bool, typer.Option("--all", help="Replay every dead letter.")] = False,
    dry_run: Annotated[bool, typer.Option(help="Show what would be replayed.")] = False,
    bootstrap: Bootstrap = None,
) -> None:
    """Publish dead letters to their original topic again (after fixing the cause)."""
    if not event_id and not replay_all:
        raise typer.BadParameter("name the events with --event-id, or pass --all")
    settings = _settings(bootstrap)
    letters = asyncio.run(list_dead_letters(settings, topic))
    chosen = [d for d in letters if replay_all or d.event_id in set(event_id or ())]
    missing = set(event_id or ()) - {d.event_id for d in chosen}
    if missing:
        console.print(f"[red]not in the dead-letter topic: {', '.join(sorted(missing))}[/red]")
        raise typer.Exit(2)
    if dry_run:
        for d in chosen:
            console.print(f"would replay {d.event_id} ({d.event_type}) to {d.original_topic}")
        return
    count = asyncio.run(replay_dead_letters(settings, chosen))
    console.print(f"replayed {count} dead letters")


if __name__ == "__main__":
    app()
