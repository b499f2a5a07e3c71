"""``every``: the periodic background job of a service (sweeps, refreshes)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from mc_platform.service import every


async def test_runs_at_once_then_every_interval_until_stopped():
    runs: list[Any] = []
    runtime = object()

    async def job(rt: Any) -> None:
        runs.append(rt)

    stop = asyncio.Event()
    task = asyncio.create_task(every(0.01, job, name="sweep")(runtime, stop))  # type: ignore[arg-type]
    await asyncio.sleep(0)  # the first run happens without waiting an interval
    await asyncio.sleep(0)
    assert runs == [runtime]
    while len(runs) < 3:
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, 1)
    settled = len(runs)
    await asyncio.sleep(0.05)
    assert len(runs) == settled


async def test_a_failing_run_is_logged_and_the_next_one_still_comes(
    caplog: pytest.LogCaptureFixture,
):
    outcomes: list[str] = []

    async def job(_: Any) -> None:
        if not outcomes:
            outcomes.append("failed")
            raise ConnectionError("database restarting")
        outcomes.append("done")

    stop = asyncio.Event()
    with caplog.at_level(logging.ERROR, logger="mc_platform.service"):
        task = asyncio.create_task(every(0.01, job, name="deadline sweep")(object(), stop))  # type: ignore[arg-type]
        while "done" not in outcomes:
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(task, 1)
    assert outcomes[:2] == ["failed", "done"]
    assert any("deadline sweep failed" in r.getMessage() for r in caplog.records)


async def test_stopping_does_not_wait_out_a_long_interval():
    async def job(_: Any) -> None:
        return None

    stop = asyncio.Event()
    task = asyncio.create_task(every(3600, job, name="slow")(object(), stop))  # type: ignore[arg-type]
    await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, 1)
