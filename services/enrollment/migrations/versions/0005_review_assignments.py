"""Enrollment: which assessors were assigned which submission (from review.assigned), so that
only they, besides the educator and the state, may read the evidence."""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.create_table(
        "review_assignments",
        sa.Column("assignment_id", sa.Text, primary_key=True),
        sa.Column("enrollment_id", sa.Text, nullable=False),
        sa.Column("submission_id", sa.Text, nullable=False),
        sa.Column("assessor_id", sa.Text, nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_review_assignments_submission", "review_assignments", ["submission_id", "assessor_id"]
    )


def downgrade() -> None:
    op.drop_table("review_assignments")
