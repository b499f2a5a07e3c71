"""What the benchmarks share: measuring one hot path in one process (the by-hand
``services/*/bench_*.py``: CPU and wall time, the SQL statements it sends), and the machine
header and files of a report (``bench/*.py``)."""

from __future__ import annotations

import cProfile
import json
import os
import platform
import pstats
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from mc_events.db import statements_run


@asynccontextmanager
async def measured(
    engine: AsyncEngine,
    count: int,
    unit: str,
    *,
    title: str,
    profile: bool = False,
    top: int = 30,
) -> AsyncIterator[None]:
    """Measure the block, which handles ``count`` ``unit``s: this process's CPU and wall time
    and the statements ``engine`` sends, printed per ``unit`` with the most frequent
    statements (and a cProfile of the block when ``profile``; ``BENCH_SORT`` orders it)."""
    profiler = cProfile.Profile() if profile else None
    with statements_run(engine) as statements:
        start, cpu = time.perf_counter(), time.process_time()
        if profiler is not None:
            profiler.enable()
        try:
            yield
        finally:
            if profiler is not None:
                profiler.disable()
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(
        f"{title}: {count / cpu:7.1f} {unit}s per CPU-second"
        f"  {cpu / count * 1000:6.2f} ms CPU per {unit}  ({count / wall:6.1f} /s wall)"
        f"  {len(statements) / count:5.2f} statements per {unit}"
    )
    print(f"most frequent statements (per {unit}):")
    for text, times in Counter(" ".join(s.split())[:80] for s in statements).most_common(top):
        print(f"  {times / count:5.2f}  {text}")
    if profiler is not None:
        pstats.Stats(profiler).sort_stats(os.environ.get("BENCH_SORT", "cumulative")).print_stats(
            40
        )


def machine(infra: object) -> dict[str, Any]:
    """The report's header: when, on what, on which infrastructure."""
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_at_end": os.getloadavg(),
        "infra": str(infra),
    }


def now() -> str:
    return datetime.now(UTC).isoformat()


def write_report(
    out: Path, report: dict[str, Any], markdown: Callable[[dict[str, Any]], str]
) -> None:
    """``report.json`` and ``summary.md`` under ``out``; the summary printed too."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2))
    (out / "summary.md").write_text(markdown(report))
    print(markdown(report))
    print(f"written: {out}/report.json, summary.md")
