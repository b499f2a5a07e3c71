"""Every contract survives the trip through Kafka, and its data matches its published schema.

One example per contract: event -> CloudEvents Kafka record -> parsed envelope -> decoded event.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from mc_events.contracts import (
    ArtifactRef,
    Assigned,
    AssignmentEscalated,
    CompletenessProblem,
    CompletenessProblemKind,
    CredentialAwarded,
    CredentialReinstated,
    CredentialReissued,
    CredentialRevoked,
    CredentialSuspended,
    Credits,
    CreditUnit,
    CriterionResult,
    DeadlineApproaching,
    Decided,
    DeferralCancellationReason,
    EducatorMovedDistrict,
    EducatorRegistered,
    EducatorUpdated,
    EndorsementEligible,
    Enrolled,
    EscalationOutcome,
    Event,
    EvidenceKind,
    EvidenceRequirement,
    EvidenceSubmitted,
    Expired,
    Fee,
    FeePayer,
    Grant,
    GrantKind,
    Level,
    License,
    MicroCredentialPublished,
    MicroCredentialRetired,
    MisconductKind,
    NotEarned,
    NotEarnedReason,
    PayrollBatchAcknowledged,
    PayrollBatchExported,
    PayrollBatchStatus,
    Purpose,
    RenewalCreditsPosted,
    ReviewOutcome,
    RevocationReason,
    RevocationRequested,
    RubricCriterion,
    SalaryLaneChanged,
    SalaryLaneChangeReason,
    StackCompleted,
    StackCompletionReversed,
    StackPublished,
    StackRetired,
    StackRule,
    StackRuleKind,
    StaffRole,
    StipendApproved,
    StipendBasis,
    StipendDeferralCancelled,
    StipendDeferred,
    StipendReversalReason,
    StipendReversed,
    SubmissionReturnedIncomplete,
    Withdrawn,
)
from mc_events.contracts.registry import CreditPostingReason
from mc_events.envelope import SCHEMA_BASE, decode, parse_record, to_record
from mc_events.schemas import SCHEMA_DIR, published_contracts

T0 = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
DEADLINE = T0 + timedelta(days=180)
SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
EDUCATOR = "TX-0001234"
DISTRICT = "lea-101912"
MC = "mc-formative-assessment"
PROFICIENT = Level(id="lvl-proficient", name="Proficient")
RESULTS = (
    CriterionResult(
        criterion_id="crit-plan",
        achieved_level_id="lvl-proficient",
        met=True,
        feedback="Clear success criteria shared with students.",
    ),
    CriterionResult(criterion_id="crit-video", achieved_level_id="lvl-exemplary", met=True),
)
GRANT = Grant(
    kind=GrantKind.DESIGNATION,
    code="lead-professional-educator",
    name="Lead Professional Educator",
    conditions=("three years of licensed teaching", "effective rating"),
)
STIPEND_FOR = {
    "educator_id": EDUCATOR,
    "district_id": DISTRICT,
    "basis": StipendBasis.CREDENTIAL,
    "credential_id": "cred-1",
    "rule_id": "fl-completion-stipend",
    "rule_version": 2,
    "fiscal_year": 2026,
    "fiscal_period": 9,
}
ROSTER_RECORD = {
    "educator_id": EDUCATOR,
    "first_name": "Ana",
    "last_name": "Reyes",
    "email": "ana.reyes@isd.example",
    "district_id": DISTRICT,
    "school_id": "campus-042",
    "role": StaffRole.TEACHER,
    "supervisor_id": "TX-0000999",
    "license": License(
        number="SC-88213", license_type="professional", expires_on=date(2030, 6, 30)
    ),
}

EXAMPLES: list[Event] = [
    MicroCredentialPublished(
        micro_credential_id=MC,
        micro_credential_version=2,
        issuer_id="issuer-bloomboard",
        issuer_name="BloomBoard",
        title="Formative Assessment",
        competency="The educator uses formative assessment to adjust instruction.",
        description="Plan, teach and reflect on a lesson built around exit tickets.",
        evidence_requirements=(
            EvidenceRequirement(
                id="req-video",
                kind=EvidenceKind.VIDEO,
                prompt="A 10-minute classroom video.",
                required=True,
            ),
            EvidenceRequirement(
                id="req-reflection",
                kind=EvidenceKind.REFLECTION,
                prompt="What did the exit tickets change?",
                required=True,
                min_words=300,
                max_words=800,
            ),
        ),
        rubric=(
            RubricCriterion(
                id="crit-plan",
                name="Lesson plan",
                levels=(Level(id="lvl-emerging", name="Emerging"), PROFICIENT),
                required_level_id="lvl-proficient",
            ),
        ),
        credits=Credits(value=Decimal("1.5"), unit=CreditUnit.PD_HOURS),
        attempt_cap=3,
        completion_window_days=180,
        cooldown_days=30,
        fee=Fee(amount_cents=4000, payer=FeePayer.DISTRICT),
        allowed_purposes=(Purpose.LICENSE_RENEWAL, Purpose.CURATED_PD),
        approved_at=T0,
    ),
    MicroCredentialRetired(
        micro_credential_id=MC, micro_credential_version=1, reason="superseded", retired_at=T0
    ),
    StackPublished(
        stack_id="stack-assessment",
        stack_version=1,
        issuer_id="issuer-sde",
        name="Assessment Literacy",
        member_micro_credential_ids=(MC, "mc-feedback", "mc-data-teams"),
        rule=StackRule(kind=StackRuleKind.N_OF_M, n=2),
        grants=(
            GRANT,
            Grant(
                kind=GrantKind.COLLEGE_CREDIT,
                code="EDU-510",
                name="Assessment in Practice",
                credit_hours=Decimal(3),
                institution="State University",
            ),
        ),
        approved_at=T0,
    ),
    StackRetired(stack_id="stack-assessment", stack_version=1, retired_at=T0),
    EducatorRegistered(**ROSTER_RECORD, registered_at=T0),
    EducatorUpdated(**{**ROSTER_RECORD, "email": "a.reyes@isd.example"}, updated_at=T0),
    EducatorMovedDistrict(
        educator_id=EDUCATOR,
        from_district_id=DISTRICT,
        from_school_id="campus-042",
        to_district_id="lea-057905",
        effective_at=T0,
    ),
    Enrolled(
        enrollment_id="enr-1",
        educator_id=EDUCATOR,
        district_id=DISTRICT,
        micro_credential_id=MC,
        micro_credential_version=2,
        purpose=Purpose.LICENSE_RENEWAL,
        enrolled_at=T0,
        deadline_at=DEADLINE,
    ),
    EvidenceSubmitted(
        enrollment_id="enr-1",
        submission_id="sub-1",
        attempt=1,
        educator_id=EDUCATOR,
        district_id=DISTRICT,
        school_id="campus-042",
        supervisor_id="TX-0000999",
        micro_credential_id=MC,
        micro_credential_version=2,
        artifacts=(
            ArtifactRef(
                artifact_id="art-1",
                requirement_id="req-video",
                kind=EvidenceKind.VIDEO,
                content_type="video/mp4",
                size_bytes=734_003_200,
                sha256=SHA,
                uri="s3://evidence/enr-1/sub-1/art-1",
            ),
            ArtifactRef(
                artifact_id="art-2",
                requirement_id="req-reflection",
                kind=EvidenceKind.REFLECTION,
                content_type="text/plain",
                size_bytes=2_480,
                sha256=SHA,
                uri="s3://evidence/enr-1/sub-1/art-2",
                word_count=412,
            ),
        ),
        submitted_at=T0,
        deadline_at=DEADLINE,
    ),
    SubmissionReturnedIncomplete(
        enrollment_id="enr-1",
        submission_id="sub-0",
        educator_id=EDUCATOR,
        problems=(
            CompletenessProblem(
                requirement_id="req-video", problem=CompletenessProblemKind.MISSING
            ),
            CompletenessProblem(
                requirement_id="req-reflection",
                problem=CompletenessProblemKind.TOO_SHORT,
                detail="212 words; at least 300 needed",
            ),
        ),
        returned_at=T0,
    ),
    Withdrawn(enrollment_id="enr-1", educator_id=EDUCATOR, micro_credential_id=MC, withdrawn_at=T0),
    Expired(
        enrollment_id="enr-1",
        educator_id=EDUCATOR,
        micro_credential_id=MC,
        micro_credential_version=2,
        attempts_used=1,
        deadline_at=DEADLINE,
        expired_at=DEADLINE,
        may_reenroll_from=DEADLINE + timedelta(days=30),
    ),
    DeadlineApproaching(
        enrollment_id="enr-1",
        educator_id=EDUCATOR,
        micro_credential_id=MC,
        micro_credential_version=2,
        status="revision_requested",
        days_before=3,
        deadline_at=DEADLINE,
        attempts_left=1,
        reminded_at=DEADLINE - timedelta(days=3),
    ),
    NotEarned(
        enrollment_id="enr-1",
        educator_id=EDUCATOR,
        district_id=DISTRICT,
        micro_credential_id=MC,
        micro_credential_version=2,
        reason=NotEarnedReason.ATTEMPTS_EXHAUSTED,
        attempts_used=3,
        decision_id="dec-3",
        recorded_at=T0,
        may_reenroll_from=T0 + timedelta(days=30),
    ),
    Assigned(
        assignment_id="asg-1",
        enrollment_id="enr-1",
        submission_id="sub-1",
        attempt=1,
        micro_credential_id=MC,
        assessor_id="TX-0077777",
        assigned_at=T0,
        due_at=T0 + timedelta(days=7),
    ),
    Decided(
        decision_id="dec-1",
        enrollment_id="enr-1",
        submission_id="sub-1",
        attempt=1,
        educator_id=EDUCATOR,
        district_id=DISTRICT,
        micro_credential_id=MC,
        micro_credential_version=2,
        outcome=ReviewOutcome.PASSED,
        results=RESULTS,
        assessor_ids=("TX-0077777", "TX-0066666"),
        approver_id="TX-0055555",
        decided_at=T0,
    ),
    RevocationRequested(
        request_id="rvr-1",
        enrollment_id="enr-1",
        submission_id="sub-1",
        educator_id=EDUCATOR,
        micro_credential_id=MC,
        kind=MisconductKind.PLAGIARISM,
        detail="Video matches a submission from 2024.",
        approver_id="TX-0055555",
        requested_at=T0,
    ),
    AssignmentEscalated(
        escalation_id="esc-1",
        enrollment_id="enr-1",
        submission_id="sub-1",
        attempt=1,
        micro_credential_id=MC,
        overdue_assignment_id="asg-1",
        overdue_assessor_id="TX-0077777",
        due_at=T0,
        outcome=EscalationOutcome.REASSIGNED,
        reassigned_assignment_id="asg-2",
        reassigned_to="TX-0066666",
        escalated_at=T0 + timedelta(hours=1),
    ),
    CredentialAwarded(
        credential_id="cred-1",
        educator_id=EDUCATOR,
        district_id=DISTRICT,
        micro_credential_id=MC,
        micro_credential_version=2,
        enrollment_id="enr-1",
        decision_id="dec-1",
        issuer_id="issuer-bloomboard",
        achievement_name="Formative Assessment",
        purpose=Purpose.LICENSE_RENEWAL,
        credits=Credits(value=Decimal("1.5"), unit=CreditUnit.PD_HOURS),
        awarded_at=T0,
        valid_until=datetime(2031, 6, 30, 23, 59, 59, tzinfo=UTC),
        credential_url="https://creds.state.example/credentials/cred-1",
        results=RESULTS,
    ),
    CredentialRevoked(
        credential_id="cred-1",
        educator_id=EDUCATOR,
        district_id=DISTRICT,
        micro_credential_id=MC,
        micro_credential_version=2,
        enrollment_id="enr-1",
        reason=RevocationReason.PLAGIARISM,
        reason_detail="Video matches a submission from 2024.",
        revoked_at=T0,
    ),
    CredentialSuspended(
        credential_id="cred-1",
        educator_id=EDUCATOR,
        district_id=DISTRICT,
        micro_credential_id=MC,
        micro_credential_version=2,
        reason="misconduct investigation",
        suspended_at=T0,
    ),
    CredentialReinstated(
        credential_id="cred-1",
        educator_id=EDUCATOR,
        district_id=DISTRICT,
        micro_credential_id=MC,
        micro_credential_version=2,
        reinstated_at=T0,
    ),
    CredentialReissued(
        credential_id="cred-2",
        educator_id=EDUCATOR,
        district_id=DISTRICT,
        micro_credential_id=MC,
        micro_credential_version=2,
        enrollment_id="enr-1",
        previous_credential_id="cred-1",
        reason="corrected achievement name",
        awarded_at=T0,
        credential_url="https://creds.state.example/credentials/cred-2",
        reissued_at=T0,
    ),
    StackCompleted(
        stack_completion_id="stc-1",
        stack_id="stack-assessment",
        stack_version=1,
        stack_name="Assessment Literacy",
        educator_id=EDUCATOR,
        district_id=DISTRICT,
        grants=(GRANT,),
        member_credential_ids=("cred-1", "cred-2"),
        completed_at=T0,
    ),
    StackCompletionReversed(
        stack_completion_id="stc-1",
        stack_id="stack-assessment",
        stack_version=1,
        educator_id=EDUCATOR,
        district_id=DISTRICT,
        grants=(GRANT,),
        revoked_credential_id="cred-1",
        reversed_at=T0,
    ),
    RenewalCreditsPosted(
        ledger_entry_id="rcl-2",
        educator_id=EDUCATOR,
        district_id=DISTRICT,
        credential_id="cred-1",
        credits=Decimal("-1.5"),
        unit=CreditUnit.PD_HOURS,
        renewal_credits=Decimal("-2.00"),
        certificate_cycle="2025-2030",
        reason=CreditPostingReason.REVOCATION,
        reverses_entry_id="rcl-1",
        posted_at=T0,
    ),
    EndorsementEligible(
        eligibility_id="elig-1",
        educator_id=EDUCATOR,
        district_id=DISTRICT,
        endorsement_code="WY-READING",
        endorsement_name="Reading Specialist",
        stack_id="stack-assessment",
        stack_completion_id="stc-1",
        credential_ids=("cred-1", "cred-2"),
        determined_at=T0,
    ),
    StipendApproved(
        **STIPEND_FOR,
        ledger_entry_id="pay-1",
        amount_cents=100_000,
        funding_source="state-mc-stipend-fund",
        approved_at=T0,
    ),
    StipendReversed(
        **STIPEND_FOR,
        reversal_entry_id="pay-2",
        original_entry_id="pay-1",
        amount_cents=-100_000,
        reason=StipendReversalReason.CREDENTIAL_REVOKED,
        reversed_at=T0,
    ),
    StipendDeferred(
        **{**STIPEND_FOR, "basis": StipendBasis.STACK_COMPLETION, "credential_id": None},
        stack_completion_id="stc-1",
        deferral_id="def-1",
        amount_cents=100_000,
        funding_source="state-mc-stipend-fund",
        deferred_at=T0,
    ),
    StipendDeferralCancelled(
        **STIPEND_FOR,
        deferral_id="def-2",
        amount_cents=100_000,
        funding_source="state-mc-stipend-fund",
        reason=DeferralCancellationReason.CREDENTIAL_REVOKED,
        cancelled_at=T0,
    ),
    SalaryLaneChanged(
        lane_change_id="lane-1",
        educator_id=EDUCATOR,
        district_id=DISTRICT,
        from_lane=None,
        to_lane="MA+15",
        reason=SalaryLaneChangeReason.STACK_COMPLETED,
        stack_completion_id="stc-1",
        stack_id="stack-assessment",
        rule_id="lane-assessment-ma15",
        rule_version=1,
        effective_at=T0,
        changed_at=T0,
    ),
    PayrollBatchExported(
        batch_id="batch-2026-07",
        district_id=DISTRICT,
        pay_period_id="2026-PP07",
        pay_period_start=date(2026, 3, 1),
        pay_period_end=date(2026, 3, 14),
        entry_count=2,
        total_cents=0,
        checksum_sha256=SHA,
        idempotency_key="lea-101912:2026-PP07:1",
        exported_at=T0,
    ),
    PayrollBatchAcknowledged(
        batch_id="batch-2026-07",
        district_id=DISTRICT,
        idempotency_key="lea-101912:2026-PP07:1",
        status=PayrollBatchStatus.PARTIALLY_ACCEPTED,
        accepted_entry_count=1,
        rejected_entry_ids=("pay-2",),
        payroll_reference="PR-77812",
        acknowledged_at=T0,
    ),
]


def _id(event: Event) -> str:
    return event.ce_type()


def _published_schema(event: Event) -> dict:
    return json.loads((SCHEMA_DIR / f"{event.schema_name()}.json").read_text())


def test_every_published_contract_has_a_round_trip_example():
    examples = {type(event).ce_type() for event in EXAMPLES}
    assert examples == set(published_contracts())
    assert len(examples) == len(EXAMPLES), "one example per contract"


@pytest.mark.parametrize("event", EXAMPLES, ids=_id)
def test_an_event_decodes_from_its_kafka_record_to_an_equal_event(event: Event):
    record = to_record(event, source="urn:mc:test", event_id="evt-1")
    envelope = parse_record(record.headers, record.key, record.value)
    decoded = decode(envelope)

    assert type(decoded) is type(event)
    assert decoded == event
    assert record.topic == event.topic
    assert record.key == event.partition_key().encode()
    assert envelope.type == event.ce_type()
    assert envelope.key == envelope.subject == event.partition_key()


@pytest.mark.parametrize("event", EXAMPLES, ids=_id)
def test_the_data_on_the_wire_validates_against_the_checked_in_schema(event: Event):
    record = to_record(event, source="urn:mc:test")
    schema = _published_schema(event)
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)

    errors = [error.message for error in validator.iter_errors(json.loads(record.value))]
    assert errors == []


@pytest.mark.parametrize("event", EXAMPLES, ids=_id)
def test_the_cloudevents_dataschema_names_the_checked_in_schema(event: Event):
    record = to_record(event, source="urn:mc:test")
    headers = dict(record.headers)

    assert headers["ce_dataschema"].decode() == _published_schema(event)["$id"]
    assert headers["ce_dataschema"].decode() == f"{SCHEMA_BASE}{event.ce_type()}"


def test_a_schema_violation_in_the_data_is_caught_by_the_schema_too():
    # The schema is what non-Python consumers validate with: it must reject what Pydantic does.
    event = EXAMPLES[0]
    data = json.loads(to_record(event, source="urn:mc:test").value)
    data["fee"]["amount_cents"] = 40.5
    validator = Draft202012Validator(_published_schema(event))

    assert not validator.is_valid(data)


def test_consumers_ignore_fields_they_do_not_know():
    event = next(e for e in EXAMPLES if isinstance(e, CredentialAwarded))
    data = json.loads(event.model_dump_json())
    data["added_in_a_later_release"] = {"anything": 1}

    assert CredentialAwarded.model_validate(data) == event


def test_a_passed_decision_needs_every_criterion_met():
    decided = next(e for e in EXAMPLES if isinstance(e, Decided))
    data = decided.model_dump()
    data["results"] = [*data["results"][:1], {**data["results"][1], "met": False}]

    with pytest.raises(ValidationError, match="every criterion is met"):
        Decided.model_validate(data)
    assert Decided.model_validate({**data, "outcome": "revision_requested"}).outcome == (
        ReviewOutcome.REVISION_REQUESTED
    )


def test_a_reversal_of_renewal_credits_is_negative_and_names_the_entry_it_reverses():
    posted = next(e for e in EXAMPLES if isinstance(e, RenewalCreditsPosted))
    data = posted.model_dump()

    with pytest.raises(ValidationError, match="names the entry it reverses"):
        RenewalCreditsPosted.model_validate({**data, "reverses_entry_id": None})
    with pytest.raises(ValidationError, match="same sign"):
        RenewalCreditsPosted.model_validate({**data, "renewal_credits": Decimal(2)})


def test_a_stipend_names_exactly_the_award_it_pays_for():
    approved = next(e for e in EXAMPLES if isinstance(e, StipendApproved))
    data = approved.model_dump()

    with pytest.raises(ValidationError, match="basis credential"):
        StipendApproved.model_validate({**data, "stack_completion_id": "stc-1"})
    with pytest.raises(ValidationError, match="basis credential"):
        StipendApproved.model_validate({**data, "credential_id": None})


def test_money_is_never_a_fraction_of_a_cent():
    approved = next(e for e in EXAMPLES if isinstance(e, StipendApproved))

    with pytest.raises(ValidationError):
        StipendApproved.model_validate({**approved.model_dump(), "amount_cents": 999.5})
    with pytest.raises(ValidationError):
        StipendReversed.model_validate(
            {**approved.model_dump(), "amount_cents": 100, "reversal_entry_id": "x"}
        )


def test_naive_datetimes_are_rejected():
    enrolled = next(e for e in EXAMPLES if isinstance(e, Enrolled))

    with pytest.raises(ValidationError, match="timezone"):
        Enrolled.model_validate({**enrolled.model_dump(), "enrolled_at": datetime(2026, 3, 2)})


def test_a_rubric_criterion_requires_one_of_its_own_levels():
    with pytest.raises(ValidationError, match="is not a level"):
        RubricCriterion(id="c", name="C", levels=(PROFICIENT,), required_level_id="lvl-other")


def test_a_stack_rule_of_n_of_m_needs_n_and_at_most_m():
    with pytest.raises(ValidationError, match="n is required"):
        StackRule(kind=StackRuleKind.N_OF_M)
    stack = next(e for e in EXAMPLES if isinstance(e, StackPublished))
    with pytest.raises(ValidationError, match="larger than the number of members"):
        StackPublished.model_validate({**stack.model_dump(), "rule": {"kind": "n_of_m", "n": 4}})
