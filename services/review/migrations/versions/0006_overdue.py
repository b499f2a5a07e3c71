"""Review: overdue assignments are released and reassigned; escalations, once per assignment.

A slot may now hold several assignments over time (one per generation), but only one that is
not released; an overdue assignment is escalated at most once (unique ``assignment_id``).
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column(
        "assignments",
        sa.Column("generation", sa.Integer, nullable=False, server_default=sa.text("1")),
    )
    op.add_column("assignments", sa.Column("released_at", TS))
    op.drop_constraint("uq_assignments_submission_slot", "assignments", type_="unique")
    op.create_unique_constraint(
        "uq_assignments_submission_slot_generation",
        "assignments",
        ["submission_id", "slot", "generation"],
    )
    op.create_index(
        "uq_assignments_live_slot",
        "assignments",
        ["submission_id", "slot"],
        unique=True,
        postgresql_where=sa.text("status <> 'released'"),
    )
    op.create_index(
        "ix_assignments_open_due",
        "assignments",
        ["due_at"],
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_table(
        "escalations",
        sa.Column("escalation_id", sa.Text, primary_key=True),
        sa.Column(
            "assignment_id",
            sa.Text,
            sa.ForeignKey("assignments.assignment_id"),
            nullable=False,
            unique=True,
        ),
        sa.Column("submission_id", sa.Text, nullable=False, index=True),
        sa.Column("assessor_id", sa.Text, nullable=False),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("escalated_at", TS, nullable=False),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("reassigned_assignment_id", sa.Text),
        sa.Column("reassigned_to", sa.Text),
        sa.Column("reassigned_at", TS),
    )


def downgrade() -> None:
    op.drop_table("escalations")
    op.drop_index("ix_assignments_open_due", table_name="assignments")
    op.drop_index("uq_assignments_live_slot", table_name="assignments")
    op.drop_constraint("uq_assignments_submission_slot_generation", "assignments", type_="unique")
    op.execute("DELETE FROM assignments WHERE generation > 1")
    op.create_unique_constraint(
        "uq_assignments_submission_slot", "assignments", ["submission_id", "slot"]
    )
    op.drop_column("assignments", "released_at")
    op.drop_column("assignments", "generation")
