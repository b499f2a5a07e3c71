"""What operators and deployment tooling read from the backbone.

* :func:`strimzi_topics`: the topic registry as Strimzi ``KafkaTopic`` resources, so the
  cluster's topics are generated from :mod:`mc_events.topics` and cannot drift from it
  (``mc-events topics strimzi > deploy/k8s/platform/kafka-topics.yaml``).
* :func:`pipeline_status`: for each service, its outbox backlog and oldest age (from its own
  database), its consumer group's lag per topic, and how many records wait in each dead-letter
  topic (from Kafka) -- what ``mc-events pipeline status`` prints.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from mc_events import kafka
from mc_events.dlq import _stop as stop_consumer
from mc_events.topics import TOPICS, Topic, all_topics, dlq_topic

# ---------------------------------------------------------------------------------------------
# Strimzi KafkaTopic resources

STRIMZI_API = "kafka.strimzi.io/v1"


def strimzi_topics(
    cluster: str = "mc-kafka",
    *,
    replicas: int = 3,
    min_insync_replicas: int = 2,
    topics: Iterable[Topic] = TOPICS,
) -> list[dict[str, Any]]:
    """One ``KafkaTopic`` per topic and dead-letter twin, laid out as the registry says."""
    resources: list[dict[str, Any]] = []
    for t in all_topics(topics):
        config: dict[str, Any] = dict(t.configs())
        config["min.insync.replicas"] = str(min_insync_replicas)
        resources.append(
            {
                "apiVersion": STRIMZI_API,
                "kind": "KafkaTopic",
                "metadata": {
                    # Kubernetes names allow dots but not underscores; topic names have neither.
                    "name": t.name.replace("_", "-"),
                    "labels": {"strimzi.io/cluster": cluster},
                    "annotations": {"mc-backbone/description": t.description},
                },
                "spec": {
                    "topicName": t.name,
                    "partitions": t.partitions,
                    "replicas": replicas,
                    "config": config,
                },
            }
        )
    return resources


def to_yaml(documents: Sequence[Mapping[str, Any]], header: str = "") -> str:
    """A YAML stream of plain documents (dicts, lists, strings, numbers, booleans)."""

    def scalar(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        return json.dumps(str(value), ensure_ascii=False)  # a double-quoted YAML scalar

    def emit(value: Any, indent: int) -> list[str]:
        pad = " " * indent
        lines: list[str] = []
        if isinstance(value, Mapping):
            for key, item in value.items():
                if isinstance(item, Mapping | list) and item:
                    lines.append(f"{pad}{key}:")
                    lines.extend(emit(item, indent + 2))
                elif isinstance(item, Mapping | list):
                    lines.append(f"{pad}{key}: {'{}' if isinstance(item, Mapping) else '[]'}")
                else:
                    lines.append(f"{pad}{key}: {scalar(item)}")
        else:
            for item in value:
                if isinstance(item, Mapping | list):
                    nested = emit(item, indent + 2)
                    lines.append(f"{pad}- {nested[0].lstrip()}")
                    lines.extend(nested[1:])
                else:
                    lines.append(f"{pad}- {scalar(item)}")
        return lines

    out = [f"# {line}".rstrip() for line in header.splitlines()]
    for document in documents:
        out.append("---")
        out.extend(emit(document, 0))
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------
# Pipeline status


SUBSCRIPTIONS: dict[str, tuple[str, ...]] = {
    # What each service's consumer group reads (its bootstrap.py ``subscribes=``; a unit test
    # keeps the two in step). The CLI does not import the services.
    "enrollment": ("registry.catalog", "review.reviews"),
    "review": ("registry.catalog", "enrollment.roster", "enrollment.enrollments"),
    "registry": (
        "review.reviews",
        "enrollment.enrollments",
        "enrollment.roster",
        "registry.catalog",
    ),
    "compensation": ("registry.credentials", "enrollment.roster"),
}


@dataclass(frozen=True)
class ServiceTarget:
    """Where one service's state lives: its database and its consumer group."""

    name: str
    database_url: str | None
    group_id: str


@dataclass
class TopicLag:
    topic: str
    lag: int
    committed: int
    end: int
    partitions: int


@dataclass
class ServiceStatus:
    service: str
    outbox_backlog: int | None = None
    outbox_oldest_age_seconds: float | None = None
    lag: list[TopicLag] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def total_lag(self) -> int:
        return sum(t.lag for t in self.lag)


@dataclass
class PipelineStatus:
    services: list[ServiceStatus]
    dead_letters: dict[str, int]
    checked_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def to_json(self) -> dict[str, Any]:
        services = []
        for s in self.services:
            item = asdict(s)
            item["total_lag"] = s.total_lag
            services.append(item)
        return {
            "checked_at": self.checked_at,
            "services": services,
            "dead_letters": self.dead_letters,
            "dead_letters_total": sum(self.dead_letters.values()),
        }


