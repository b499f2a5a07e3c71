"""A district stream replay: a district reads its whole awards topic from the beginning.

    make bench     (or: .venv/bin/python bench/replay.py --events 1000000)

Fills ``district.<id>.awards`` on the embedded (or given) broker with ``--events`` award
CloudEvents, byte for byte as the registry's district fan-out writes them: one real
``registry.credential_awarded.v1`` event is serialised by the library's envelope code (Kafka
binary content mode: ``ce_*`` headers, JSON value, the educator id as key, a ``traceparent``,
lz4-compressed batches from the services' producer settings), then its ids are varied per
record (event id, credential id, educator id), so sizes and bytes are those of real awards.
A small share of records is sent twice with the same CloudEvent id (``--duplicates``), as the
fan-out does after a crash. The fill is not timed as part of the replay.

Then a district-style reader replays the topic, timed, in a process of its own (so its peak
memory is its own): a fresh consumer group from offset 0 with aiokafka, every record parsed as
a CloudEvent with the CloudEvents SDK exactly as ``examples/district_consumer`` does, and
deduplicated by CloudEvent id, until every distinct id has been seen. Reports the seconds
(from the reader's start, group join included, and from its first record), events per second,
the reader's peak RSS and the broker's memory.

Writes ``.run/bench-replay/report.json`` and ``summary.md`` (git-ignored).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import shutil
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psutil

from mc_devstack import benchmarking
from mc_devstack.devinfra import start_infra
from mc_events import district, kafka
from mc_events.contracts.common import Credits, CreditUnit, CriterionResult, Purpose
from mc_events.contracts.registry import CredentialAwarded
from mc_events.envelope import to_record
from mc_events.outbox import default_source
from mc_events.topics import ensure_topics

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / ".run" / "bench-replay"
DISTRICT = "D-0042"

# Reader fetch sizes: aiokafka's defaults (1 MiB per partition, 50 MiB per fetch), stated.
# Measured with 200,000 awards: 4 MiB per partition read no faster (30k vs 33k events/s, within
# noise); the reader is bound by CPU (CloudEvents parsing), not by fetch round trips, and the
# broker's memory does not change with them. ``--partition-fetch-bytes`` to compare.
MAX_PARTITION_FETCH_BYTES = 1024 * 1024
FETCH_MAX_BYTES = 50 * 1024 * 1024
MAX_RECORDS = 5000

# Placeholders of fixed width in the template record, replaced per record.
_EVENT_ID = "00000000-0000-4000-8000-000000000000"
_CREDENTIAL = "cred-ffffffffffff"
_EDUCATOR = "TX-fffffff"


def template() -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """Key, value and headers of one real award as the registry publishes it."""
    awarded_at = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    event = CredentialAwarded(
        credential_id=_CREDENTIAL,
        educator_id=_EDUCATOR,
        district_id=DISTRICT,
        micro_credential_id="wait-time-after-questioning",
        micro_credential_version=2,
        enrollment_id="enr-" + _CREDENTIAL.removeprefix("cred-"),
        decision_id="dec-" + _CREDENTIAL.removeprefix("cred-"),
        issuer_id="provider-bloomboard",
        achievement_name="Wait Time After Questioning",
        purpose=Purpose.LICENSE_RENEWAL,
        credits=Credits(value=Decimal("15"), unit=CreditUnit.PD_HOURS),
        awarded_at=awarded_at,
        valid_until=awarded_at + timedelta(days=5 * 365),
        credential_url=f"https://creds.state.example/credentials/{_CREDENTIAL}",
        results=tuple(
            CriterionResult(criterion_id=c, achieved_level_id="proficient", met=True)
            for c in ("planning", "practice", "reflection")
        ),
    )
    record = to_record(
        event,
        source=default_source(event),
        event_id=_EVENT_ID,
        time=awarded_at,
        trace_headers={"traceparent": f"00-{'0' * 31}1-{'0' * 15}1-01"},
    )
    return record.key, record.value, record.headers


def varied(
    i: int, key: bytes, value: bytes, headers: list[tuple[str, bytes]]
) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """Record ``i``: its own event id, credential id and educator id (same widths)."""
    pairs = (
        (_EVENT_ID.encode(), str(uuid.UUID(int=(0x4000 << 64) | i)).encode()),
        (_CREDENTIAL.encode(), f"cred-{i:012x}".encode()),
        (_EDUCATOR.encode(), f"TX-{i % 200_000:07d}".encode()),
    )

    def swap(raw: bytes) -> bytes:
        for old, new in pairs:
            raw = raw.replace(old, new)
        return raw

    return swap(key), swap(value), [(name, swap(raw)) for name, raw in headers]


async def fill(
    settings: kafka.KafkaSettings, topic: str, events: int, duplicates: int
) -> dict[str, Any]:
    admin = kafka.admin(settings)
    await admin.start()
    await ensure_topics(admin, [district.awards_topic(DISTRICT)])
    await admin.close()
    key, value, headers = template()
    producer = kafka.producer(settings)
    await producer.start()
    started = time.perf_counter()
    sent = 0
    size = 0
    pending = []
    # Redeliveries: a few records sent again later, with the same CloudEvent id.
    step = events // duplicates if duplicates else 0
    order = list(range(events))
    if step:
        order += list(range(0, events, step))[:duplicates]
    try:
        for n, i in enumerate(order):
            k, v, h = varied(i, key, value, headers)
            size += len(k) + len(v) + sum(len(name) + len(raw) for name, raw in h)
            pending.append(await producer.send(topic, v, key=k, headers=h))
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending.clear()
            sent = n + 1
            if sent % 100_000 == 0:
                print(f"  filled {sent:,} records", flush=True)
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    seconds = time.perf_counter() - started
    return {
        "records": len(order),
        "distinct_events": events,
        "redelivered": len(order) - events,
        "seconds": round(seconds, 2),
        "records_per_s": round(len(order) / seconds, 1),
        "mean_record_bytes": round(size / len(order), 1),
        "compression": settings.compression_type,
    }


# -- the reader (its own process) --------------------------------------------------------------


async def replay(
    bootstrap: str,
    topic: str,
    events: int,
    group: str,
    give_up_after: float,
    partition_fetch_bytes: int = MAX_PARTITION_FETCH_BYTES,
) -> dict[str, Any]:
    """A district's reader, as examples/district_consumer: fresh group, from the beginning,
    CloudEvents SDK, dedupe by id. Returns once ``events`` distinct ids were seen."""
    from aiokafka import AIOKafkaConsumer  # noqa: TID251 (a district's program, not a service)
    from cloudevents.core.bindings import kafka as ce_kafka
    from cloudevents.core.formats.json import JSONFormat

    started = time.perf_counter()
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_wait_ms=50,
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
        max_partition_fetch_bytes=partition_fetch_bytes,
        fetch_max_bytes=FETCH_MAX_BYTES,
    )
    await consumer.start()
    fmt = JSONFormat()
    seen: set[str] = set()
    records = 0
    dropped = 0
    first_at: float | None = None
    last_report = started
    deadline = started + give_up_after
    try:
        while len(seen) < events:
            if time.perf_counter() > deadline:
                raise TimeoutError(
                    f"saw {len(seen):,} of {events:,} events in {give_up_after:.0f} s"
                )
            batches = await consumer.getmany(timeout_ms=250, max_records=MAX_RECORDS)
            for batch in batches.values():
                if first_at is None:
                    first_at = time.perf_counter()
                for record in batch:
                    event = ce_kafka.from_binary(
                        ce_kafka.KafkaMessage(
                            headers=dict(record.headers), key=record.key, value=record.value
                        ),
                        fmt,
                    )
                    records += 1
                    event_id = event.get_id()
                    if event_id in seen:
                        dropped += 1  # a redelivery: same CloudEvent id, already handled
                        continue
                    seen.add(event_id)
            if batches:
                await consumer.commit()
            now = time.perf_counter()
            if now - last_report >= 5:
                last_report = now
                rate = len(seen) / (now - (first_at or started))
                print(
                    f"  replayed {len(seen):,}/{events:,} events "
                    f"({len(seen) / events:.0%}, {rate:,.0f}/s)",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        await consumer.stop()
    done = time.perf_counter()
    total = done - started
    reading = done - (first_at or started)
    return {
        "events": len(seen),
        "records_read": records,
        "duplicates_dropped": dropped,
        "seconds": round(total, 2),
        "events_per_s": round(len(seen) / total, 1),
        "join_seconds": round((first_at or done) - started, 2),
        "reading_seconds": round(reading, 2),
        "reading_events_per_s": round(len(seen) / reading, 1) if reading else None,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "fetch": {
            "max_partition_fetch_bytes": partition_fetch_bytes,
            "fetch_max_bytes": FETCH_MAX_BYTES,
            "max_records": MAX_RECORDS,
            "fetch_max_wait_ms": 50,
        },
    }


def rss_mib(pid: int) -> float:
    proc = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 2**20


def run(events: int, duplicates: int, timeout: float, fetch_bytes: int) -> dict[str, Any]:
    run_dir = OUT / "infra"
    shutil.rmtree(run_dir, ignore_errors=True)
    with start_infra(run_dir, fsync=False) as handle:
        infra = handle.infra
        print(
            f"replay benchmark (kafka: {infra.kind.kafka}): filling {events:,} events", flush=True
        )
        settings = kafka.KafkaSettings(
            bootstrap_servers=infra.kafka_bootstrap, enable_idempotence=infra.kafka_idempotence
        )
        topic = district.awards_topic(DISTRICT).name
        broker_pid = handle.pids().get("kafka")
        broker_before = rss_mib(broker_pid) if broker_pid else None
        filled = asyncio.run(fill(settings, topic, events, duplicates))
        broker_filled = rss_mib(broker_pid) if broker_pid else None
        print(
            f"  filled {filled['records']:,} records in {filled['seconds']} s "
            f"({filled['records_per_s']:,.0f}/s, {filled['mean_record_bytes']:.0f} B each); "
            f"replaying from the beginning ...",
            flush=True,
        )
        reader = subprocess.run(  # noqa: S603 (this script, as the reader)
            [
                sys.executable,
                __file__,
                "--reader",
                "--bootstrap",
                infra.kafka_bootstrap,
                "--topic",
                topic,
                "--events",
                str(events),
                "--timeout",
                str(timeout),
                "--partition-fetch-bytes",
                str(fetch_bytes),
            ],
            stdout=subprocess.PIPE,
            check=True,
            text=True,
        )
        replayed = json.loads(reader.stdout.strip().splitlines()[-1])
        broker_after = rss_mib(broker_pid) if broker_pid else None
        kinds = infra.kind
    shutil.rmtree(run_dir, ignore_errors=True)
    return {
        "when": benchmarking.now(),
        "machine": benchmarking.machine(kinds),
        "topic": topic,
        "fill": filled,
        "replay": replayed,
        "broker_rss_mib": {
            "idle": _r(broker_before),
            "after_fill": _r(broker_filled),
            "after_replay": _r(broker_after),
        },
    }


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def markdown(report: dict[str, Any]) -> str:
    fill_, rep, broker = report["fill"], report["replay"], report["broker_rss_mib"]
    return "\n".join(
        [
            "# District stream replay",
            "",
            f"{report['when']}; {report['machine']['cpus']} CPUs, Python "
            f"{report['machine']['python']}, {report['machine']['infra']}.",
            f"Topic `{report['topic']}`: {fill_['distinct_events']:,} award events "
            f"({fill_['records']:,} records with {fill_['redelivered']:,} redeliveries), "
            f"{fill_['mean_record_bytes']:.0f} B per record before {fill_['compression']} "
            "compression.",
            "",
            f"- **replay: {rep['events']:,} events in {rep['seconds']} s = "
            f"{rep['events_per_s']:,.0f} events/s** (fresh group, from offset 0, CloudEvents "
            "SDK parse, dedupe by id)",
            f"- of which group join {rep['join_seconds']} s; reading {rep['reading_seconds']} s "
            f"= {rep['reading_events_per_s']:,.0f} events/s",
            f"- duplicates dropped: {rep['duplicates_dropped']:,} of {rep['records_read']:,} "
            "records read",
            f"- reader peak RSS: {rep['peak_rss_mib']:.0f} MiB; broker RSS idle / filled / after "
            f"replay: {broker['idle']} / {broker['after_fill']} / {broker['after_replay']} MiB",
            f"- fill (not part of the replay): {fill_['seconds']} s = "
            f"{fill_['records_per_s']:,.0f} records/s",
            f"- reader fetch settings: {json.dumps(rep['fetch'])}",
            "",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="distinct award events")
    parser.add_argument(
        "--duplicates", type=float, default=0.001, help="share of events sent twice (same id)"
    )
    parser.add_argument("--timeout", type=float, default=1200, help="give up the replay after")
    parser.add_argument(
        "--partition-fetch-bytes",
        type=int,
        default=MAX_PARTITION_FETCH_BYTES,
        help="the reader's max_partition_fetch_bytes (aiokafka's default: 1048576)",
    )
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--reader", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--bootstrap", help=argparse.SUPPRESS)
    parser.add_argument("--topic", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.reader:
        group = f"district-{DISTRICT}-replay-{uuid.uuid4().hex[:8]}"
        result = asyncio.run(
            replay(
                args.bootstrap,
                args.topic,
                args.events,
                group,
                args.timeout,
                args.partition_fetch_bytes,
            )
        )
        print(json.dumps(result), flush=True)
        return 0
    report = run(
        args.events, int(args.events * args.duplicates), args.timeout, args.partition_fetch_bytes
    )
    benchmarking.write_report(args.out, report, markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
