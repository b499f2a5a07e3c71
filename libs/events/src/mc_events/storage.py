"""Backbone tables every service database holds: the outbox, its per-key sequence, the inbox.

They live in their own ``MetaData`` so each service's Alembic environment includes them next to
its own tables (``target_metadata = [service_metadata, BACKBONE_METADATA]``) and its first
migration calls :func:`create_backbone_schema`.

- ``event_outbox``: events written in the same transaction as the state change they describe.
  ``key_seq`` numbers the events of one (topic, key) in commit order: it is taken from
  ``event_outbox_key_seq`` under a row lock held until commit, so two transactions writing events
  for the same key are serialised and the sequence has no gaps (a rollback gives its number back).
- ``event_inbox``: (consumer, event id) of every event a consumer has processed, written in the
  handler's transaction; a redelivered event finds its row and is skipped.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

BACKBONE_METADATA = sa.MetaData()

OUTBOX_CHANNEL = "event_outbox"
"""LISTEN/NOTIFY channel the relay wakes on (one database per service, so no clash)."""

outbox = sa.Table(
    "event_outbox",
    BACKBONE_METADATA,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("event_id", sa.Text, nullable=False, unique=True),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("topic", sa.Text, nullable=False),
    sa.Column("partition_key", sa.Text, nullable=False),
    sa.Column("key_seq", sa.BigInteger, nullable=False),
    sa.Column("headers", pg.JSONB, nullable=False),
    sa.Column("payload", sa.LargeBinary, nullable=False),
    sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
    sa.Column("published_at", sa.DateTime(timezone=True)),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text),
    sa.UniqueConstraint("topic", "partition_key", "key_seq", name="uq_event_outbox_key_seq"),
    # The relay's scan: unpublished rows in id order. Partial, so it stays small.
    sa.Index(
        "ix_event_outbox_pending",
        "id",
        postgresql_where=sa.text("published_at IS NULL"),
    ),
    sa.Index(
        "ix_event_outbox_pending_key",
        "topic",
        "partition_key",
        "key_seq",
        postgresql_where=sa.text("published_at IS NULL"),
    ),
    sa.Index("ix_event_outbox_published_at", "published_at"),
)

outbox_key_seq = sa.Table(
    "event_outbox_key_seq",
    BACKBONE_METADATA,
    sa.Column("topic", sa.Text, primary_key=True),
    sa.Column("partition_key", sa.Text, primary_key=True),
    sa.Column("last_seq", sa.BigInteger, nullable=False),
)

inbox = sa.Table(
    "event_inbox",
    BACKBONE_METADATA,
    sa.Column("consumer", sa.Text, primary_key=True),
    sa.Column("event_id", sa.Text, primary_key=True),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column(
        "processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
)

_NOTIFY_FUNCTION = f"""
CREATE OR REPLACE FUNCTION event_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- Delivered at commit, once per transaction (identical payloads are folded).
  PERFORM pg_notify('{OUTBOX_CHANNEL}', '');
  RETURN NULL;
END $$;
"""
_NOTIFY_TRIGGER = """
CREATE TRIGGER event_outbox_notify AFTER INSERT ON event_outbox
FOR EACH STATEMENT EXECUTE FUNCTION event_outbox_notify();
"""


def create_backbone_schema(op: Any) -> None:
    """Create the backbone tables and the NOTIFY trigger (call from a service's first migration)."""
    bind = op.get_bind()
    BACKBONE_METADATA.create_all(bind)
    op.execute(_NOTIFY_FUNCTION)
    op.execute(_NOTIFY_TRIGGER)


def drop_backbone_schema(op: Any) -> None:
    op.execute("DROP TRIGGER IF EXISTS event_outbox_notify ON event_outbox")
    op.execute("DROP FUNCTION IF EXISTS event_outbox_notify()")
    BACKBONE_METADATA.drop_all(op.get_bind())


async def create_backbone_schema_async(conn: Any) -> None:
    """Same as :func:`create_backbone_schema` on an async connection (tests without Alembic)."""
    await conn.run_sync(BACKBONE_METADATA.create_all)
    await conn.execute(sa.text(_NOTIFY_FUNCTION))
    await conn.execute(sa.text("DROP TRIGGER IF EXISTS event_outbox_notify ON event_outbox"))
    await conn.execute(sa.text(_NOTIFY_TRIGGER))