async def outbox_status(database_url: str) -> tuple[int, float]:
    """(unpublished rows, age in seconds of the oldest) of one service's outbox."""
    from sqlalchemy import text

    from mc_events.db import create_engine

    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            row = (
                await connection.execute(
                    text(
                        "SELECT count(*), "
                        "coalesce(extract(epoch FROM now() - min(created_at)), 0) "
                        "FROM event_outbox WHERE published_at IS NULL"
                    )
                )
            ).one()
    finally:
        await engine.dispose()
    return int(row[0]), float(row[1])


async def _end_offsets(
    consumer: AIOKafkaConsumer, partitions: Sequence[TopicPartition]
) -> dict[TopicPartition, int]:
    if not partitions:
        return {}
    ends: dict[TopicPartition, int] = await consumer.end_offsets(list(partitions))
    return ends


async def _committed(
    settings: kafka.KafkaSettings, group_id: str, partitions: Sequence[TopicPartition]
) -> dict[TopicPartition, int]:
    """The group's committed offsets (OffsetFetch through a consumer that never joins)."""
    consumer = kafka.consumer(settings, group_id=group_id, client_id=f"{settings.client_id}-status")
    try:
        await consumer.start()
        committed: dict[TopicPartition, int] = {}
        for tp in partitions:
            offset = await consumer.committed(tp)
            committed[tp] = offset if offset is not None else 0
        return committed
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topics: Iterable[str]) -> list[TopicPartition]:
    existing = await consumer.topics()
    found: list[TopicPartition] = []
    for name in sorted(set(topics) & existing):
        for partition in sorted(consumer.partitions_for_topic(name) or ()):
            found.append(TopicPartition(name, partition))
    return found


async def pipeline_status(
    settings: kafka.KafkaSettings,
    targets: Sequence[ServiceTarget],
    subscriptions: Mapping[str, Sequence[str]],
    *,
    topics: Iterable[str] = (),
) -> PipelineStatus:
    """Outbox, consumer lag and dead letters of every target, read once.

    ``subscriptions`` maps a service to the topics its consumer group reads; dead letters are
    counted in the ``.dlq`` twin of each of ``topics`` (default: the registry's). A part that
    cannot be read (a database down, say) is reported in that service's ``errors`` and the
    rest is still reported.
    """

    names = list(topics) or [t.name for t in TOPICS]
    dlq_names = [dlq_topic(name) for name in dict.fromkeys(names)]
    statuses = [ServiceStatus(t.name) for t in targets]
    for status, target in zip(statuses, targets, strict=True):
        if target.database_url is None:
            status.errors.append("no database URL: outbox not checked")
            continue
        try:
            backlog, age = await outbox_status(target.database_url)
        except Exception as exc:  # reported, not raised: the other figures still help
            status.errors.append(f"outbox: {type(exc).__name__}: {exc}")
        else:
            status.outbox_backlog, status.outbox_oldest_age_seconds = backlog, age

    probe = kafka.consumer(settings, group_id=None, client_id=f"{settings.client_id}-status")
    try:
        await probe.start()
        dlq_partitions = await _partitions(probe, dlq_names)
        dlq_ends = await _end_offsets(probe, dlq_partitions)
        dlq_starts: dict[TopicPartition, int] = (
            await probe.beginning_offsets(dlq_partitions) if dlq_partitions else {}
        )
        dead_letters: dict[str, int] = dict.fromkeys(dlq_names, 0)
        for tp, end in dlq_ends.items():
            dead_letters[tp.topic] += max(end - dlq_starts.get(tp, 0), 0)

        for status, target in zip(statuses, targets, strict=True):
            subscribed = subscriptions.get(target.name, ())
            partitions = await _partitions(probe, subscribed)
            try:
                ends = await _end_offsets(probe, partitions)
                committed = await _committed(settings, target.group_id, partitions)
            except Exception as exc:
                status.errors.append(f"consumer lag: {type(exc).__name__}: {exc}")
                continue
            for name in sorted(subscribed):
                parts = [tp for tp in partitions if tp.topic == name]
                if not parts:
                    status.errors.append(f"topic {name} does not exist")
                    continue
                end = sum(ends[tp] for tp in parts)
                done = sum(min(committed[tp], ends[tp]) for tp in parts)
                status.lag.append(TopicLag(name, end - done, done, end, len(parts)))
    finally:
        await stop_consumer(probe)
    return PipelineStatus(statuses, dead_letters)
