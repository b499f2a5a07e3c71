"""The review database's own tables (the backbone's outbox and inbox come from mc_events).

Read models (``catalog_versions``, ``roster_educators``) hold only what review needs from the
registry and enrollment events: no educator names or emails are ever stored here.
"""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    Numeric,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

metadata = MetaData()

catalog_versions = Table(
    "catalog_versions",
    metadata,
    Column("micro_credential_id", Text, primary_key=True),
    Column("micro_credential_version", Integer, primary_key=True),
    Column("competency", Text, nullable=False),
    Column("rubric", JSONB, nullable=False),
    Column("attempt_cap", Integer, nullable=False),
    Column("published_at", DateTime(timezone=True), nullable=False),
    Column("retired_at", DateTime(timezone=True)),
)

roster_educators = Table(
    "roster_educators",
    metadata,
    Column("educator_id", Text, primary_key=True),
    Column("district_id", Text, nullable=False),
    Column("school_id", Text),
    Column("supervisor_id", Text, index=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

assessors = Table(
    "assessors",
    metadata,
    Column("assessor_id", Text, primary_key=True),
    Column("educator_id", Text),
    Column("district_id", Text, nullable=False),
    Column("school_id", Text),
    Column("supervises", ARRAY(Text), nullable=False),
    Column("qualifications", JSONB, nullable=False),
    Column("calibration_status", Text, nullable=False),
    Column("weekly_capacity", Integer, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

reviews = Table(
    "reviews",
    metadata,
    Column("submission_id", Text, primary_key=True),
    Column("enrollment_id", Text, nullable=False, index=True),
    Column("attempt", Integer, nullable=False),
    Column("educator_id", Text, nullable=False),
    Column("district_id", Text, nullable=False),
    Column("school_id", Text),
    Column("supervisor_id", Text),
    Column("micro_credential_id", Text, nullable=False),
    Column("micro_credential_version", Integer, nullable=False),
    Column("raters_required", Integer, nullable=False),
    Column("status", Text, nullable=False),
    Column("submitted_at", DateTime(timezone=True), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("artifacts", JSONB, nullable=False),
    Column("decision_id", Text),
    Column("outcome", Text),
    Column("decided_at", DateTime(timezone=True)),
    # The decided per-criterion results, kept for the research measures.
    Column("results", JSONB),
)

assignments = Table(
    "assignments",
    metadata,
    Column("assignment_id", Text, primary_key=True),
    Column("submission_id", Text, ForeignKey("reviews.submission_id"), nullable=False),
    Column("slot", Integer, nullable=False),
    Column("role", Text, nullable=False),
    Column("assessor_id", Text, ForeignKey("assessors.assessor_id"), nullable=False),
    Column("assigned_at", DateTime(timezone=True), nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("status", Text, nullable=False),
    Column("scores", JSONB),
    Column("scored_at", DateTime(timezone=True)),
    # 1 for the first assignment of a slot; each reassignment of an overdue one adds 1.
    Column("generation", Integer, nullable=False, server_default=text("1")),
    Column("released_at", DateTime(timezone=True)),
    UniqueConstraint(
        "submission_id", "slot", "generation", name="uq_assignments_submission_slot_generation"
    ),
    # A redelivered submission (even under another event id) can never fill a slot twice:
    # a slot holds one assignment that is not released.
    Index(
        "uq_assignments_live_slot",
        "submission_id",
        "slot",
        unique=True,
        postgresql_where=text("status <> 'released'"),
    ),
)

escalations = Table(
    "escalations",
    metadata,
    Column("escalation_id", Text, primary_key=True),
    Column(
        "assignment_id",
        Text,
        ForeignKey("assignments.assignment_id"),
        nullable=False,
        unique=True,
    ),
    Column("submission_id", Text, nullable=False, index=True),
    Column("assessor_id", Text, nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("escalated_at", DateTime(timezone=True), nullable=False),
    Column("outcome", Text, nullable=False),
    Column("reassigned_assignment_id", Text),
    Column("reassigned_to", Text),
    Column("reassigned_at", DateTime(timezone=True)),
)

misconduct_cases = Table(
    "misconduct_cases",
    metadata,
    Column("case_id", Text, primary_key=True),
    Column("submission_id", Text, ForeignKey("reviews.submission_id"), nullable=False),
    Column("flagged_by", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("detail", Text, nullable=False),
    Column("flagged_at", DateTime(timezone=True), nullable=False),
    Column("status", Text, nullable=False),
    Column("review_status_before", Text, nullable=False),
    Column("resolved_by", Text),
    Column("resolved_at", DateTime(timezone=True)),
    Column("finding", Text),
    Column("effect", Text),
)

calibration_runs = Table(
    "calibration_runs",
    metadata,
    Column("run_id", Text, primary_key=True),
    Column("seq", BigInteger, Identity(), nullable=False),
    Column("assessor_id", Text, ForeignKey("assessors.assessor_id"), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("samples", Integer, nullable=False),
    Column("agreement", Numeric(5, 4), nullable=False),
    Column("kappa", Numeric(6, 4)),
    Column("threshold", Numeric(5, 4), nullable=False),
    Column("per_criterion", JSONB, nullable=False),
    Column("calibrated", Boolean, nullable=False),
)
