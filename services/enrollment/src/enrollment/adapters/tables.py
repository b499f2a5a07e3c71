"""The enrollment database's own tables (the backbone's outbox and inbox come from mc_events)."""

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

metadata = sa.MetaData()

educators = sa.Table(
    "educators",
    metadata,
    sa.Column("educator_id", sa.Text, primary_key=True),
    sa.Column("first_name", sa.Text, nullable=False),
    sa.Column("middle_name", sa.Text),
    sa.Column("last_name", sa.Text, nullable=False),
    sa.Column("email", sa.Text, nullable=False),
    sa.Column("district_id", sa.Text, nullable=False),
    sa.Column("school_id", sa.Text),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("supervisor_id", sa.Text),
    sa.Column("license_number", sa.Text),
    sa.Column("license_type", sa.Text),
    sa.Column("license_expires_on", sa.Date),
    sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_educators_district", "district_id"),
)

catalog_versions = sa.Table(
    "catalog_versions",
    metadata,
    sa.Column("micro_credential_id", sa.Text, primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("attempt_cap", sa.Integer, nullable=False),
    sa.Column("completion_window_days", sa.Integer, nullable=False),
    sa.Column("cooldown_days", sa.Integer, nullable=False),
    sa.Column("allowed_purposes", pg.ARRAY(sa.Text), nullable=False),
    sa.Column("evidence_requirements", sa.JSON, nullable=False),
    sa.Column("approved_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("retired_at", sa.DateTime(timezone=True)),
)

ACTIVE_STATUSES = (
    "enrolled",
    "submitted",
    "returned_incomplete",
    "under_review",
    "revision_requested",
    "resubmitted",
)

enrollments = sa.Table(
    "enrollments",
    metadata,
    sa.Column("enrollment_id", sa.Text, primary_key=True),
    sa.Column("educator_id", sa.Text, nullable=False),
    sa.Column("district_id", sa.Text, nullable=False),
    sa.Column("micro_credential_id", sa.Text, nullable=False),
    sa.Column("micro_credential_version", sa.Integer, nullable=False),
    sa.Column("purpose", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("attempt_cap", sa.Integer, nullable=False),
    sa.Column("completion_window_days", sa.Integer, nullable=False),
    sa.Column("cooldown_days", sa.Integer, nullable=False),
    sa.Column("attempts_used", sa.Integer, nullable=False),
    sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("closed_at", sa.DateTime(timezone=True)),
    sa.Column("end_reason", sa.Text),
    sa.Column("may_reenroll_from", sa.DateTime(timezone=True)),
    # The misconduct kind of the decision that ended it, if one did (migration 0007).
    sa.Column("misconduct", sa.Text),
    sa.Index("ix_enrollments_educator", "educator_id", "micro_credential_id"),
    # One open enrollment per educator per MC, whatever the application does.
    sa.Index(
        "uq_enrollments_one_active",
        "educator_id",
        "micro_credential_id",
        unique=True,
        postgresql_where=sa.text(
            "status IN (" + ", ".join(f"'{s}'" for s in ACTIVE_STATUSES) + ")"
        ),
    ),
    # The deadline sweeps' scan (migration 0006).
    sa.Index(
        "ix_enrollments_waiting_deadline",
        "deadline_at",
        postgresql_where=sa.text(
            "status IN ('enrolled', 'returned_incomplete', 'revision_requested')"
        ),
    ),
)

artifacts = sa.Table(
    "artifacts",
    metadata,
    sa.Column("artifact_id", sa.Text, primary_key=True),
    sa.Column("enrollment_id", sa.Text, sa.ForeignKey("enrollments.enrollment_id"), nullable=False),
    sa.Column("requirement_id", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("content_type", sa.Text, nullable=False),
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Column("sha256", sa.Text, nullable=False),
    sa.Column("uri", sa.Text, nullable=False),
    sa.Column("word_count", sa.Integer),
    # The submission that sent it to review; NULL while it is a draft.
    sa.Column("submission_id", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_artifacts_enrollment", "enrollment_id", "submission_id"),
)

submissions = sa.Table(
    "submissions",
    metadata,
    sa.Column("submission_id", sa.Text, primary_key=True),
    sa.Column("enrollment_id", sa.Text, sa.ForeignKey("enrollments.enrollment_id"), nullable=False),
    sa.Column("idempotency_key", sa.Text, nullable=False),
    sa.Column("complete", sa.Boolean, nullable=False),
    sa.Column("attempt", sa.Integer),
    sa.Column("problems", pg.JSONB, nullable=False),
    sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("decision_id", sa.Text),
    sa.Column("outcome", sa.Text),
    sa.Column("results", pg.JSONB),
    sa.Column("decided_at", sa.DateTime(timezone=True)),
    sa.Column("misconduct", sa.Text),  # migration 0007
    # The same submission sent twice (same Idempotency-Key) counts once.
    sa.UniqueConstraint("enrollment_id", "idempotency_key", name="uq_submissions_idempotency"),
)

review_assignments = sa.Table(
    "review_assignments",
    metadata,
    sa.Column("assignment_id", sa.Text, primary_key=True),
    sa.Column("enrollment_id", sa.Text, nullable=False),
    sa.Column("submission_id", sa.Text, nullable=False),
    sa.Column("assessor_id", sa.Text, nullable=False),
    sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_review_assignments_submission", "submission_id", "assessor_id"),
)

released_assignments = sa.Table(
    "released_assignments",
    metadata,
    # Keyed by the released assignment alone, not joined to review_assignments: a release may
    # arrive before the assignment it releases, and must still win when that arrives.
    sa.Column("assignment_id", sa.Text, primary_key=True),
    sa.Column("enrollment_id", sa.Text, nullable=False),
    sa.Column("submission_id", sa.Text, nullable=False),
    sa.Column("assessor_id", sa.Text, nullable=False),
    sa.Column("escalation_id", sa.Text, nullable=False),
    sa.Column("released_at", sa.DateTime(timezone=True), nullable=False),
)

deadline_reminders = sa.Table(
    "deadline_reminders",
    metadata,
    sa.Column("enrollment_id", sa.Text, sa.ForeignKey("enrollments.enrollment_id"), nullable=False),
    sa.Column("days_before", sa.Integer, nullable=False),
    sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=False),
    # One reminder per enrollment per threshold, however many sweeps run, side by side or again
    # after a crash: the sweep inserts here first and emits only for rows it inserted.
    sa.PrimaryKeyConstraint("enrollment_id", "days_before", name="pk_deadline_reminders"),
)
