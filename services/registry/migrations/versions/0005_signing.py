"""Registry: signing keys and credential status changes (suspension, reinstatement, reissue)."""

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
