"""Registry: the tamper-evident audit trail (QA decisions, awards, revocations)."""

from alembic import op

from mc_platform.audit import create_audit_schema, drop_audit_schema

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    create_audit_schema(op)


def downgrade() -> None:
    drop_audit_schema(op)
