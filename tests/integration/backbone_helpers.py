"""Helpers for the backbone's tests: read a topic from the beginning, run backbone_app as a
process the test can kill."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from aiokafka import ConsumerRecord, TopicPartition

from mc_events import kafka

HERE = Path(__file__).parent


async def read_topic(
    settings: kafka.KafkaSettings, topic: str, *, at_least: int, timeout: float = 20.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of ``topic`` from the beginning, once at least ``at_least`` have arrived
    (then a short grace period for stragglers). Bounded by ``timeout``."""
    consumer = kafka.consumer(settings, group_id=None)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        records: list[ConsumerRecord[bytes, bytes]] = []
        deadline = time.monotonic() + timeout
        quiet_until: float | None = None
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=100)
            for recs in batch.values():
                records.extend(recs)
            if len(records) >= at_least:
                if quiet_until is None:
                    quiet_until = time.monotonic() + 0.5
                elif time.monotonic() >= quiet_until:
                    break
        return records
    finally:
        await consumer.stop()


class Proc:
    """A backbone_app process the test can kill; output goes to a log file for failures."""

    def __init__(
        self,
        role: str,
        db: Any,
        settings: kafka.KafkaSettings,
        topic: str,
        tmp_path: Path,
        *,
        faults: str = "",
        group: str = "g",
        batch: int = 50,
    ) -> None:
        self.log = tmp_path / f"{role}-{time.monotonic_ns()}.log"
        env = {**os.environ, "MC_FAULTS": faults}
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(HERE / "backbone_app.py"),
                role,
                "--db",
                db.url,
                "--kafka",
                settings.bootstrap_servers,
                "--topic",
                topic,
                "--group",
                group,
                "--batch",
                str(batch),
            ],
            env=env,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
        )

    async def wait(self, timeout: float) -> int | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                return code
            await asyncio.sleep(0.05)
        return None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def output(self) -> str:
        return self.log.read_text()
