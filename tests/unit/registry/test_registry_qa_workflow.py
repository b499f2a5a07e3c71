"""The state's QA workflow for catalog entries, as a pure state machine."""

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from mc_devstack.samples import mc_spec_data, stack_spec_data
from registry.domain.catalog import (
    MembersNotApproved,
    MicroCredential,
    MicroCredentialSpec,
    NotOwner,
    Stack,
    StackSpec,
    VersionStillOpen,
)
from registry.domain.qa import (
    TRANSITIONS,
    InvalidTransition,
    QaAction,
    QaStatus,
    ReasonRequired,
    next_status,
)

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def draft_mc() -> MicroCredential:
    return MicroCredential.create(
        "wait-time", "provider-a", MicroCredentialSpec.model_validate(mc_spec_data()), "ann", T0
    )


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def submitted_mc() -> MicroCredential:
    mc = draft_mc()
    mc.submit("ann", at(1))
    return mc


def approved_mc() -> MicroCredential:
    mc = submitted_mc()
    mc.approve("sea-reviewer", at(2), "meets the quality standards")
    return mc


# -- the transition table ----------------------------------------------------------------------

ALLOWED = {
    (QaStatus.DRAFT, QaAction.EDIT): QaStatus.DRAFT,
    (QaStatus.DRAFT, QaAction.SUBMIT): QaStatus.SUBMITTED,
    (QaStatus.SUBMITTED, QaAction.APPROVE): QaStatus.APPROVED,
    (QaStatus.SUBMITTED, QaAction.REJECT): QaStatus.DRAFT,
    (QaStatus.APPROVED, QaAction.RETIRE): QaStatus.RETIRED,
}
STEPS = [a for a in QaAction if a is not QaAction.CREATE]


def test_the_transition_table_is_exactly_the_documented_workflow():
    assert TRANSITIONS == ALLOWED


@pytest.mark.parametrize("status", list(QaStatus))
@pytest.mark.parametrize("action", STEPS)
def test_every_step_not_in_the_workflow_is_refused(status, action):
    if (status, action) in ALLOWED:
        assert next_status(status, action, "why") is ALLOWED[(status, action)]
    else:
        with pytest.raises(InvalidTransition):
            next_status(status, action, "why")


@pytest.mark.parametrize("action", [QaAction.REJECT, QaAction.RETIRE])
def test_rejection_and_retirement_need_a_reason(action):
    start = QaStatus.SUBMITTED if action is QaAction.REJECT else QaStatus.APPROVED
    with pytest.raises(ReasonRequired):
        next_status(start, action, "   ")


# -- micro-credentials -------------------------------------------------------------------------


def test_a_new_micro_credential_is_a_draft_version_one_and_not_enrollable():
    mc = draft_mc()
    assert (mc.version, mc.status, mc.enrollable, mc.awardable) == (1, QaStatus.DRAFT, False, False)
    assert mc.history[0].action is QaAction.CREATE


def test_a_draft_can_be_edited_then_submitted():
    mc = draft_mc()
    mc.edit(MicroCredentialSpec.model_validate(mc_spec_data(title="Wait Time II")), "ann", at(1))
    mc.submit("ann", at(2))
    assert mc.status is QaStatus.SUBMITTED
    assert mc.definition.title == "Wait Time II"


def test_approval_records_reviewer_date_and_reason_and_makes_it_enrollable():
    mc = approved_mc()
    step = mc.history[-1]
    assert (step.action, step.actor, step.at, step.reason) == (
        QaAction.APPROVE,
        "sea-reviewer",
        at(2),
        "meets the quality standards",
    )
    assert (step.from_status, step.to_status) == (QaStatus.SUBMITTED, QaStatus.APPROVED)
    assert mc.enrollable
    assert mc.awardable
    assert mc.approved_at == at(2)


def test_rejection_sends_the_version_back_to_draft_with_the_reason():
    mc = submitted_mc()
    mc.reject("sea-reviewer", at(2), "rubric levels are not observable")
    assert mc.status is QaStatus.DRAFT
    assert mc.history[-1].reason == "rubric levels are not observable"
    mc.submit("ann", at(3))  # fixed and resubmitted
    assert mc.status is QaStatus.SUBMITTED


def test_rejection_without_reason_changes_nothing():
    mc = submitted_mc()
    with pytest.raises(ReasonRequired):
        mc.reject("sea-reviewer", at(2), "")
    assert mc.status is QaStatus.SUBMITTED
    assert len(mc.history) == 2


def test_retirement_ends_enrollment_but_keeps_awards_possible():
    mc = approved_mc()
    mc.retire("sea-reviewer", at(3), "superseded by the 2026 standards")
    assert mc.status is QaStatus.RETIRED
    assert not mc.enrollable
    assert mc.awardable  # enrollments opened before the retirement run to their deadline
    assert mc.retired_at == at(3)


def test_a_submitted_version_cannot_be_edited():
    mc = submitted_mc()
    with pytest.raises(InvalidTransition):
        mc.edit(MicroCredentialSpec.model_validate(mc_spec_data()), "ann", at(2))


def test_an_approved_version_cannot_be_edited_or_approved_again():
    mc = approved_mc()
    with pytest.raises(InvalidTransition):
        mc.edit(MicroCredentialSpec.model_validate(mc_spec_data()), "ann", at(3))
    with pytest.raises(InvalidTransition):
        mc.approve("sea-reviewer", at(3))


