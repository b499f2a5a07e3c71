"""Compensation: the backbone tables (outbox, outbox key sequence, inbox)."""

from alembic import op

from mc_events.storage import create_backbone_schema, drop_backbone_schema

revision = "0001"
down_revision = None


def upgrade() -> None:
    create_backbone_schema(op)


def downgrade() -> None:
    drop_backbone_schema(op)
