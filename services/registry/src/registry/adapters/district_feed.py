"""The district award change feed's tables (migration 0007) and its repository: number the
committed rows, read a district's rows after a sequence number."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel.ext.asyncio.session import AsyncSession

from mc_events.db import execute_core

feed_metadata = sa.MetaData()

changes = sa.Table(
    "district_award_changes",
    feed_metadata,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("district_id", sa.Text, nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=True),
    sa.Column("event_id", sa.Text, nullable=False),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("partition_key", sa.Text, nullable=False),
    sa.Column("headers", JSONB, nullable=False),
    sa.Column("payload", sa.LargeBinary, nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("sequenced_at", sa.DateTime(timezone=True), nullable=True),
)

SEQUENCER_LOCK = 0x6D63_6466_6565_64  # "mcdfeed": one numbering pass at a time
NUMBER_BATCH = 5000

# Rows are numbered in outbox id order, per district, continuing each district's head. Only
# committed rows are visible to this statement, so a row committed later gets a larger number
# than every row numbered now: readers never see a gap that fills in behind them.
_NUMBER = sa.text(
    """
    WITH pending AS (
        SELECT id, district_id,
               row_number() OVER (PARTITION BY district_id ORDER BY id) AS n
        FROM (SELECT id, district_id FROM district_award_changes
              WHERE seq IS NULL ORDER BY id LIMIT :limit) AS batch
    ), counts AS (
        SELECT district_id, count(*) AS c FROM pending GROUP BY district_id
    ), heads AS (
        INSERT INTO district_award_heads (district_id, last_seq)
        SELECT district_id, c FROM counts ORDER BY district_id
        ON CONFLICT (district_id)
        DO UPDATE SET last_seq = district_award_heads.last_seq + EXCLUDED.last_seq
        RETURNING district_id, last_seq
    )
    UPDATE district_award_changes AS ch
    SET seq = heads.last_seq - counts.c + pending.n, sequenced_at = now()
    FROM pending
    JOIN counts USING (district_id)
    JOIN heads USING (district_id)
    WHERE ch.id = pending.id
    """
)


@dataclass(frozen=True)
class Change:
    seq: int
    event_id: str
    event_type: str
    partition_key: str
    headers: list[list[str]]
    payload: bytes

    def cloudevent(self) -> dict[str, Any]:
        """The event in CloudEvents JSON (structured) format: the same id, type, source, time,
        subject and data as the Kafka record."""
        attributes: dict[str, Any] = {}
        datacontenttype = "application/json"
        for name, value in self.headers:
            lowered = name.lower()
            if lowered.startswith("ce_"):
                attributes[lowered[3:]] = value
            elif lowered == "content-type":
                datacontenttype = value
        attributes.setdefault("id", self.event_id)
        attributes.setdefault("specversion", "1.0")
        attributes["datacontenttype"] = datacontenttype
        attributes["partitionkey"] = self.partition_key
        attributes["data"] = json.loads(self.payload)
        return attributes


class DistrictFeedRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def number_pending(self, *, max_passes: int = 4) -> int | None:
        """Number committed, unnumbered rows (in a transaction of their own). Returns how many,
        or None when another numbering pass holds the lock (its rows appear when it commits)."""
        got = await execute_core(
            self.session,
            sa.text("SELECT pg_try_advisory_xact_lock(:key)"),
            {"key": SEQUENCER_LOCK},
        )
        if not got.scalar_one():
            return None
        total = 0
        for _ in range(max_passes):
            result = await execute_core(self.session, _NUMBER, {"limit": NUMBER_BATCH})
            numbered = int(getattr(result, "rowcount", 0) or 0)
            total += numbered
            if numbered < NUMBER_BATCH:
                break
        return total

    async def read_after(self, district_id: str, after: int, limit: int) -> list[Change]:
        """Up to ``limit`` numbered changes of a district after ``after``, in number order."""
        result = await execute_core(
            self.session,
            sa.select(
                changes.c.seq,
                changes.c.event_id,
                changes.c.event_type,
                changes.c.partition_key,
                changes.c.headers,
                changes.c.payload,
            )
            .where(
                changes.c.district_id == district_id,
                changes.c.seq.is_not(None),
                changes.c.seq > after,
            )
            .order_by(changes.c.seq)
            .limit(limit),
        )
        return [
            Change(
                seq=row.seq,
                event_id=row.event_id,
                event_type=row.event_type,
                partition_key=row.partition_key,
                headers=row.headers,
                payload=row.payload,
            )
            for row in result.all()
        ]
