"""Enrollment: review assignments released by the overdue sweep (from
review.assignment_escalated, outcome reassigned), so that the released assessor loses read
access to the evidence; and the misconduct kind of a decision that ended an enrollment."""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    op.create_table(
        "released_assignments",
        sa.Column("assignment_id", sa.Text, primary_key=True),
        sa.Column("enrollment_id", sa.Text, nullable=False),
        sa.Column("submission_id", sa.Text, nullable=False),
        sa.Column("assessor_id", sa.Text, nullable=False),
        sa.Column("escalation_id", sa.Text, nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.add_column("enrollments", sa.Column("misconduct", sa.Text))
    op.add_column("submissions", sa.Column("misconduct", sa.Text))


def downgrade() -> None:
    op.drop_column("submissions", "misconduct")
    op.drop_column("enrollments", "misconduct")
    op.drop_table("released_assignments")
