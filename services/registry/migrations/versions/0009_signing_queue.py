"""Registry: credentials are signed after the award commits.

An award records the credential (its Open Badges document without a proof) and its events in one
transaction; ``signed_at`` stays NULL until a signer (the ``credential-signer`` worker, or the
first reader of the credential) adds the Data Integrity proof under a row lock. The partial index
keeps the queue of credentials awaiting a signature cheap to read however many are signed.
Credentials recorded before this migration were signed at award time: ``signed_at`` is their
``recorded_at`` (one without a proof joins the queue and is signed).
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    op.add_column("credentials", sa.Column("signed_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE credentials SET signed_at = recorded_at WHERE document ? 'proof'")
    op.create_index(
        "credentials_awaiting_signature",
        "credentials",
        ["recorded_at"],
        postgresql_where=sa.text("signed_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("credentials_awaiting_signature", table_name="credentials")
    op.drop_column("credentials", "signed_at")
