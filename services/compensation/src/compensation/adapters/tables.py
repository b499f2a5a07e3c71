"""The compensation database's own tables (the backbone's outbox and inbox come from mc_events).

Money columns are BIGINT cents. The ledger is append-only (a trigger refuses UPDATE and DELETE)
and its exactly-once guarantees are database constraints, not application checks:

- ``uq_ledger_approval_award_rule_period``: one approval per (award, rule, fiscal year), so a
  duplicated, redelivered or replayed award cannot pay twice, whatever path it takes;
- ``uq_ledger_reverses``: one reversal per original entry;
- ``ck_budget_within_allocation``: a budget's committed cents never exceed its allocation;
- ``ck_usage_within_cap``: an educator's cents under a rule never exceed the rule's annual cap.
"""

import sqlalchemy as sa
from sqlalchemy import MetaData
from sqlalchemy.dialects import postgresql as pg

metadata = MetaData()

districts = sa.Table(
    "districts",
    metadata,
    sa.Column("district_id", sa.Text, primary_key=True),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False, server_default=""),
    sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
)

stipend_rules = sa.Table(
    "stipend_rules",
    metadata,
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

educators = sa.Table(
    "educators",
    metadata,
    sa.Column("educator_id", sa.Text, primary_key=True),
    sa.Column("district_id", sa.Text, nullable=False),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("license_type", sa.Text),
    sa.Column("license_expires_on", sa.Date),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

budgets = sa.Table(
    "budgets",
    metadata,
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

budget_allocations = sa.Table(
    "budget_allocations",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("district_id", sa.Text, nullable=False),
    sa.Column("funding_source", sa.Text, nullable=False),
    sa.Column("fiscal_year", sa.Integer, nullable=False),
    sa.Column("amount_cents", sa.BigInteger, nullable=False),
    sa.Column("added_by", sa.Text, nullable=False),
    sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("amount_cents > 0", name="ck_allocation_positive"),
)

stipend_usage = sa.Table(
    "stipend_usage",
    metadata,
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

ledger_entries = sa.Table(
    "ledger_entries",
    metadata,
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

deferrals = sa.Table(
    "stipend_deferrals",
    metadata,
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

revoked_awards = sa.Table(
    "revoked_awards",
    metadata,
    sa.Column("award_key", sa.Text, primary_key=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False),
)

# -- payroll: which ledger entries went to which batch, and what payroll said ---------------

payroll_batches = sa.Table(
    "payroll_batches",
    metadata,
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

payroll_items = sa.Table(
    "payroll_items",
    metadata,
    sa.Column("batch_id", sa.Text, sa.ForeignKey("payroll_batches.batch_id"), primary_key=True),
    sa.Column("entry_id", sa.Text, sa.ForeignKey("ledger_entries.entry_id"), primary_key=True),
    sa.Column("line_no", sa.Integer, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("settled_at", sa.DateTime(timezone=True)),
    sa.CheckConstraint("status IN ('exported', 'paid', 'rejected')", name="ck_payroll_item"),
    sa.UniqueConstraint("batch_id", "line_no", name="uq_payroll_item_line"),
    # A ledger entry is in at most one live batch; a rejected one may go into a later batch.
    sa.Index(
        "uq_payroll_item_live_entry",
        "entry_id",
        unique=True,
        postgresql_where=sa.text("status <> 'rejected'"),
    ),
)

# -- salary lanes: versioned rules, append-only grants, reversals and lane history ----------

salary_lane_rules = sa.Table(
    "salary_lane_rules",
    metadata,
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

lane_grants = sa.Table(
    "salary_lane_grants",
    metadata,
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
    # One grant per completion and rule: a redelivered or replayed completion grants nothing.
    sa.UniqueConstraint("stack_completion_id", "rule_id", name="uq_lane_grant_completion_rule"),
    sa.Index("ix_lane_grants_educator", "educator_id", "district_id"),
)

lane_grant_reversals = sa.Table(
    "salary_lane_grant_reversals",
    metadata,
    sa.Column("grant_id", sa.Text, sa.ForeignKey("salary_lane_grants.grant_id"), primary_key=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("reversed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
)

lane_changes = sa.Table(
    "salary_lane_changes",
    metadata,
    sa.Column("seq", sa.BigInteger, sa.Identity(), nullable=False, unique=True),
    sa.Column("change_id", sa.Text, primary_key=True),
    sa.Column("educator_id", sa.Text, nullable=False),
    sa.Column("district_id", sa.Text, nullable=False),
    sa.Column("from_lane", sa.Text),
    sa.Column("to_lane", sa.Text),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("grant_id", sa.Text, sa.ForeignKey("salary_lane_grants.grant_id"), nullable=False),
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

# -- credential status: a suspended credential's unexported stipends are held from payroll --

credential_status = sa.Table(
    "credential_status",
    metadata,
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

credential_status_history = sa.Table(
    "credential_status_history",
    metadata,
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

# -- reissues: a reissued credential (new id) continues the award of the one it supersedes ---

credential_reissues = sa.Table(
    "credential_reissues",
    metadata,
    sa.Column("seq", sa.BigInteger, sa.Identity(), nullable=False, unique=True),
    sa.Column("credential_id", sa.Text, primary_key=True, comment="the new credential"),
    sa.Column("previous_credential_id", sa.Text, nullable=False),
    sa.Column("educator_id", sa.Text, nullable=False),
    sa.Column("district_id", sa.Text, nullable=False),
    sa.Column("enrollment_id", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("awarded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("reissued_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint(
        "credential_id <> previous_credential_id", name="ck_reissue_names_another_credential"
    ),
    sa.Index("ix_credential_reissues_previous", "previous_credential_id"),
)
