"""Reference consumer: read one district's award stream with a plain Kafka client.

Nothing from this repository is imported: only ``aiokafka`` (any Kafka client works) and the
CloudEvents SDK (``cloudevents`` 2.x), which reads our records (CloudEvents 1.0, Kafka binary
content mode: ``ce_*`` headers, JSON value, the educator id as the key).

    python district_consumer.py --bootstrap 127.0.0.1:59092 --district D-1

It reads ``district.<id>.awards`` from the beginning (a new consumer group starts there) and
prints each award event once. Delivery is at least once (the fan-out may send an event again
after a crash, with the same CloudEvent id), so it skips ids it has already handled; a real
integration keeps ``seen`` in its own database, written in the same transaction as the effect.
Offsets are committed after the events are handled: a crash re-reads, never skips.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer  # noqa: TID251 (a district's program, not a service)
from cloudevents.core.base import BaseCloudEvent as CloudEvent
from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.formats.json import JSONFormat


def topic_id(district_id: str) -> str:
    """The district id in names: letters, digits and ``-`` kept, any other byte as ``_hh``."""
    return "".join(
        c if re.fullmatch(r"[A-Za-z0-9-]", c) else "".join(f"_{b:02x}" for b in c.encode())
        for c in district_id
    )


def topic_for(district_id: str) -> str:
    """``district.<id>.awards``."""
    return f"district.{topic_id(district_id)}.awards"


def default_group(district_id: str) -> str:
    """``district.<id>.reference``: a district's principal may use only groups named
    ``district.<id>.<anything>`` (ACL prefix ``district.<id>.``, docs/security.md)."""
    return f"district.{topic_id(district_id)}.reference"


def describe(event: CloudEvent) -> str:
    data: Any = event.get_data()
    if isinstance(data, (bytes, str)):
        data = json.loads(data)
    kind = event.get_type().removeprefix("registry.")
    who = data.get("educator_id", "?")
    what = data.get("achievement_name") or data.get("credential_id") or data.get("stack_id", "")
    return f"{event.get_time()} {kind:<30} educator={who} {what} (id {event.get_id()})"


async def consume(
    bootstrap: str,
    district_id: str,
    *,
    group_id: str,
    on_event: Callable[[CloudEvent], None] = lambda e: print(describe(e), flush=True),
    stop_after_idle: float | None = None,
    seen: set[str] | None = None,
) -> set[str]:
    """Read the district's awards from the beginning; call ``on_event`` once per event id.

    Returns the ids handled. ``stop_after_idle``: return after that many seconds without a
    record (None: run forever)."""
    seen = set() if seen is None else seen
    consumer = AIOKafkaConsumer(
        topic_for(district_id),
        bootstrap_servers=bootstrap,
        group_id=group_id,
        auto_offset_reset="earliest",  # a new group reads the stream from its beginning
        enable_auto_commit=False,  # commit after handling, never before
        fetch_max_wait_ms=50,
    )
    await consumer.start()
    idle = 0.0
    try:
        while stop_after_idle is None or idle < stop_after_idle:
            batches = await consumer.getmany(timeout_ms=250)
            if not batches:
                idle += 0.25
                continue
            idle = 0.0
            for records in batches.values():
                for record in records:
                    event = ce_kafka.from_binary(
                        ce_kafka.KafkaMessage(
                            headers=dict(record.headers), key=record.key, value=record.value
                        ),
                        JSONFormat(),
                    )
                    if event.get_id() in seen:
                        continue  # a redelivery: same CloudEvent id, already handled
                    on_event(event)
                    seen.add(event.get_id())
            await consumer.commit()
    finally:
        await consumer.stop()
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:59092")
    parser.add_argument("--district", required=True)
    parser.add_argument(
        "--group", default=None, help="consumer group (default: district.<id>.reference)"
    )
    parser.add_argument("--idle-exit", type=float, default=None, help="exit after N idle seconds")
    args = parser.parse_args()
    asyncio.run(
        consume(
            args.bootstrap,
            args.district,
            group_id=args.group or default_group(args.district),
            stop_after_idle=args.idle_exit,
        )
    )


if __name__ == "__main__":
    main()
