"""Registry: stack completions, the renewal-credit ledger with the state's renewal rules as
data (South Carolina seeded), the roster's licenses, and imported (portable) credentials."""

import json

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision = "0006"
down_revision = "0005"

# Rules from real programs: professional certificate valid 5 years, 120 renewal
# credits per cycle; 1 semester hour = 20 credits, 15 contact hours = 20 credits,
# 1 CEU = 10 credits. PD hours are clock hours, converted as contact hours.
SOUTH_CAROLINA = {
    "renewal_credits": {"per": "1", "renewal_credits": "1"},
    "semester_hours": {"per": "1", "renewal_credits": "20"},
    "contact_hours": {"per": "15", "renewal_credits": "20"},
    "pd_hours": {"per": "15", "renewal_credits": "20"},
    "ceu": {"per": "1", "renewal_credits": "10"},
}


def upgrade() -> None:
    op.create_table(
        "stack_completions",
        sa.Column("completion_id", sa.Text, primary_key=True),
        sa.Column("educator_id", sa.Text, nullable=False),
        sa.Column("district_id", sa.Text, nullable=False),
        sa.Column("stack_id", sa.Text, nullable=False),
        sa.Column("stack_version", sa.Integer, nullable=False),
        sa.Column("stack_name", sa.Text, nullable=False),
        sa.Column("members", ARRAY(sa.Text), nullable=False),
        sa.Column("member_credential_ids", ARRAY(sa.Text), nullable=False),
        sa.Column("grants", JSONB, nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reversed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reversed_by_credential_id", sa.Text, nullable=True),
    )
    op.create_index(
        "stack_completions_one_standing",
        "stack_completions",
        ["educator_id", "stack_id"],
        unique=True,
        postgresql_where=sa.text("reversed_at IS NULL"),
    )
    op.create_index("stack_completions_educator", "stack_completions", ["educator_id"])

    op.create_table(
        "renewal_rules",
        sa.Column("state", sa.Text, primary_key=True),
        sa.Column("cycle_years", sa.Integer, nullable=False),
        sa.Column("required_credits", sa.Numeric, nullable=False),
        sa.Column("conversions", JSONB, nullable=False),
        sa.Column("in_force", sa.Boolean, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("cycle_years > 0", name="renewal_rules_cycle_positive"),
        sa.CheckConstraint("required_credits >= 0", name="renewal_rules_required_positive"),
    )
    # The registry applies one state's rules: the one in force.
    op.create_index(
        "renewal_rules_one_in_force",
        "renewal_rules",
        ["in_force"],
        unique=True,
        postgresql_where=sa.text("in_force"),
    )
    op.execute(
        sa.text(
            "INSERT INTO renewal_rules (state, cycle_years, required_credits, conversions, "
            "in_force, updated_at) VALUES ('SC', 5, 120, CAST(:conversions AS jsonb), true, now())"
        ).bindparams(conversions=json.dumps(SOUTH_CAROLINA))
    )

    op.create_table(
        "renewal_ledger",
        sa.Column("entry_id", sa.Text, primary_key=True),
        sa.Column("posting_key", sa.Text, nullable=False, unique=True),
        sa.Column("educator_id", sa.Text, nullable=False),
        sa.Column("district_id", sa.Text, nullable=False),
        sa.Column("credential_id", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("credits", sa.Numeric, nullable=False),
        sa.Column("unit", sa.Text, nullable=False),
        sa.Column("renewal_credits", sa.Numeric, nullable=False),
        sa.Column("certificate_cycle", sa.Text, nullable=False),
        sa.Column("cycle_start", sa.Date, nullable=False),
        sa.Column("cycle_end", sa.Date, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column(
            "reverses_entry_id",
            sa.Text,
            sa.ForeignKey("renewal_ledger.entry_id"),
            nullable=True,
        ),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(credits < 0) = (renewal_credits < 0)", name="renewal_ledger_signs_agree"
        ),
    )
    op.create_index(
        "renewal_ledger_educator_cycle", "renewal_ledger", ["educator_id", "certificate_cycle"]
    )
    op.create_index("renewal_ledger_credential", "renewal_ledger", ["credential_id"])

    op.create_table(
        "educator_licenses",
        sa.Column("educator_id", sa.Text, primary_key=True),
        sa.Column("district_id", sa.Text, nullable=False),
        sa.Column("email", sa.Text, nullable=True),
        sa.Column("license_number", sa.Text, nullable=True),
        sa.Column("license_type", sa.Text, nullable=True),
        sa.Column("expires_on", sa.Date, nullable=True),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
    )

    op.create_table(
        "recognition_rules",
        sa.Column("rule_id", sa.Text, primary_key=True),
        sa.Column("external_issuer_id", sa.Text, nullable=False),
        sa.Column("external_achievement_id", sa.Text, nullable=True),
        sa.Column("achievement_name", sa.Text, nullable=True),
        sa.Column("equivalent_micro_credential_id", sa.Text, nullable=True),
        sa.Column("credits_value", sa.Numeric, nullable=False),
        sa.Column("credits_unit", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "external_achievement_id IS NOT NULL OR achievement_name IS NOT NULL",
            name="recognition_rules_match_something",
        ),
        sa.CheckConstraint("credits_value >= 0", name="recognition_rules_credits_positive"),
    )
    op.create_table(
        "imported_credentials",
        sa.Column("import_id", sa.Text, primary_key=True),
        sa.Column("educator_id", sa.Text, nullable=False),
        sa.Column("district_id", sa.Text, nullable=False),
        sa.Column("external_credential_id", sa.Text, nullable=False),
        sa.Column("external_issuer_id", sa.Text, nullable=False),
        sa.Column("external_achievement_id", sa.Text, nullable=True),
        sa.Column("achievement_name", sa.Text, nullable=False),
        sa.Column("proof_status", sa.Text, nullable=False),
        sa.Column("recognition_status", sa.Text, nullable=False),
        sa.Column("rule_id", sa.Text, nullable=True),
        sa.Column("equivalent_micro_credential_id", sa.Text, nullable=True),
        sa.Column("credits_value", sa.Numeric, nullable=True),
        sa.Column("credits_unit", sa.Text, nullable=True),
        sa.Column("document", JSONB, nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("imported_by", sa.Text, nullable=False),
    )
    op.create_index(
        "imported_credentials_once_per_educator",
        "imported_credentials",
        ["educator_id", "external_credential_id"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_table("imported_credentials")
    op.drop_table("recognition_rules")
    op.drop_table("educator_licenses")
    op.drop_table("renewal_ledger")
    op.drop_table("renewal_rules")
    op.drop_table("stack_completions")
