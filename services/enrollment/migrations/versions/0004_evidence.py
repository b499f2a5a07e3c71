"""Enrollment: evidence artifacts and submissions."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.create_table(
        "artifacts",
        sa.Column("artifact_id", sa.Text, primary_key=True),
        sa.Column(
            "enrollment_id", sa.Text, sa.ForeignKey("enrollments.enrollment_id"), nullable=False
        ),
        sa.Column("requirement_id", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("content_type", sa.Text, nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.Text, nullable=False),
        sa.Column("uri", sa.Text, nullable=False),
        sa.Column("word_count", sa.Integer),
        sa.Column("submission_id", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_artifacts_enrollment", "artifacts", ["enrollment_id", "submission_id"])
    op.create_table(
        "submissions",
        sa.Column("submission_id", sa.Text, primary_key=True),
        sa.Column(
            "enrollment_id", sa.Text, sa.ForeignKey("enrollments.enrollment_id"), nullable=False
        ),
        sa.Column("idempotency_key", sa.Text, nullable=False),
        sa.Column("complete", sa.Boolean, nullable=False),
        sa.Column("attempt", sa.Integer),
        sa.Column("problems", pg.JSONB, nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decision_id", sa.Text),
        sa.Column("outcome", sa.Text),
        sa.Column("results", pg.JSONB),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("enrollment_id", "idempotency_key", name="uq_submissions_idempotency"),
    )


def downgrade() -> None:
    op.drop_table("submissions")
    op.drop_table("artifacts")
