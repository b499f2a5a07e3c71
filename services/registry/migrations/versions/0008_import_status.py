"""Registry: the issuer's status of imported credentials.

``issuer_status`` is what the issuer's status list said when it was last read (``valid``,
``revoked``, ``suspended``, ``status_unknown``, or ``none`` for a credential without a status
entry; NULL for imports recorded before it was read), ``status_checked_at`` when, and
``status_detail`` why. ``revoked_at``: when the registry noticed that the issuer revoked it (the
import's recognition is then ``revoked`` and its credits reversed). The unique
``(purpose, sequence)`` of status lists that makes their creation race-free is from 0003.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    op.add_column("imported_credentials", sa.Column("issuer_status", sa.Text, nullable=True))
    op.add_column(
        "imported_credentials",
        sa.Column("status_checked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column("imported_credentials", sa.Column("status_detail", sa.Text, nullable=True))
    op.add_column(
        "imported_credentials", sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_check_constraint(
        "imported_credentials_issuer_status_known",
        "imported_credentials",
        "issuer_status IS NULL OR issuer_status IN "
        "('valid', 'revoked', 'suspended', 'status_unknown', 'none')",
    )
    # The recheck sweep reads the imports not yet revoked, least recently checked first.
    op.create_index(
        "imported_credentials_to_recheck",
        "imported_credentials",
        [sa.text("status_checked_at NULLS FIRST")],
        postgresql_where=sa.text("revoked_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("imported_credentials_to_recheck", table_name="imported_credentials")
    op.drop_constraint(
        "imported_credentials_issuer_status_known", "imported_credentials", type_="check"
    )
    for column in ("revoked_at", "status_detail", "status_checked_at", "issuer_status"):
        op.drop_column("imported_credentials", column)
