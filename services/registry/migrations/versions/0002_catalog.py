"""Registry: the catalog (issuers, micro-credential and stack versions with their QA history)."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "issuers",
        sa.Column("issuer_id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("url", sa.Text, nullable=True),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "micro_credentials",
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("issuer_id", sa.Text, sa.ForeignKey("issuers.issuer_id"), nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("competency", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("purposes", ARRAY(sa.Text), nullable=False),
        sa.Column("spec", JSONB, nullable=False),
        sa.Column("history", JSONB, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", "version"),
        sa.CheckConstraint(
            "status IN ('draft', 'submitted', 'approved', 'retired')",
            name="micro_credentials_status_known",
        ),
    )
    op.create_index(
        "micro_credentials_one_open_version",
        "micro_credentials",
        ["id"],
        unique=True,
        postgresql_where=sa.text("status IN ('draft', 'submitted')"),
    )
    op.create_index("micro_credentials_status", "micro_credentials", ["status", "issuer_id"])
    op.create_index(
        "micro_credentials_purposes", "micro_credentials", ["purposes"], postgresql_using="gin"
    )
    # The public catalog's free-text search (same expression as the repository's query).
    op.execute(
        "CREATE INDEX micro_credentials_search ON micro_credentials USING gin "
        "(to_tsvector('english', title || ' ' || competency || ' ' || description))"
    )
    op.create_table(
        "stacks",
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("issuer_id", sa.Text, sa.ForeignKey("issuers.issuer_id"), nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("members", ARRAY(sa.Text), nullable=False),
        sa.Column("spec", JSONB, nullable=False),
        sa.Column("history", JSONB, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", "version"),
        sa.CheckConstraint(
            "status IN ('draft', 'submitted', 'approved', 'retired')", name="stacks_status_known"
        ),
    )
    op.create_index(
        "stacks_one_open_version",
        "stacks",
        ["id"],
        unique=True,
        postgresql_where=sa.text("status IN ('draft', 'submitted')"),
    )
    op.create_index("stacks_members", "stacks", ["members"], postgresql_using="gin")


def downgrade() -> None:
    op.drop_table("stacks")
    op.drop_table("micro_credentials")
    op.drop_table("issuers")
