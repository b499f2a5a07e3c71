"""A minimal service on the backbone, for the backbone's own tests.

State: ``counters`` (one row per key, incremented by commands). Every increment adds a
``CounterIncremented`` event to the outbox in the same transaction. The consumer side applies
events to ``effects``, one row per application, so a duplicate application would show as a
second row. Runs in-process (imported by tests) or as a separate process that tests kill -9:

    python backbone_app.py relay   --db URL --kafka HOST:PORT --topic T
    python backbone_app.py consume --db URL --kafka HOST:PORT --topic T --group G
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from mc_events import kafka
from mc_events.consumer import ConsumerSettings, EventConsumer, NonRetryableError
from mc_events.contracts.base import Event, contract_for
from mc_events.db import create_engine, execute_core, session_factory
from mc_events.envelope import Received
from mc_events.outbox import OutboxRelay, RelaySettings, add_event
from mc_events.storage import create_backbone_schema_async
from mc_events.telemetry import BackboneMetrics

metadata = sa.MetaData()
counters = sa.Table(
    "counters",
    metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("n", sa.Integer, nullable=False),
)
effects = sa.Table(
    "effects",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("event_id", sa.Text, nullable=False),
    sa.Column("key", sa.Text, nullable=False),
    sa.Column("n", sa.Integer, nullable=False),
)
# Keys whose events the handler refuses while listed (a handler that "keeps failing").
failing_keys = sa.Table("failing_keys", metadata, sa.Column("key", sa.Text, primary_key=True))


class CounterIncrementedBase(Event):
    """Test event: a counter went up by one (its new value is ``n``)."""

    key_field: ClassVar[str] = "key"
    key: str
    n: int


def counter_contract(topic: str) -> type[CounterIncrementedBase]:
    """A contract class bound to ``topic`` (tests use a fresh topic each)."""
    event_type = f"backbone_test.{topic.replace('.', '_')}"
    existing = contract_for(f"{event_type}.v1")
    if existing is not None:
        return existing  # type: ignore[return-value]
    return type(
        f"CounterIncremented_{topic.replace('.', '_').replace('-', '_')}",
        (CounterIncrementedBase,),
        {"__module__": __name__, "event_type": event_type, "topic": topic},
    )


async def create_schema(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await create_backbone_schema_async(conn)
        await conn.run_sync(metadata.create_all)


async def increment(
    sessions: async_sessionmaker[AsyncSession], contract: type[CounterIncrementedBase], key: str
) -> int:
    """One command: bump the counter and record the event, in one transaction."""
    async with sessions() as session, session.begin():
        n = (
            await execute_core(
                session,
                sa.text(
                    "INSERT INTO counters (key, n) VALUES (:k, 1) "
                    "ON CONFLICT (key) DO UPDATE SET n = counters.n + 1 RETURNING n"
                ),
                {"k": key},
            )
        ).scalar_one()
        await add_event(session, contract(key=key, n=n))
        return int(n)


async def apply_increment(session: AsyncSession, received: Received[Any]) -> None:
    event = received.event
    refused = await execute_core(
        session, sa.select(failing_keys.c.key).where(failing_keys.c.key == event.key)
    )
    if refused.first() is not None:
        if event.key.startswith("unknown-"):
            raise NonRetryableError(f"no such counter {event.key}")
        if event.key.startswith("db-down-"):
            # What the driver raises when the database goes away mid-transaction.
            raise OperationalError("INSERT INTO effects", {}, ConnectionError("server closed"))
        raise RuntimeError(f"refusing key {event.key}")
    await execute_core(
        session, effects.insert().values(event_id=received.envelope.id, key=event.key, n=event.n)
    )


def make_consumer(
    sessions: async_sessionmaker[AsyncSession],
    kafka_settings: kafka.KafkaSettings,
    contract: type[CounterIncrementedBase],
    group: str,
    metrics: BackboneMetrics | None = None,
    name: str | None = None,
) -> EventConsumer:
    return EventConsumer(
        name=name or group,
        group_id=group,
        handlers={contract: apply_increment},
        sessions=sessions,
        kafka_settings=kafka_settings,
        metrics=metrics or BackboneMetrics("backbone_test"),
        settings=ConsumerSettings(max_attempts=2, backoff_initial=0.01, backoff_max=0.05),
    )


def make_relay(
    engine: AsyncEngine, kafka_settings: kafka.KafkaSettings, batch_size: int = 50
) -> OutboxRelay:
    return OutboxRelay(
        engine=engine,
        kafka_settings=kafka_settings,
        metrics=BackboneMetrics("backbone_test"),
        settings=RelaySettings(batch_size=batch_size, poll_interval=0.2, backoff_initial=0.05),
    )


async def _main(args: argparse.Namespace) -> None:
    settings = kafka.KafkaSettings(bootstrap_servers=args.kafka, enable_idempotence=False)
    engine = create_engine(args.db)
    contract = counter_contract(args.topic)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    if args.role == "relay":
        await make_relay(engine, settings, batch_size=args.batch).run(stop)
    else:
        consumer = make_consumer(session_factory(engine), settings, contract, args.group)
        consumer.settings = ConsumerSettings(max_records=args.batch)
        await consumer.run(stop)
    await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["relay", "consume"])
    parser.add_argument("--db", required=True)
    parser.add_argument("--kafka", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", default="backbone-test")
    parser.add_argument("--batch", type=int, default=50)
    asyncio.run(_main(parser.parse_args()))
