"""Compensation: payroll batches and the ledger entries each one carries."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.create_table(
        "payroll_batches",
        sa.Column("batch_id", sa.Text, primary_key=True),
        sa.Column("district_id", sa.Text, nullable=False),
        sa.Column("pay_period_id", sa.Text, nullable=False),
        sa.Column("pay_period_start", sa.Date, nullable=False),
        sa.Column("pay_period_end", sa.Date, nullable=False),
        sa.Column("idempotency_key", sa.Text, nullable=False, unique=True),
        sa.Column("entry_count", sa.Integer, nullable=False),
        sa.Column("total_cents", sa.BigInteger, nullable=False),
        sa.Column("checksum_sha256", sa.Text, nullable=False),
        sa.Column("exported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("acknowledgement", pg.JSONB),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("district_id", "pay_period_id", name="uq_payroll_batch_period"),
        sa.CheckConstraint(
            "status IN ('exported', 'accepted', 'partially_accepted', 'rejected')",
            name="ck_payroll_batch_status",
        ),
        sa.CheckConstraint("pay_period_start <= pay_period_end", name="ck_payroll_period_order"),
    )
    op.create_table(
        "payroll_items",
        sa.Column("batch_id", sa.Text, sa.ForeignKey("payroll_batches.batch_id"), primary_key=True),
        sa.Column("entry_id", sa.Text, sa.ForeignKey("ledger_entries.entry_id"), primary_key=True),
        sa.Column("line_no", sa.Integer, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("status IN ('exported', 'paid', 'rejected')", name="ck_payroll_item"),
        sa.UniqueConstraint("batch_id", "line_no", name="uq_payroll_item_line"),
        sa.Index(
            "uq_payroll_item_live_entry",
            "entry_id",
            unique=True,
            postgresql_where=sa.text("status <> 'rejected'"),
        ),
    )


def downgrade() -> None:
    op.drop_table("payroll_items")
    op.drop_table("payroll_batches")
