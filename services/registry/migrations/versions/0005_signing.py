"""Registry: signing keys and credential status changes (suspension, reinstatement, reissue).

- ``signing_keys``: the issuer's Ed25519 keys. The public key stays forever (credentials signed
  with a rotated key still verify); the private key is stored encrypted under the
  key-encryption key from configuration, and erased when the key is rotated out. At most one
  key is current (signs new credentials).
- ``credentials``: suspension columns, the reissue links, the key that signed the document;
  the status may now be ``suspended`` or ``superseded`` (a reissued credential's predecessor).
  One *current* credential per enrollment (superseded ones no longer count).
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.create_table(
        "signing_keys",
        sa.Column("key_id", sa.Text, primary_key=True),
        sa.Column("number", sa.Integer, nullable=False, unique=True),
        sa.Column("public_key_multibase", sa.Text, nullable=False),
        sa.Column("private_key_encrypted", sa.LargeBinary, nullable=True),
        sa.Column("kek_id", sa.Text, nullable=False),
        sa.Column("current", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "NOT current OR private_key_encrypted IS NOT NULL",
            name="signing_keys_current_can_sign",
        ),
    )
    op.create_index(
        "signing_keys_one_current",
        "signing_keys",
        ["current"],
        unique=True,
        postgresql_where=sa.text("current"),
    )

    op.add_column("credentials", sa.Column("signing_key_id", sa.Text, nullable=True))
    op.add_column("credentials", sa.Column("suspended_at", sa.DateTime(timezone=True)))
    op.add_column("credentials", sa.Column("suspended_by", sa.Text))
    op.add_column("credentials", sa.Column("suspension_reason", sa.Text))
    op.add_column("credentials", sa.Column("suspended_until", sa.DateTime(timezone=True)))
    op.add_column("credentials", sa.Column("reissued_from", sa.Text))
    op.add_column("credentials", sa.Column("superseded_by", sa.Text))
    op.drop_constraint("credentials_status_known", "credentials", type_="check")
    op.create_check_constraint(
        "credentials_status_known",
        "credentials",
        "status IN ('active', 'suspended', 'revoked', 'superseded')",
    )
    op.drop_constraint("credentials_enrollment_id_key", "credentials", type_="unique")
    op.create_index(
        "credentials_one_current_per_enrollment",
        "credentials",
        ["enrollment_id"],
        unique=True,
        postgresql_where=sa.text("status <> 'superseded'"),
    )


def downgrade() -> None:
    op.drop_index("credentials_one_current_per_enrollment", table_name="credentials")
    op.execute("DELETE FROM credentials WHERE status = 'superseded'")
    op.create_unique_constraint("credentials_enrollment_id_key", "credentials", ["enrollment_id"])
    op.execute("UPDATE credentials SET status = 'active' WHERE status = 'suspended'")
    op.drop_constraint("credentials_status_known", "credentials", type_="check")
    op.create_check_constraint(
        "credentials_status_known", "credentials", "status IN ('active', 'revoked')"
    )
    for column in (
        "superseded_by",
        "reissued_from",
        "suspended_until",
        "suspension_reason",
        "suspended_by",
        "suspended_at",
        "signing_key_id",
    ):
        op.drop_column("credentials", column)
    op.drop_index("signing_keys_one_current", table_name="signing_keys")
    op.drop_table("signing_keys")
