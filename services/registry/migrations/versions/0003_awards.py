"""Registry: awarded credentials, Bitstring status lists, and the enrollment purposes read model."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.create_table(
        "status_lists",
        sa.Column("list_id", sa.Text, primary_key=True),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("sequence", sa.Integer, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("next_index", sa.Integer, nullable=False),
        sa.Column("bits", sa.LargeBinary, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("purpose", "sequence"),
        sa.CheckConstraint("next_index BETWEEN 0 AND size", name="status_lists_index_in_range"),
    )
    op.create_table(
        "credentials",
        sa.Column("credential_id", sa.Text, primary_key=True),
        sa.Column("enrollment_id", sa.Text, nullable=False, unique=True),
        sa.Column("decision_id", sa.Text, nullable=False),
        sa.Column("submission_id", sa.Text, nullable=False),
        sa.Column("educator_id", sa.Text, nullable=False),
        sa.Column("district_id", sa.Text, nullable=False),
        sa.Column("micro_credential_id", sa.Text, nullable=False),
        sa.Column("micro_credential_version", sa.Integer, nullable=False),
        sa.Column("issuer_id", sa.Text, nullable=False),
        sa.Column("achievement_name", sa.Text, nullable=False),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("credits_value", sa.Numeric, nullable=False),
        sa.Column("credits_unit", sa.Text, nullable=False),
        sa.Column("results", JSONB, nullable=False),
        sa.Column("awarded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("status_list_id", sa.Text, sa.ForeignKey("status_lists.list_id"), nullable=False),
        sa.Column("status_list_index", sa.Integer, nullable=False),
        sa.Column("document", JSONB, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.Text, nullable=True),
        sa.Column("revocation_reason", sa.Text, nullable=True),
        sa.Column("revocation_detail", sa.Text, nullable=True),
        sa.UniqueConstraint("status_list_id", "status_list_index"),
        sa.CheckConstraint("status IN ('active', 'revoked')", name="credentials_status_known"),
    )
    op.create_index("credentials_educator_id", "credentials", ["educator_id"])
    op.create_table(
        "enrollments",
        sa.Column("enrollment_id", sa.Text, primary_key=True),
        sa.Column("educator_id", sa.Text, nullable=False),
        sa.Column("micro_credential_id", sa.Text, nullable=False),
        sa.Column("micro_credential_version", sa.Integer, nullable=False),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("enrollments")
    op.drop_table("credentials")
    op.drop_table("status_lists")
