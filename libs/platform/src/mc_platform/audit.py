"""Tamper-evident audit trail: every state-changing decision, appended to a hash chain.

A record holds who did what to which object, when, with the details as canonical JSON text,
its position in its chain (``seq``), the previous record's hash and its own:
``hash = sha256(prev_hash | chain | seq | at | actor | action | object | details)``. Chains are
per subject of interest (an educator, a district, or ``global``) so unrelated decisions do not
queue behind one lock, and ``audit_chain_head`` keeps each chain's last seq and hash, so
removing the newest records shows too. :func:`verify` walks every chain and names the first
broken link: an edited record (its hash no longer matches), a deleted one (a gap in seq, or a
prev_hash pointing elsewhere), records swapped (both), a head that does not match the tail.

Appending happens inside the caller's transaction, like the outbox: the decision and its audit
record commit together or not at all.

    python -m mc_platform.audit verify --database-url postgresql://.../registry
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from mc_events.db import create_engine, execute_core

AUDIT_METADATA = sa.MetaData()
GENESIS = "0" * 64

audit_log = sa.Table(
    "audit_log",
    AUDIT_METADATA,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("chain", sa.Text, nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("at", sa.Text, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("object_type", sa.Text, nullable=False),
    sa.Column("object_id", sa.Text, nullable=False),
    sa.Column("details", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.Text, nullable=False),
    sa.Column("hash", sa.Text, nullable=False),
    sa.UniqueConstraint("chain", "seq", name="uq_audit_log_chain_seq"),
    sa.Index("ix_audit_log_object", "object_type", "object_id"),
)

audit_chain_head = sa.Table(
    "audit_chain_head",
    AUDIT_METADATA,
    sa.Column("chain", sa.Text, primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("hash", sa.Text, nullable=False),
)


def create_audit_schema(op: Any) -> None:
    """Create the audit tables (call from a service migration)."""
    AUDIT_METADATA.create_all(op.get_bind())


def drop_audit_schema(op: Any) -> None:
    AUDIT_METADATA.drop_all(op.get_bind())


def canonical(details: dict[str, Any]) -> str:
    return json.dumps(
        details, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )


def record_hash(
    prev_hash: str,
    chain: str,
    seq: int,
    at: str,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    details: str,
) -> str:
    fields = [prev_hash, chain, str(seq), at, actor, action, object_type, object_id, details]
    # Length-prefixed so that no two different field lists hash the same text.
    material = "".join(f"{len(f)}:{f}" for f in fields)
    return hashlib.sha256(material.encode()).hexdigest()


@dataclass(frozen=True)
class AuditRecord:
    chain: str
    seq: int
    at: str
    actor: str
    action: str
    object_type: str
    object_id: str
    details: str
    prev_hash: str
    hash: str


_LOCK_HEAD = (
    pg_insert(audit_chain_head)
    .values(chain=sa.bindparam("chain"), seq=0, hash=GENESIS)
    .on_conflict_do_update(
        index_elements=[audit_chain_head.c.chain],
        set_={"seq": audit_chain_head.c.seq},  # a no-op that takes the row lock
    )
    .returning(audit_chain_head.c.seq, audit_chain_head.c.hash)
)

_RECORD_COLUMNS = tuple(c.name for c in audit_log.columns if c.name != "id")
_RECORD_ARRAYS = ", ".join(
    f"CAST(:{name} AS {'bigint' if name == 'seq' else 'text'}[])" for name in _RECORD_COLUMNS
)

_WRITE_RECORDS = sa.text(
    f"""
    WITH records AS (
        INSERT INTO audit_log ({", ".join(_RECORD_COLUMNS)})
        SELECT * FROM unnest({_RECORD_ARRAYS})
    )
    UPDATE audit_chain_head SET seq = :head_seq, hash = :head_hash WHERE chain = :head_chain
    """
)
"""A chain's new records (in seq order) and its new head, in one statement (the head is
already locked)."""


def _next_record(
    head: tuple[int, str],
    chain: str,
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    details: dict[str, Any] | None,
    at: datetime | None,
) -> AuditRecord:
    when = (at or datetime.now(UTC)).astimezone(UTC).isoformat()
    text = canonical(details or {})
    seq, prev_hash = head[0] + 1, head[1]
    digest = record_hash(prev_hash, chain, seq, when, actor, action, object_type, object_id, text)
    return AuditRecord(
        chain, seq, when, actor, action, object_type, object_id, text, prev_hash, digest
    )


async def _lock_head(session: AsyncSession | AsyncConnection, chain: str) -> tuple[int, str]:
    head = (await execute_core(session, _LOCK_HEAD, {"chain": chain})).one()
    return head.seq, head.hash


async def _write(session: AsyncSession | AsyncConnection, records: Sequence[AuditRecord]) -> None:
    """Write one chain's next records, consecutive and in order, and move its head."""
    params: dict[str, Any] = {
        name: [getattr(record, name) for record in records] for name in _RECORD_COLUMNS
    }
    last = records[-1]
    params |= {"head_seq": last.seq, "head_hash": last.hash, "head_chain": last.chain}
    await execute_core(session, _WRITE_RECORDS, params)


