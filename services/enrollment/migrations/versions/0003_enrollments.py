"""Enrollment: the catalog read model (from registry.catalog) and enrollments."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0003"
down_revision = "0002"

ACTIVE = "'enrolled', 'submitted', 'returned_incomplete', 'under_review', 'revision_requested', 'resubmitted'"


def upgrade() -> None:
    op.create_table(
        "catalog_versions",
        sa.Column("micro_credential_id", sa.Text, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("attempt_cap", sa.Integer, nullable=False),
        sa.Column("completion_window_days", sa.Integer, nullable=False),
        sa.Column("cooldown_days", sa.Integer, nullable=False),
        sa.Column("allowed_purposes", pg.ARRAY(sa.Text), nullable=False),
        sa.Column("evidence_requirements", sa.JSON, nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "enrollments",
        sa.Column("enrollment_id", sa.Text, primary_key=True),
        sa.Column("educator_id", sa.Text, nullable=False),
        sa.Column("district_id", sa.Text, nullable=False),
        sa.Column("micro_credential_id", sa.Text, nullable=False),
        sa.Column("micro_credential_version", sa.Integer, nullable=False),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("attempt_cap", sa.Integer, nullable=False),
        sa.Column("completion_window_days", sa.Integer, nullable=False),
        sa.Column("cooldown_days", sa.Integer, nullable=False),
        sa.Column("attempts_used", sa.Integer, nullable=False),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.Column("end_reason", sa.Text),
        sa.Column("may_reenroll_from", sa.DateTime(timezone=True)),
    )
    op.create_index(
        "ix_enrollments_educator", "enrollments", ["educator_id", "micro_credential_id"]
    )
    # One open enrollment per educator per MC, whatever the application does.
    op.create_index(
        "uq_enrollments_one_active",
        "enrollments",
        ["educator_id", "micro_credential_id"],
        unique=True,
        postgresql_where=sa.text(f"status IN ({ACTIVE})"),
    )


def downgrade() -> None:
    op.drop_table("enrollments")
    op.drop_table("catalog_versions")
