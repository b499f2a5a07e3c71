"""Review: catalog and roster read models, assessors, reviews and assignments."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision = "0002"
down_revision = "0001"

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "catalog_versions",
        sa.Column("micro_credential_id", sa.Text, primary_key=True),
        sa.Column("micro_credential_version", sa.Integer, primary_key=True),
        sa.Column("competency", sa.Text, nullable=False),
        sa.Column("rubric", JSONB, nullable=False),
        sa.Column("attempt_cap", sa.Integer, nullable=False),
        sa.Column("published_at", TS, nullable=False),
        sa.Column("retired_at", TS),
    )
    op.create_table(
        "roster_educators",
        sa.Column("educator_id", sa.Text, primary_key=True),
        sa.Column("district_id", sa.Text, nullable=False),
        sa.Column("school_id", sa.Text),
        sa.Column("supervisor_id", sa.Text),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_roster_educators_supervisor_id", "roster_educators", ["supervisor_id"])
    op.create_table(
        "assessors",
        sa.Column("assessor_id", sa.Text, primary_key=True),
        sa.Column("educator_id", sa.Text),
        sa.Column("district_id", sa.Text, nullable=False),
        sa.Column("school_id", sa.Text),
        sa.Column("supervises", ARRAY(sa.Text), nullable=False),
        sa.Column("qualifications", JSONB, nullable=False),
        sa.Column("calibration_status", sa.Text, nullable=False),
        sa.Column("weekly_capacity", sa.Integer, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.CheckConstraint("weekly_capacity >= 0", name="ck_assessors_capacity"),
    )
    op.create_table(
        "reviews",
        sa.Column("submission_id", sa.Text, primary_key=True),
        sa.Column("enrollment_id", sa.Text, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("educator_id", sa.Text, nullable=False),
        sa.Column("district_id", sa.Text, nullable=False),
        sa.Column("school_id", sa.Text),
        sa.Column("supervisor_id", sa.Text),
        sa.Column("micro_credential_id", sa.Text, nullable=False),
        sa.Column("micro_credential_version", sa.Integer, nullable=False),
        sa.Column("raters_required", sa.Integer, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("submitted_at", TS, nullable=False),
        sa.Column("received_at", TS, nullable=False),
    )
    op.create_index("ix_reviews_enrollment_id", "reviews", ["enrollment_id"])
    op.create_index(
        "ix_reviews_awaiting",
        "reviews",
        ["submitted_at"],
        postgresql_where=sa.text("status = 'awaiting_assessor'"),
    )
    op.create_table(
        "assignments",
        sa.Column("assignment_id", sa.Text, primary_key=True),
        sa.Column("submission_id", sa.Text, sa.ForeignKey("reviews.submission_id"), nullable=False),
        sa.Column("slot", sa.Integer, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("assessor_id", sa.Text, sa.ForeignKey("assessors.assessor_id"), nullable=False),
        sa.Column("assigned_at", TS, nullable=False),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.UniqueConstraint("submission_id", "slot", name="uq_assignments_submission_slot"),
    )
    op.create_index("ix_assignments_assessor_week", "assignments", ["assessor_id", "assigned_at"])


def downgrade() -> None:
    op.drop_table("assignments")
    op.drop_table("reviews")
    op.drop_table("assessors")
    op.drop_table("roster_educators")
    op.drop_table("catalog_versions")
