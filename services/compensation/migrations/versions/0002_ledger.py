"""Compensation: districts, versioned stipend rules, the roster read model, budgets, usage
counters, the append-only payment ledger, deferrals and revoked awards."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0002"
down_revision = "0001"

_TABLES = (
    "revoked_awards",
    "stipend_deferrals",
    "ledger_entries",
    "stipend_usage",
    "budget_allocations",
    "budgets",
    "educators",
    "stipend_rules",
    "districts",
)


def upgrade() -> None:
    op.create_table(
        "districts",
        sa.Column("district_id", sa.Text, primary_key=True),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False, server_default=""),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
    )

    op.create_table(
        "stipend_rules",
        sa.Column("rule_id", sa.Text, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("district_id", sa.Text),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("definition", pg.JSONB, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("version >= 1", name="ck_rule_version_positive"),
        sa.Index("ix_stipend_rules_scope", "state", "district_id"),
    )

    op.create_table(
        "educators",
        sa.Column("educator_id", sa.Text, primary_key=True),
        sa.Column("district_id", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("license_type", sa.Text),
        sa.Column("license_expires_on", sa.Date),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )

    op.create_table(
        "budgets",
        sa.Column("district_id", sa.Text, primary_key=True),
        sa.Column("funding_source", sa.Text, primary_key=True),
        sa.Column("fiscal_year", sa.Integer, primary_key=True),
        sa.Column("allocated_cents", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("committed_cents", sa.BigInteger, nullable=False, server_default="0"),
        sa.CheckConstraint(
            "committed_cents >= 0 AND committed_cents <= allocated_cents",
            name="ck_budget_within_allocation",
        ),
    )

    op.create_table(
        "budget_allocations",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("district_id", sa.Text, nullable=False),
        sa.Column("funding_source", sa.Text, nullable=False),
        sa.Column("fiscal_year", sa.Integer, nullable=False),
        sa.Column("amount_cents", sa.BigInteger, nullable=False),
        sa.Column("added_by", sa.Text, nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_cents > 0", name="ck_allocation_positive"),
    )

    op.create_table(
        "stipend_usage",
        sa.Column("educator_id", sa.Text, primary_key=True),
        sa.Column("rule_id", sa.Text, primary_key=True),
        sa.Column("period", sa.Integer, primary_key=True, comment="fiscal year, or 0: lifetime"),
        sa.Column("paid_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("paid_cents", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("cap_cents", sa.BigInteger),
        sa.CheckConstraint(
            "paid_count >= 0 AND paid_cents >= 0 AND (cap_cents IS NULL OR paid_cents <= cap_cents)",
            name="ck_usage_within_cap",
        ),
    )

    op.create_table(
        "ledger_entries",
        sa.Column("seq", sa.BigInteger, sa.Identity(), nullable=False, unique=True),
        sa.Column("entry_id", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("educator_id", sa.Text, nullable=False),
        sa.Column("district_id", sa.Text, nullable=False),
        sa.Column("basis", sa.Text, nullable=False),
        sa.Column("award_key", sa.Text, nullable=False),
        sa.Column("credential_id", sa.Text),
        sa.Column("stack_completion_id", sa.Text),
        sa.Column("rule_id", sa.Text, nullable=False),
        sa.Column("rule_version", sa.Integer, nullable=False),
        sa.Column("fiscal_year", sa.Integer, nullable=False),
        sa.Column("fiscal_period", sa.Integer, nullable=False),
        sa.Column("cap_period", sa.Integer, nullable=False),
        sa.Column("amount_cents", sa.BigInteger, nullable=False),
        sa.Column("funding_source", sa.Text, nullable=False),
        sa.Column("reverses_entry_id", sa.Text, sa.ForeignKey("ledger_entries.entry_id")),
        sa.Column("reason", sa.Text),
        sa.Column("awarded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('approval', 'reversal')", name="ck_ledger_kind"),
        sa.CheckConstraint(
            "(kind = 'approval' AND amount_cents > 0 AND reverses_entry_id IS NULL) OR "
            "(kind = 'reversal' AND amount_cents < 0 AND reverses_entry_id IS NOT NULL)",
            name="ck_ledger_sign",
        ),
        sa.UniqueConstraint("reverses_entry_id", name="uq_ledger_reverses"),
        sa.Index(
            "uq_ledger_approval_award_rule_period",
            "award_key",
            "rule_id",
            "fiscal_year",
            unique=True,
            postgresql_where=sa.text("kind = 'approval'"),
        ),
        sa.Index("ix_ledger_educator", "educator_id", "fiscal_year"),
        sa.Index("ix_ledger_district", "district_id", "fiscal_year"),
    )

    op.create_table(
        "stipend_deferrals",
        sa.Column("seq", sa.BigInteger, sa.Identity(), nullable=False, unique=True),
        sa.Column("deferral_id", sa.Text, primary_key=True),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("educator_id", sa.Text, nullable=False),
        sa.Column("district_id", sa.Text, nullable=False),
        sa.Column("basis", sa.Text, nullable=False),
        sa.Column("award_key", sa.Text, nullable=False),
        sa.Column("source_id", sa.Text, nullable=False),
        sa.Column("subject_id", sa.Text, nullable=False),
        sa.Column("rule_id", sa.Text, nullable=False),
        sa.Column("rule_version", sa.Integer, nullable=False),
        sa.Column("fiscal_year", sa.Integer, nullable=False),
        sa.Column("fiscal_period", sa.Integer, nullable=False),
        sa.Column("amount_cents", sa.BigInteger, nullable=False),
        sa.Column("funding_source", sa.Text, nullable=False),
        sa.Column("awarded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deferred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True)),
        sa.Column("entry_id", sa.Text, sa.ForeignKey("ledger_entries.entry_id")),
        sa.CheckConstraint(
            "status IN ('deferred', 'approved', 'cancelled', 'lapsed')", name="ck_deferral_status"
        ),
        sa.CheckConstraint("amount_cents > 0", name="ck_deferral_amount_positive"),
        sa.UniqueConstraint("award_key", "rule_id", "fiscal_year", name="uq_deferral_award_rule"),
        sa.Index(
            "ix_deferrals_waiting",
            "district_id",
            "funding_source",
            "fiscal_year",
            "seq",
            postgresql_where=sa.text("status = 'deferred'"),
        ),
    )

    op.create_table(
        "revoked_awards",
        sa.Column("award_key", sa.Text, primary_key=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False),
    )

    # History is never edited: corrections are new entries, so the ledger refuses
    # UPDATE and DELETE outright, whoever connects.
    op.execute(
        """
        CREATE FUNCTION ledger_entries_append_only() RETURNS trigger AS $$
        BEGIN
            RAISE EXCEPTION 'ledger_entries is append-only (% refused)', TG_OP;
        END;
        $$ LANGUAGE plpgsql
        """
    )
    op.execute(
        "CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries "
        "FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS ledger_entries_append_only ON ledger_entries")
    op.execute("DROP FUNCTION IF EXISTS ledger_entries_append_only()")
    for table in _TABLES:
        op.drop_table(table)
