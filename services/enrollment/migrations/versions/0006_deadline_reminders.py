"""Enrollment: deadline reminders sent, one per enrollment per threshold (the unique key makes
the reminder exactly-once across repeated and concurrent sweeps)."""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    op.create_table(
        "deadline_reminders",
        sa.Column(
            "enrollment_id",
            sa.Text,
            sa.ForeignKey("enrollments.enrollment_id"),
            nullable=False,
        ),
        sa.Column("days_before", sa.Integer, nullable=False),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("enrollment_id", "days_before", name="pk_deadline_reminders"),
    )
    # The sweeps' scan: enrollments waiting on the educator, by deadline.
    op.create_index(
        "ix_enrollments_waiting_deadline",
        "enrollments",
        ["deadline_at"],
        postgresql_where=sa.text(
            "status IN ('enrolled', 'returned_incomplete', 'revision_requested')"
        ),
    )


def downgrade() -> None:
    op.drop_index("ix_enrollments_waiting_deadline", table_name="enrollments")
    op.drop_table("deadline_reminders")
