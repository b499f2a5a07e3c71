"""The registry database's own tables (the backbone's outbox and inbox come from mc_events).

Catalog entries keep their definition and QA history as JSONB (the domain's value types, as the
catalog events carry them) next to the few columns the public search filters on.
"""

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

metadata = MetaData()

issuers = Table(
    "issuers",
    metadata,
    Column("issuer_id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("url", Text, nullable=True),
    Column("description", Text, nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

micro_credentials = Table(
    "micro_credentials",
    metadata,
    Column("id", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("issuer_id", Text, ForeignKey("issuers.issuer_id"), nullable=False),
    Column("status", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("competency", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("purposes", ARRAY(Text), nullable=False),
    Column("spec", JSONB, nullable=False),
    Column("history", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("id", "version"),
    # At most one version of an entry is being written or reviewed at a time.
    Index(
        "micro_credentials_one_open_version",
        "id",
        unique=True,
        postgresql_where=text("status IN ('draft', 'submitted')"),
    ),
    Index("micro_credentials_status", "status", "issuer_id"),
)

stacks = Table(
    "stacks",
    metadata,
    Column("id", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("issuer_id", Text, ForeignKey("issuers.issuer_id"), nullable=False),
    Column("status", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("members", ARRAY(Text), nullable=False),
    Column("spec", JSONB, nullable=False),
    Column("history", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("id", "version"),
    Index(
        "stacks_one_open_version",
        "id",
        unique=True,
        postgresql_where=text("status IN ('draft', 'submitted')"),
    ),
)

# -- awards ----------------------------------------------------------------------------------

status_lists = Table(
    "status_lists",
    metadata,
    Column("list_id", Text, primary_key=True),
    Column("purpose", Text, nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("size", Integer, nullable=False),
    Column("next_index", Integer, nullable=False),
    Column("bits", LargeBinary, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("purpose", "sequence"),
)

credentials = Table(
    "credentials",
    metadata,
    Column("credential_id", Text, primary_key=True),
    # Exactly one current credential per enrollment, whatever the number of decisions
    # delivered (a reissued credential's predecessor is ``superseded``: see the index below).
    Column("enrollment_id", Text, nullable=False),
    Column("decision_id", Text, nullable=False),
    Column("submission_id", Text, nullable=False),
    Column("educator_id", Text, nullable=False, index=True),
    Column("district_id", Text, nullable=False),
    Column("micro_credential_id", Text, nullable=False),
    Column("micro_credential_version", Integer, nullable=False),
    Column("issuer_id", Text, nullable=False),
    Column("achievement_name", Text, nullable=False),
    Column("purpose", Text, nullable=False),
    Column("credits_value", Numeric, nullable=False),
    Column("credits_unit", Text, nullable=False),
    Column("results", JSONB, nullable=False),
    Column("awarded_at", DateTime(timezone=True), nullable=False),
    Column("valid_until", DateTime(timezone=True), nullable=True),
    Column("status", Text, nullable=False),
    Column("status_list_id", Text, ForeignKey("status_lists.list_id"), nullable=False),
    Column("status_list_index", Integer, nullable=False),
    Column("document", JSONB, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Column("revoked_by", Text, nullable=True),
    Column("revocation_reason", Text, nullable=True),
    Column("revocation_detail", Text, nullable=True),
    # Signing, suspension and reissue (migration 0005).
    Column("signing_key_id", Text, nullable=True),
    Column("suspended_at", DateTime(timezone=True), nullable=True),
    Column("suspended_by", Text, nullable=True),
    Column("suspension_reason", Text, nullable=True),
    Column("suspended_until", DateTime(timezone=True), nullable=True),
    Column("reissued_from", Text, nullable=True),
    Column("superseded_by", Text, nullable=True),
    # NULL until the proof is added (migration 0009): awards are signed after they commit.
    Column("signed_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("status_list_id", "status_list_index"),
    Index(
        "credentials_one_current_per_enrollment",
        "enrollment_id",
        unique=True,
        postgresql_where=text("status <> 'superseded'"),
    ),
    Index(
        "credentials_awaiting_signature", "recorded_at", postgresql_where=text("signed_at IS NULL")
    ),
)

# The issuer's Ed25519 signing keys (migration 0005): public keys forever, the private key
# encrypted under the configured key-encryption key until the key is rotated out.
signing_keys = Table(
    "signing_keys",
    metadata,
    Column("key_id", Text, primary_key=True),
    Column("number", Integer, nullable=False, unique=True),
    Column("public_key_multibase", Text, nullable=False),
    Column("private_key_encrypted", LargeBinary, nullable=True),
    Column("kek_id", Text, nullable=False),
    Column("current", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", Text, nullable=False),
    Column("retired_at", DateTime(timezone=True), nullable=True),
    Index("signing_keys_one_current", "current", unique=True, postgresql_where=text("current")),
)

# What each enrollment was for, from enrollment.enrolled (the review decision does not say).
enrollments = Table(
    "enrollments",
    metadata,
    Column("enrollment_id", Text, primary_key=True),
    Column("educator_id", Text, nullable=False),
    Column("micro_credential_id", Text, nullable=False),
    Column("micro_credential_version", Integer, nullable=False),
    Column("purpose", Text, nullable=False),
    Column("enrolled_at", DateTime(timezone=True), nullable=False),
)
