"""Enrollment: the educator roster imported from HR."""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "educators",
        sa.Column("educator_id", sa.Text, primary_key=True),
        sa.Column("first_name", sa.Text, nullable=False),
        sa.Column("middle_name", sa.Text),
        sa.Column("last_name", sa.Text, nullable=False),
        sa.Column("email", sa.Text, nullable=False),
        sa.Column("district_id", sa.Text, nullable=False),
        sa.Column("school_id", sa.Text),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("supervisor_id", sa.Text),
        sa.Column("license_number", sa.Text),
        sa.Column("license_type", sa.Text),
        sa.Column("license_expires_on", sa.Date),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_educators_district", "educators", ["district_id"])


def downgrade() -> None:
    op.drop_table("educators")
