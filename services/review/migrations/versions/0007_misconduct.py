"""Review: misconduct cases (flag, approver's confirmation or dismissal), decided results kept
for the research measures."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0007"
down_revision = "0006"

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "misconduct_cases",
        sa.Column("case_id", sa.Text, primary_key=True),
        sa.Column("submission_id", sa.Text, sa.ForeignKey("reviews.submission_id"), nullable=False),
        sa.Column("flagged_by", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("flagged_at", TS, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("review_status_before", sa.Text, nullable=False),
        sa.Column("resolved_by", sa.Text),
        sa.Column("resolved_at", TS),
        sa.Column("finding", sa.Text),
        sa.Column("effect", sa.Text),
    )
    op.create_index("ix_misconduct_cases_submission", "misconduct_cases", ["submission_id"])
    # One open case per submission at a time.
    op.create_index(
        "uq_misconduct_cases_open",
        "misconduct_cases",
        ["submission_id"],
        unique=True,
        postgresql_where=sa.text("status = 'open'"),
    )
    op.add_column("reviews", sa.Column("results", JSONB))
    op.create_index("ix_reviews_decided_at", "reviews", ["decided_at"])


def downgrade() -> None:
    op.drop_index("ix_reviews_decided_at", table_name="reviews")
    op.drop_column("reviews", "results")
    op.drop_table("misconduct_cases")
