"""Compensation: versioned salary-lane rules, append-only lane grants, grant reversals and lane
history, and credential status (suspensions hold stipends out of payroll)."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0005"
down_revision = "0004"

# Append-only: history is never edited; corrections are new rows.
_APPEND_ONLY = (
    "salary_lane_grants",
    "salary_lane_grant_reversals",
    "salary_lane_changes",
    "credential_status_history",
)


def upgrade() -> None:
    op.create_table(
        "salary_lane_rules",
        sa.Column("rule_id", sa.Text, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("district_id", sa.Text),
        sa.Column("definition", pg.JSONB, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("version >= 1", name="ck_lane_rule_version_positive"),
        sa.Index("ix_salary_lane_rules_scope", "state", "district_id"),
    )
    op.create_table(
        "salary_lane_grants",
        sa.Column("seq", sa.BigInteger, sa.Identity(), nullable=False, unique=True),
        sa.Column("grant_id", sa.Text, primary_key=True),
        sa.Column("educator_id", sa.Text, nullable=False),
        sa.Column("district_id", sa.Text, nullable=False),
        sa.Column("stack_completion_id", sa.Text, nullable=False),
        sa.Column("stack_id", sa.Text, nullable=False),
        sa.Column("rule_id", sa.Text, nullable=False),
        sa.Column("rule_version", sa.Integer, nullable=False),
        sa.Column("lane", sa.Text, nullable=False),
        sa.Column("rank", sa.Integer, nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("stack_completion_id", "rule_id", name="uq_lane_grant_completion_rule"),
        sa.Index("ix_lane_grants_educator", "educator_id", "district_id"),
    )
    op.create_table(
        "salary_lane_grant_reversals",
        sa.Column(
            "grant_id",
            sa.Text,
            sa.ForeignKey("salary_lane_grants.grant_id"),
            primary_key=True,
            comment="one reversal per grant",
        ),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("reversed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "salary_lane_changes",
        sa.Column("seq", sa.BigInteger, sa.Identity(), nullable=False, unique=True),
        sa.Column("change_id", sa.Text, primary_key=True),
        sa.Column("educator_id", sa.Text, nullable=False),
        sa.Column("district_id", sa.Text, nullable=False),
        sa.Column("from_lane", sa.Text),
        sa.Column("to_lane", sa.Text),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column(
            "grant_id", sa.Text, sa.ForeignKey("salary_lane_grants.grant_id"), nullable=False
        ),
        sa.Column("stack_completion_id", sa.Text, nullable=False),
        sa.Column("stack_id", sa.Text, nullable=False),
        sa.Column("rule_id", sa.Text, nullable=False),
        sa.Column("rule_version", sa.Integer, nullable=False),
        sa.Column("reverts_change_id", sa.Text, sa.ForeignKey("salary_lane_changes.change_id")),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "reason IN ('stack_completed', 'stack_completion_reversed')", name="ck_lane_reason"
        ),
        sa.CheckConstraint(
            "from_lane IS DISTINCT FROM to_lane", name="ck_lane_change_changes_something"
        ),
        sa.UniqueConstraint("grant_id", "reason", name="uq_lane_change_grant_reason"),
        sa.Index("ix_lane_changes_educator", "educator_id", "district_id"),
        sa.Index("ix_lane_changes_district", "district_id", "seq"),
    )
    op.create_table(
        "credential_status",
        sa.Column("credential_id", sa.Text, primary_key=True),
        sa.Column("educator_id", sa.Text, nullable=False),
        sa.Column("district_id", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.CheckConstraint(
            "status IN ('suspended', 'reinstated', 'revoked')", name="ck_credential_status"
        ),
        sa.Index(
            "ix_credential_status_suspended",
            "credential_id",
            postgresql_where=sa.text("status = 'suspended'"),
        ),
    )
    op.create_table(
        "credential_status_history",
        sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("credential_id", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint(
            "credential_id", "status", "changed_at", name="uq_credential_status_change"
        ),
    )
    op.execute(
        """
        CREATE FUNCTION compensation_append_only() RETURNS trigger AS $$
        BEGIN
            RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP;
        END;
        $$ LANGUAGE plpgsql
        """
    )
    for table in _APPEND_ONLY:
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION compensation_append_only()"
        )


def downgrade() -> None:
    for table in _APPEND_ONLY:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    op.execute("DROP FUNCTION IF EXISTS compensation_append_only()")
    for table in (
        "credential_status_history",
        "credential_status",
        "salary_lane_changes",
        "salary_lane_grant_reversals",
        "salary_lane_grants",
        "salary_lane_rules",
    ):
        op.drop_table(table)