async def append(
    session: AsyncSession | AsyncConnection,
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    details: dict[str, Any] | None = None,
    chain: str = "global",
    at: datetime | None = None,
) -> AuditRecord:
    """Append one decision to ``chain`` in the caller's transaction (two statements).

    The chain head is row-locked until commit, so concurrent appends to one chain queue and the
    chain stays linear; appends to other chains do not wait.
    """
    appender = Appender(session)
    record = await appender.append(
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        details=details,
        chain=chain,
        at=at,
    )
    await appender.flush()
    return record


class Appender:
    """Appends to chains like :func:`append`, but writes at :meth:`flush`: one statement per
    chain whatever the number of records. A chain's head is locked (and read) at its first
    record, where :func:`append` would lock it, so locks are taken in the same order.

    Until the flush, every append to those chains in the transaction must go through the same
    appender (a plain :func:`append` in between would fork the chain).
    """

    def __init__(self, session: AsyncSession | AsyncConnection) -> None:
        self._session = session
        self._heads: dict[str, tuple[int, str]] = {}
        self._pending: dict[str, list[AuditRecord]] = {}

    async def append(
        self,
        *,
        actor: str,
        action: str,
        object_type: str,
        object_id: str,
        details: dict[str, Any] | None = None,
        chain: str = "global",
        at: datetime | None = None,
    ) -> AuditRecord:
        head = self._heads.get(chain)
        if head is None:
            head = await _lock_head(self._session, chain)
        record = _next_record(
            head,
            chain,
            actor=actor,
            action=action,
            object_type=object_type,
            object_id=object_id,
            details=details,
            at=at,
        )
        self._heads[chain] = (record.seq, record.hash)
        self._pending.setdefault(chain, []).append(record)
        return record

    async def flush(self) -> None:
        """Write the records appended since the last flush."""
        pending, self._pending, self._heads = self._pending, {}, {}
        for records in pending.values():
            await _write(self._session, records)


@dataclass(frozen=True)
class Problem:
    chain: str
    seq: int
    record_id: int | None
    what: str

    def __str__(self) -> str:
        where = f"record id {self.record_id}" if self.record_id is not None else "chain head"
        return f"chain {self.chain!r}, seq {self.seq} ({where}): {self.what}"


async def verify(conn: AsyncConnection) -> list[Problem]:
    """Every chain checked end to end; returns the first broken link of each broken chain."""
    heads = {
        row.chain: (row.seq, row.hash)
        for row in (await conn.execute(sa.select(audit_chain_head))).all()
    }
    rows = (
        await conn.execute(sa.select(audit_log).order_by(audit_log.c.chain, audit_log.c.seq))
    ).all()
    by_chain: dict[str, list[Any]] = {}
    for row in rows:
        by_chain.setdefault(row.chain, []).append(row)
    problems: list[Problem] = []
    for chain in sorted(set(heads) | set(by_chain)):
        problem = _verify_chain(chain, by_chain.get(chain, []), heads.get(chain))
        if problem is not None:
            problems.append(problem)
    return problems


def _verify_chain(chain: str, rows: list[Any], head: tuple[int, str] | None) -> Problem | None:
    prev_hash, expected_seq = GENESIS, 1
    for row in rows:
        if row.seq != expected_seq:
            return Problem(
                chain,
                expected_seq,
                row.id,
                f"record missing: found seq {row.seq} where {expected_seq} belongs",
            )
        if row.prev_hash != prev_hash:
            return Problem(
                chain,
                row.seq,
                row.id,
                "link broken: prev_hash is not the previous record's hash "
                "(a record was removed or reordered)",
            )
        digest = record_hash(
            row.prev_hash,
            row.chain,
            row.seq,
            row.at,
            row.actor,
            row.action,
            row.object_type,
            row.object_id,
            row.details,
        )
        if digest != row.hash:
            return Problem(
                chain, row.seq, row.id, "record altered: its content does not match its hash"
            )
        prev_hash, expected_seq = row.hash, expected_seq + 1
    if head is None:
        return Problem(chain, expected_seq - 1, None, "chain head missing")
    if head != (expected_seq - 1, prev_hash):
        return Problem(
            chain,
            head[0],
            None,
            f"chain ends at seq {expected_seq - 1} but its head says {head[0]}: "
            "newest records removed or head altered",
        )
    return None


async def verify_database(url: str) -> int:
    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            problems = await verify(conn)
            count = (
                await conn.execute(sa.select(sa.func.count()).select_from(audit_log))
            ).scalar_one()
    finally:
        await engine.dispose()
    if problems:
        for problem in problems:
            print(f"BROKEN: {problem}")
        return 1
    print(f"audit trail intact: {count} records")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mc_platform.audit")
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser(
        "verify",
        help="verify every hash chain; exit 1 naming the first broken link of each broken chain",
    )
    check.add_argument("--database-url", required=True)
    args = parser.parse_args(argv)
    return asyncio.run(verify_database(args.database_url))


if __name__ == "__main__":
    sys.exit(main())
