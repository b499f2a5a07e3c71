"""Review: calibration runs of assessors against reference scores (history = drift report)."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.create_table(
        "calibration_runs",
        sa.Column("run_id", sa.Text, primary_key=True),
        # Order of recording, for runs recorded within the same instant.
        sa.Column("seq", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("assessor_id", sa.Text, sa.ForeignKey("assessors.assessor_id"), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("samples", sa.Integer, nullable=False),
        sa.Column("agreement", sa.Numeric(5, 4), nullable=False),
        sa.Column("kappa", sa.Numeric(6, 4)),
        sa.Column("threshold", sa.Numeric(5, 4), nullable=False),
        sa.Column("per_criterion", JSONB, nullable=False),
        sa.Column("calibrated", sa.Boolean, nullable=False),
    )
    op.create_index(
        "ix_calibration_runs_assessor", "calibration_runs", ["assessor_id", "recorded_at"]
    )


def downgrade() -> None:
    op.drop_table("calibration_runs")
