"""Measure the roster import: 100,000 rows in, the same file again, then a file with changes.

    .venv/bin/python services/enrollment/bench_roster_import.py [--rows 100000] [--per-event]

Uses ``DATABASE_URL`` (a PostgreSQL server) if set, else starts an embedded PostgreSQL in a
temporary folder (fsync on) and removes it afterwards. No broker is needed: events stop in the
outbox, which is what the import writes. ``--per-event`` writes events with one outbox write
(``uow.emit`` then ``uow.flush``) each instead of in bulk, to show what that costs.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import logging
import time

from enrollment.bootstrap import MIGRATIONS
from enrollment.service_layer import roster_import
from enrollment.service_layer.unit_of_work import UnitOfWork
from mc_devstack.devinfra.postgres import scratch_database
from mc_events.db import create_engine, session_factory
from mc_platform import migrations
from mc_platform.clock import utc_now

HEADER = [
    "educator_id",
    "first_name",
    "last_name",
    "email",
    "district_id",
    "school_id",
    "role",
    "supervisor_id",
    "license_number",
    "license_type",
    "license_expires_on",
]


def make_csv(rows: int, *, district_of: dict[int, str] | None = None, suffix: str = "") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for i in range(rows):
        district = (district_of or {}).get(i, f"lea-{i % 50}")
        writer.writerow(
            [
                f"tx-{i:07d}",
                f"First{i}{suffix if i % 10 == 0 else ''}",
                f"Last{i}",
                f"t{i}@district.example",
                district,
                f"sch-{i % 900}",
                "teacher",
                f"tx-{(i // 20) * 20:07d}" if i % 20 else "",
                f"L{i:08d}",
                "professional",
                "2029-06-30",
            ]
        )
    return out.getvalue().encode()


async def run(url: str, rows: int) -> None:
    await asyncio.to_thread(migrations.upgrade, MIGRATIONS, url)
    engine = create_engine(url, pool_size=2)
    sessions = session_factory(engine)
    try:
        files = [
            ("first import", make_csv(rows)),
            ("same file again", make_csv(rows)),
            (
                "10% renamed, 1% moved",
                make_csv(
                    rows, suffix="-x", district_of={i: "lea-new" for i in range(0, rows, 100)}
                ),
            ),
        ]
        for label, data in files:
            started = time.perf_counter()
            report = await roster_import.import_roster(
                UnitOfWork(sessions), data, filename="staff.csv", now=utc_now()
            )
            elapsed = time.perf_counter() - started
            print(
                f"{label:>24}: {report.rows} rows in {elapsed:6.2f} s ="
                f" {report.rows / elapsed:9,.0f} rows/s; registered {report.registered},"
                f" updated {report.updated}, moved"
                f" {report.moved}, unchanged {report.unchanged}, events {report.events},"
                f" errors {len(report.errors)}",
                flush=True,
            )
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--per-event", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.per_event:

        async def one_by_one(uow, events, *, progress):  # type: ignore[no-untyped-def]
            for n, event in enumerate(events, start=1):
                uow.emit(event)
                await uow.flush()
                if n % roster_import.EVENT_CHUNK == 0 or n == len(events):
                    progress(n)

        roster_import.add_events_in_bulk = one_by_one  # type: ignore[assignment]
    with scratch_database("bench_roster") as url:
        asyncio.run(run(url, args.rows))


if __name__ == "__main__":
    main()
