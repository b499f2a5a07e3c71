"""Compensation: credential reissues (a new credential id continues the original award).

Append-only, one row per new credential id (a redelivered reissue inserts nothing)."""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    op.create_table(
        "credential_reissues",
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
            "credential_id <> previous_credential_id",
            name="ck_reissue_names_another_credential",
        ),
        sa.Index("ix_credential_reissues_previous", "previous_credential_id"),
    )
    # compensation_append_only() comes from 0005.
    op.execute(
        "CREATE TRIGGER credential_reissues_append_only BEFORE UPDATE OR DELETE "
        "ON credential_reissues FOR EACH ROW EXECUTE FUNCTION compensation_append_only()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS credential_reissues_append_only ON credential_reissues")
    op.drop_table("credential_reissues")