def test_a_draft_cannot_be_approved_or_retired():
    mc = draft_mc()
    with pytest.raises(InvalidTransition):
        mc.approve("sea-reviewer", at(1))
    with pytest.raises(InvalidTransition):
        mc.retire("sea-reviewer", at(1), "no")


def test_a_retired_version_is_final():
    mc = approved_mc()
    mc.retire("sea-reviewer", at(3), "old")
    for step in (
        lambda: mc.submit("ann", at(4)),
        lambda: mc.approve("sea", at(4)),
        lambda: mc.reject("sea", at(4), "x"),
        lambda: mc.retire("sea", at(4), "x"),
    ):
        with pytest.raises(InvalidTransition):
            step()


def test_a_new_version_of_an_approved_micro_credential_is_a_new_draft():
    mc = approved_mc()
    nxt = mc.next_version("ann", at(5))
    assert (nxt.id, nxt.version, nxt.status) == (mc.id, 2, QaStatus.DRAFT)
    assert nxt.definition == mc.definition
    assert [s.action for s in nxt.history] == [QaAction.CREATE]
    assert mc.status is QaStatus.APPROVED  # the published version is untouched


@pytest.mark.parametrize("make", [draft_mc, submitted_mc])
def test_no_new_version_while_the_latest_is_still_open(make):
    with pytest.raises(VersionStillOpen):
        make().next_version("ann", at(5))


def test_only_the_owning_issuer_may_act_on_an_entry():
    mc = draft_mc()
    mc.ensure_owned_by("provider-a")
    with pytest.raises(NotOwner):
        mc.ensure_owned_by("provider-b")
    with pytest.raises(NotOwner):
        mc.ensure_owned_by(None)


def test_timestamps_must_be_timezone_aware():
    with pytest.raises(ValueError, match="timezone"):
        draft_mc().submit("ann", datetime(2026, 1, 5, 9, 0))


# -- definitions -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "problem"),
    [
        ({"rubric": []}, "rubric"),
        ({"evidence_requirements": []}, "evidence"),
        ({"allowed_purposes": []}, "purposes"),
        ({"attempt_cap": 0}, "attempt cap"),
        ({"completion_window_days": 0}, "window"),
        ({"cooldown_days": -1}, "cooldown"),
        ({"fee": {"amount_cents": -1, "payer": "educator"}}, "fee"),
        ({"fee": {"amount_cents": 1.5, "payer": "educator"}}, "fractional cents"),
        ({"credits": {"value": "-1", "unit": "ceu"}}, "credits"),
        ({"allowed_purposes": ["license_renewal", "license_renewal"]}, "duplicate purpose"),
        ({"title": ""}, "title"),
        ({"unknown_field": 1}, "unknown field"),
    ],
)
def test_an_incomplete_or_inconsistent_definition_is_refused(override, problem):
    with pytest.raises(ValidationError):
        MicroCredentialSpec.model_validate(mc_spec_data(**override))


def test_rubric_required_level_must_be_one_of_its_levels():
    rubric = mc_spec_data()["rubric"]
    rubric[0]["required_level_id"] = "mastered"
    with pytest.raises(ValidationError):
        MicroCredentialSpec.model_validate(mc_spec_data(rubric=rubric))


# -- stacks ------------------------------------------------------------------------------------


def draft_stack(**overrides) -> Stack:
    spec = StackSpec.model_validate(stack_spec_data(["a", "b", "c"], **overrides))
    return Stack.create("questioning", "provider-a", spec, "ann", T0)


def test_a_stack_is_approved_only_when_every_member_has_an_approved_version():
    stack = draft_stack()
    stack.submit("ann", at(1))
    with pytest.raises(MembersNotApproved, match="c"):
        stack.approve("sea", at(2), published_mc_ids={"a", "b"})
    assert stack.status is QaStatus.SUBMITTED
    stack.approve("sea", at(2), published_mc_ids={"a", "b", "c"})
    assert stack.status is QaStatus.APPROVED


def test_a_stack_follows_the_same_workflow():
    stack = draft_stack(rule={"kind": "n_of_m", "n": 2})
    stack.submit("ann", at(1))
    stack.reject("sea", at(2), "grants unclear")
    assert stack.status is QaStatus.DRAFT
    stack.submit("ann", at(3))
    stack.approve("sea", at(4), published_mc_ids={"a", "b", "c"})
    stack.retire("sea", at(5), "pathway closed")
    assert stack.status is QaStatus.RETIRED
    with pytest.raises(InvalidTransition):
        stack.submit("ann", at(6))


@pytest.mark.parametrize(
    "override",
    [
        {"rule": {"kind": "n_of_m", "n": 4}},
        {"rule": {"kind": "n_of_m"}},
        {"rule": {"kind": "all_of", "n": 2}},
        {"member_micro_credential_ids": ["a", "a"]},
        {"member_micro_credential_ids": []},
        {"grants": []},
    ],
)
def test_a_stack_rule_must_fit_its_members(override):
    data = stack_spec_data(["a", "b", "c"])
    data.update(override)
    with pytest.raises(ValidationError):
        StackSpec.model_validate(data)
