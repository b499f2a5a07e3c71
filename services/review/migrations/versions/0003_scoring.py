"""Review: evidence references for the blind view, rubric scores, decisions."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column(
        "reviews",
        sa.Column("artifacts", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
    )
    op.add_column("reviews", sa.Column("decision_id", sa.Text))
    op.add_column("reviews", sa.Column("outcome", sa.Text))
    op.add_column("reviews", sa.Column("decided_at", TS))
    op.add_column("assignments", sa.Column("scores", JSONB))
    op.add_column("assignments", sa.Column("scored_at", TS))
    op.create_index(
        "ix_reviews_awaiting_approver",
        "reviews",
        ["submitted_at"],
        postgresql_where=sa.text("status = 'awaiting_approver'"),
    )


def downgrade() -> None:
    op.drop_index("ix_reviews_awaiting_approver", table_name="reviews")
    for column in ("scored_at", "scores"):
        op.drop_column("assignments", column)
    for column in ("decided_at", "outcome", "decision_id", "artifacts"):
        op.drop_column("reviews", column)
