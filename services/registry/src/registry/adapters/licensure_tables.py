"""Tables of stacks completions, the renewal-credit ledger, the state's renewal rules, the
roster read model (licenses) and imported credentials (migration 0006).

They share the registry's :data:`~registry.adapters.tables.metadata`; business keys are
UNIQUE so a redelivered event or a retried request can never post or complete twice.
"""

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    Numeric,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from registry.adapters.tables import metadata

stack_completions = Table(
    "stack_completions",
    metadata,
    Column("completion_id", Text, primary_key=True),
    Column("educator_id", Text, nullable=False),
    Column("district_id", Text, nullable=False),
    Column("stack_id", Text, nullable=False),
    Column("stack_version", Integer, nullable=False),
    Column("stack_name", Text, nullable=False),
    Column("members", ARRAY(Text), nullable=False),
    Column("member_credential_ids", ARRAY(Text), nullable=False),
    Column("grants", JSONB, nullable=False),
    Column("completed_at", DateTime(timezone=True), nullable=False),
    Column("reversed_at", DateTime(timezone=True), nullable=True),
    Column("reversed_by_credential_id", Text, nullable=True),
    # One standing completion per educator and stack, whatever the version.
    Index(
        "stack_completions_one_standing",
        "educator_id",
        "stack_id",
        unique=True,
        postgresql_where=text("reversed_at IS NULL"),
    ),
)

renewal_rules = Table(
    "renewal_rules",
    metadata,
    Column("state", Text, primary_key=True),
    Column("cycle_years", Integer, nullable=False),
    Column("required_credits", Numeric, nullable=False),
    Column("conversions", JSONB, nullable=False),
    Column("in_force", Boolean, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

renewal_ledger = Table(
    "renewal_ledger",
    metadata,
    Column("entry_id", Text, primary_key=True),
    # What the entry is for ("award:<credential>", "revocation:<credential>", ...): UNIQUE,
    # so a redelivered award or revocation never posts twice.
    Column("posting_key", Text, nullable=False, unique=True),
    Column("educator_id", Text, nullable=False),
    Column("district_id", Text, nullable=False),
    Column("credential_id", Text, nullable=False),
    Column("state", Text, nullable=False),
    Column("credits", Numeric, nullable=False),
    Column("unit", Text, nullable=False),
    Column("renewal_credits", Numeric, nullable=False),
    Column("certificate_cycle", Text, nullable=False),
    Column("cycle_start", Date, nullable=False),
    Column("cycle_end", Date, nullable=False),
    Column("reason", Text, nullable=False),
    Column("reverses_entry_id", Text, nullable=True),
    Column("posted_at", DateTime(timezone=True), nullable=False),
    Index("renewal_ledger_educator_cycle", "educator_id", "certificate_cycle"),
)

educator_licenses = Table(
    "educator_licenses",
    metadata,
    Column("educator_id", Text, primary_key=True),
    Column("district_id", Text, nullable=False),
    # Kept only to match the recipient of an imported credential (OB 3.0 emailAddress).
    Column("email", Text, nullable=True),
    Column("license_number", Text, nullable=True),
    Column("license_type", Text, nullable=True),
    Column("expires_on", Date, nullable=True),
    Column("as_of", DateTime(timezone=True), nullable=False),
)

imported_credentials = Table(
    "imported_credentials",
    metadata,
    Column("import_id", Text, primary_key=True),
    Column("educator_id", Text, nullable=False),
    Column("district_id", Text, nullable=False),
    Column("external_credential_id", Text, nullable=False),
    Column("external_issuer_id", Text, nullable=False),
    Column("external_achievement_id", Text, nullable=True),
    Column("achievement_name", Text, nullable=False),
    Column("proof_status", Text, nullable=False),
    Column("recognition_status", Text, nullable=False),
    Column("rule_id", Text, nullable=True),
    Column("equivalent_micro_credential_id", Text, nullable=True),
    Column("credits_value", Numeric, nullable=True),
    Column("credits_unit", Text, nullable=True),
    Column("document", JSONB, nullable=False),
    Column("imported_at", DateTime(timezone=True), nullable=False),
    Column("imported_by", Text, nullable=False),
    # The issuer's status list, as last read (migration 0008).
    Column("issuer_status", Text, nullable=True),
    Column("status_checked_at", DateTime(timezone=True), nullable=True),
    Column("status_detail", Text, nullable=True),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Index(
        "imported_credentials_once_per_educator",
        "educator_id",
        "external_credential_id",
        unique=True,
    ),
)

recognition_rules = Table(
    "recognition_rules",
    metadata,
    Column("rule_id", Text, primary_key=True),
    Column("external_issuer_id", Text, nullable=False),
    Column("external_achievement_id", Text, nullable=True),
    Column("achievement_name", Text, nullable=True),
    Column("equivalent_micro_credential_id", Text, nullable=True),
    Column("credits_value", Numeric, nullable=False),
    Column("credits_unit", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
