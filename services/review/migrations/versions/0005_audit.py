"""Review: the tamper-evident audit trail (review decisions)."""

from alembic import op

from mc_platform.audit import create_audit_schema, drop_audit_schema

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    create_audit_schema(op)


def downgrade() -> None:
    drop_audit_schema(op)
