"""Operator commands: ``mc-events topics ...``, ``mc-events dlq ...``,
``mc-events pipeline status`` and ``mc-events district republish``.

The broker comes from ``KAFKA_BOOTSTRAP_SERVERS`` (and the other ``KAFKA_*`` settings), or
``--bootstrap``. Service databases come from ``<SERVICE>_DATABASE_URL``, or ``DATABASE_URL``
(a server: each service's database is named after it), or ``--database-url service=URL``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Annotated

import typer
from aiokafka.errors import KafkaError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.engine import make_url

from mc_events import district, kafka
from mc_events.dlq import list_dead_letters, replay_dead_letters
from mc_events.operations import (
    SUBSCRIPTIONS,
    PipelineStatus,
    ServiceTarget,
    pipeline_status,
    strimzi_topics,
    to_yaml,
)
from mc_events.topics import TOPICS, all_topics, ensure_topics

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
topics_app = typer.Typer(no_args_is_help=True, help="The topic registry.")
dlq_app = typer.Typer(no_args_is_help=True, help="Dead letters: list and replay.")
pipeline_app = typer.Typer(no_args_is_help=True, help="The pipeline as a whole.")
district_app = typer.Typer(no_args_is_help=True, help="Per-district award streams.")
app.add_typer(topics_app, name="topics")
app.add_typer(dlq_app, name="dlq")
app.add_typer(pipeline_app, name="pipeline")
app.add_typer(district_app, name="district")
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


@topics_app.command("strimzi")
def topics_strimzi(
    cluster: Annotated[str, typer.Option(help="The Strimzi Kafka cluster's name.")] = "mc-kafka",
    replicas: Annotated[int, typer.Option(help="Replication factor.")] = 3,
    min_insync_replicas: Annotated[int, typer.Option(help="min.insync.replicas.")] = 2,
) -> None:
    """Print every topic as a Strimzi KafkaTopic (deploy/k8s/platform/kafka-topics.yaml)."""
    header = (
        "Generated from mc_events.topics (the topic registry): do not edit by hand.\n"
        "  mc-events topics strimzi > deploy/k8s/platform/kafka-topics.yaml\n"
        "tests/unit/test_deploy_platform.py fails when this file and the registry disagree."
    )
    resources = strimzi_topics(cluster, replicas=replicas, min_insync_replicas=min_insync_replicas)
    sys.stdout.write(to_yaml(resources, header))


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


def _pairs(values: list[str] | None, option: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for value in values or ():
        name, sep, rest = value.partition("=")
        if not sep or not name or not rest:
            raise typer.BadParameter(f"expected SERVICE=VALUE, got {value!r}", param_hint=option)
        pairs[name] = rest
    return pairs


def _database_url(service: str, given: dict[str, str]) -> str | None:
    if service in given:
        return given[service]
    own = os.environ.get(f"{service.upper()}_DATABASE_URL")
    if own:
        return own
    server = os.environ.get("DATABASE_URL")
    if server:
        # make run / the test fixtures: one server, a database per service named after it.
        return make_url(server).set(database=service).render_as_string(hide_password=False)
    return None


def pipeline_targets(
    services: list[str] | None,
    database_urls: list[str] | None,
    groups: list[str] | None,
    subscriptions: list[str] | None,
) -> tuple[list[ServiceTarget], dict[str, tuple[str, ...]]]:
    """Which services to look at, where their databases are, what their groups read."""
    subscribed = dict(SUBSCRIPTIONS)
    for name, topics in _pairs(subscriptions, "--subscription").items():
        subscribed[name] = tuple(t for t in topics.split(",") if t)
    names = list(dict.fromkeys(services or SUBSCRIPTIONS))
    unknown = [name for name in names if name not in subscribed]
    if unknown:
        raise typer.BadParameter(
            f"unknown service {', '.join(unknown)}: name its topics with --subscription",
            param_hint="--service",
        )
    urls = _pairs(database_urls, "--database-url")
    group_ids = _pairs(groups, "--group")
    targets = [
        ServiceTarget(
            name=name,
            database_url=_database_url(name, urls),
            group_id=group_ids.get(name)
            or os.environ.get(f"{name.upper()}_CONSUMER_GROUP")
            or name,
        )
        for name in names
    ]
    return targets, {name: subscribed[name] for name in names}


def render_status(status: PipelineStatus, out: Console) -> None:
    table = Table("service", "outbox backlog", "oldest unpublished", "topic", "lag", "problems")
    for s in status.services:
        backlog = "?" if s.outbox_backlog is None else str(s.outbox_backlog)
        age = "?" if s.outbox_oldest_age_seconds is None else f"{s.outbox_oldest_age_seconds:.1f} s"
        problems = "; ".join(s.errors) or "-"
        rows = s.lag or []
        if not rows:
            table.add_row(s.service, backlog, age, "-", "-", problems)
        for i, lag in enumerate(rows):
            first = i == 0
            table.add_row(
                s.service if first else "",
                backlog if first else "",
                age if first else "",
                lag.topic,
                f"{lag.lag} ({lag.committed}/{lag.end})",
                problems if first else "",
            )
    out.print(table)
    dead = Table("dead-letter topic", "records")
    for name, count in status.dead_letters.items():
        dead.add_row(name, f"[red]{count}[/red]" if count else "0")
    out.print(dead)
    total = sum(status.dead_letters.values())
    out.print(
        f"checked at {status.checked_at}: "
        f"{sum(s.outbox_backlog or 0 for s in status.services)} events in outboxes, "
        f"{sum(s.total_lag for s in status.services)} records of consumer lag, "
        f"{total} dead letters" + (" (mc-events dlq list <topic>)" if total else "")
    )


@pipeline_app.command("status")
def pipeline_status_command(
    service: Annotated[
        list[str] | None,
        typer.Option("--service", help="Only these services (repeatable); default: all four."),
    ] = None,
    database_url: Annotated[
        list[str] | None,
        typer.Option("--database-url", help="SERVICE=URL of a service's database (repeatable)."),
    ] = None,
    group: Annotated[
        list[str] | None,
        typer.Option(
            "--group", help="SERVICE=GROUP when a consumer group is not the service name."
        ),
    ] = None,
    subscription: Annotated[
        list[str] | None,
        typer.Option(
            "--subscription", help="SERVICE=TOPIC[,TOPIC...]: the topics a service's group reads."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document.")] = False,
    bootstrap: Bootstrap = None,
) -> None:
    """Per service: outbox backlog and oldest age, consumer lag per topic; dead letters per
    topic. Exits 1 when a part could not be read (it is named in the output), 2 when the
    broker cannot be reached."""
    targets, subscriptions = pipeline_targets(service, database_url, group, subscription)
    topics = [t.name for t in TOPICS]
    topics += [name for names in subscriptions.values() for name in names]
    settings = _settings(bootstrap)
    try:
        status = asyncio.run(pipeline_status(settings, targets, subscriptions, topics=topics))
    except KafkaError as exc:
        console.print(f"[red]Kafka at {settings.bootstrap_servers}: {exc}[/red]")
        raise typer.Exit(2) from exc
    if as_json:
        print(json.dumps(status.to_json(), indent=2))
    else:
        render_status(status, console)
    if any(s.errors for s in status.services):
        raise typer.Exit(1)


@district_app.command("republish")
def district_republish(
    district_id: Annotated[str, typer.Argument(help="The district id (as in the events).")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be sent; send nothing.")
    ] = False,
    source: Annotated[
        list[str] | None,
        typer.Option(
            "--source",
            help="Read this topic instead of the fan-out's (repeatable; e.g. a restored copy).",
        ),
    ] = None,
    bootstrap: Bootstrap = None,
) -> None:
    """Rebuild a district's award topics: read the registry's source topic from its beginning
    and send that district's records again to district.<id>.awards and .awards.state, byte for
    byte (same CloudEvent ids: readers drop what they already have). Safe to run twice."""
    try:
        names = sorted(district.topic_names(district_id))
    except district.InvalidDistrictId as exc:
        raise typer.BadParameter(str(exc), param_hint="DISTRICT_ID") from exc
    try:
        router = district.installed_router()
    except district.NoDistrictRouter as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    settings = _settings(bootstrap)
    sources = source or list(router.source_topics)
    verb = "would send" if dry_run else "sent"
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(f"reading {', '.join(sources)}", total=None)

        def advance(read: int, total: int) -> None:
            bar.update(task, completed=read, total=total)

        try:
            result = asyncio.run(
                district.republish(
                    settings,
                    router,
                    district_id,
                    source_topics=sources,
                    dry_run=dry_run,
                    progress=advance,
                )
            )
        except (KafkaError, ValueError) as exc:
            console.print(f"[red]Kafka at {settings.bootstrap_servers}: {exc}[/red]")
            raise typer.Exit(2) from exc
    table = Table("topic", "records " + verb)
    for name in names:
        table.add_row(name, str(result.by_topic.get(name, 0)))
    console.print(table)
    console.print(
        f"district {district_id}: {verb} {result.sent} records from {result.read} source "
        "records"
        + (
            f"; {result.unroutable} unreadable (in the dead-letter topic)"
            if result.unroutable
            else ""
        )
    )


if __name__ == "__main__":
    app()
