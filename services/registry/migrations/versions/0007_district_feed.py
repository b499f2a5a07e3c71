"""Registry: the per-district award change feed.

``district_award_changes`` receives, from a trigger on ``event_outbox``, every
``registry.credentials`` event that names a ``district_id``, in the transaction that writes the
event (so a rolled-back award never appears). Rows arrive without ``seq``; the feed reader
numbers committed rows per district, one numbering pass at a time (advisory lock), in outbox
id order, which is commit order for one educator's events (the outbox numbers a key's events
under a row lock held until commit). A row becomes readable only with its number, and numbers
only grow, so a reader that resumes after number N never misses a row committed later.
The events of the outbox's retention window are copied in at upgrade.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0007"
down_revision = "0006"

_CAPTURE = """
CREATE OR REPLACE FUNCTION district_award_capture() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  district text;
BEGIN
  district := convert_from(NEW.payload, 'UTF8')::jsonb ->> 'district_id';
  IF district IS NOT NULL AND district <> '' THEN
    INSERT INTO district_award_changes
      (district_id, event_id, event_type, partition_key, headers, payload)
    VALUES (district, NEW.event_id, NEW.event_type, NEW.partition_key, NEW.headers, NEW.payload)
    ON CONFLICT (event_id) DO NOTHING;
  END IF;
  RETURN NULL;
END $$;
"""
_TRIGGER = """
CREATE TRIGGER district_award_capture AFTER INSERT ON event_outbox
FOR EACH ROW WHEN (NEW.topic = 'registry.credentials')
EXECUTE FUNCTION district_award_capture();
"""
_BACKFILL = """
INSERT INTO district_award_changes
  (district_id, event_id, event_type, partition_key, headers, payload)
SELECT convert_from(payload, 'UTF8')::jsonb ->> 'district_id',
       event_id, event_type, partition_key, headers, payload
FROM event_outbox
WHERE topic = 'registry.credentials'
  AND coalesce(convert_from(payload, 'UTF8')::jsonb ->> 'district_id', '') <> ''
ORDER BY id
ON CONFLICT (event_id) DO NOTHING;
"""


def upgrade() -> None:
    op.create_table(
        "district_award_changes",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("district_id", sa.Text, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=True),
        sa.Column("event_id", sa.Text, nullable=False, unique=True),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("partition_key", sa.Text, nullable=False),
        sa.Column("headers", JSONB, nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column(
            "recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("sequenced_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("district_id", "seq", name="uq_district_award_changes_seq"),
    )
    op.create_index(
        "ix_district_award_changes_unsequenced",
        "district_award_changes",
        ["id"],
        postgresql_where=sa.text("seq IS NULL"),
    )
    op.create_table(
        "district_award_heads",
        sa.Column("district_id", sa.Text, primary_key=True),
        sa.Column("last_seq", sa.BigInteger, nullable=False),
    )
    op.execute(_CAPTURE)
    op.execute(_TRIGGER)
    op.execute(_BACKFILL)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS district_award_capture ON event_outbox")
    op.execute("DROP FUNCTION IF EXISTS district_award_capture()")
    op.drop_table("district_award_heads")
    op.drop_table("district_award_changes")
