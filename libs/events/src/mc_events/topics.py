"""The topic registry: every topic the system publishes, its partitions, key rule and retention.

Topics are named ``<service>.<aggregate>``; the key keeps one aggregate's events on one partition,
in order. Each topic has a dead-letter twin ``<topic>.dlq`` for records a consumer could not
process. :func:`ensure_topics` creates them all, idempotently, at start-up.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from mc_events.kafka import record_access

log = logging.getLogger(__name__)

DAY_MS = 24 * 60 * 60 * 1000
DLQ_SUFFIX = ".dlq"


@dataclass(frozen=True)
class Topic:
    """One topic: what it carries and how it is laid out."""

    name: str
    partitions: int
    key: str
    """What the record key is (the partition key rule)."""
    description: str
    retention_ms: int | None = None
    """None keeps records forever (the award history is replayable from the beginning)."""
    compacted: bool = False

    def configs(self) -> dict[str, str]:
        if self.compacted:
            return {"cleanup.policy": "compact"}
        return {"retention.ms": str(self.retention_ms if self.retention_ms is not None else -1)}

    @property
    def dlq(self) -> Topic:
        return Topic(
            name=dlq_topic(self.name),
            partitions=1,
            key=self.key,
            description=f"Dead letters of {self.name}: records a consumer could not process, "
            "with the error in headers.",
            retention_ms=None,
        )

    def with_dlq(self) -> list[Topic]:
        return [self, self.dlq]


def dlq_topic(name: str) -> str:
    return f"{name}{DLQ_SUFFIX}"


CATALOG = Topic(
    "registry.catalog",
    6,
    key="micro-credential id or stack id",
    description="The state catalog: micro-credentials and stacks published and retired.",
)
ROSTER = Topic(
    "enrollment.roster",
    12,
    key="state educator id",
    description="Educators registered, updated or moved between districts (from HR imports).",
)
ENROLLMENTS = Topic(
    "enrollment.enrollments",
    12,
    key="enrollment id",
    description="Enrollment lifecycle: enrolled, evidence submitted, returned, withdrawn, "
    "expired, not earned.",
)
REVIEWS = Topic(
    "review.reviews",
    12,
    key="enrollment id",
    description="Assessor assignments and review decisions with per-criterion results.",
)
CREDENTIALS = Topic(
    "registry.credentials",
    12,
    key="state educator id",
    description="The system of record's awards: credentials awarded, revoked, suspended, "
    "reinstated; stacks completed; renewal credits; endorsement eligibility.",
)
PAYMENTS = Topic(
    "compensation.payments",
    12,
    key="state educator id",
    description="Stipends approved, reversed (clawback) and deferred for lack of budget.",
)
PAYROLL = Topic(
    "compensation.payroll",
    6,
    key="district id",
    description="Payroll batches exported to and acknowledged by district payroll systems.",
)

TOPICS: tuple[Topic, ...] = (CATALOG, ROSTER, ENROLLMENTS, REVIEWS, CREDENTIALS, PAYMENTS, PAYROLL)


def topic(name: str) -> Topic:
    for t in all_topics():
        if t.name == name:
            return t
    raise KeyError(f"unknown topic {name!r}")


def all_topics(topics: Iterable[Topic] = TOPICS) -> list[Topic]:
    """The topics with their dead-letter twins."""
    return [each for t in topics for each in t.with_dlq()]


async def ensure_topics(
    admin: AIOKafkaAdminClient, topics: Iterable[Topic], replication_factor: int = 1
) -> list[str]:
    """Create the topics that do not exist yet; returns the names created.

    Idempotent: existing topics are left as they are (their partition count is not changed).
    """
    wanted = list(topics)
    for t in wanted:
        # A topic the principal may not describe is missing from the answer (and creating it
        # is then refused): looking for it takes Describe on it.
        record_access(admin, "topic", t.name, "Describe")
    existing = set(await admin.list_topics())
    missing = [t for t in wanted if t.name not in existing]
    if not missing:
        return []
    new = [
        NewTopic(
            t.name,
            num_partitions=t.partitions,
            replication_factor=replication_factor,
            topic_configs=t.configs(),
        )
        for t in missing
    ]
    try:
        response = await admin.create_topics(new)
    except TopicAlreadyExistsError:
        # Another process created them between our list and create: that is the goal anyway.
        return []
    created: list[str] = []
    for name, code, *_ in getattr(response, "topic_errors", []):
        # 36 = TOPIC_ALREADY_EXISTS: a concurrent start-up got there first.
        if code not in (0, 36):
            raise RuntimeError(f"could not create topic {name}: error code {code}")
        if code == 0:
            created.append(name)
    if created:
        log.info("created topics", extra={"topics": created})
    return created
