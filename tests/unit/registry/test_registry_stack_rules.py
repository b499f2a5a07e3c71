"""Stack completion rules: all-of and n-of-m over the educator's valid credentials."""

from datetime import UTC, datetime, timedelta

import pytest

from mc_events.contracts.catalog import StackRule, StackRuleKind
from mc_events.contracts.common import Grant, GrantKind
from registry.domain.stacks import HeldCredential, endorsements, satisfying_credentials

T0 = datetime(2026, 3, 1, tzinfo=UTC)
MEMBERS = ("mc-a", "mc-b", "mc-c")
ALL_OF = StackRule(kind=StackRuleKind.ALL_OF)


def held(mc_id: str, credential_id: str | None = None, days: int = 0) -> HeldCredential:
    return HeldCredential(credential_id or f"cred-{mc_id}", mc_id, T0 + timedelta(days=days))


def test_all_of_needs_every_member():
    assert satisfying_credentials(ALL_OF, MEMBERS, [held("mc-a"), held("mc-b")]) is None
    found = satisfying_credentials(ALL_OF, MEMBERS, [held("mc-c"), held("mc-a"), held("mc-b")])
    assert found == ("cred-mc-a", "cred-mc-b", "cred-mc-c")  # in member order


@pytest.mark.parametrize(("count", "complete"), [(1, False), (2, True), (3, True)])
def test_n_of_m_needs_n_distinct_members(count: int, complete: bool):
    rule = StackRule(kind=StackRuleKind.N_OF_M, n=2)
    credentials = [held(m) for m in MEMBERS[:count]]
    assert (satisfying_credentials(rule, MEMBERS, credentials) is not None) is complete


def test_two_credentials_of_one_member_count_once():
    rule = StackRule(kind=StackRuleKind.N_OF_M, n=2)
    twice = [held("mc-a", "first"), held("mc-a", "second", days=1)]
    assert satisfying_credentials(rule, MEMBERS, twice) is None


def test_the_earliest_credential_of_a_member_is_the_one_named():
    found = satisfying_credentials(
        ALL_OF,
        MEMBERS,
        [held("mc-a", "later", days=5), held("mc-a", "earlier"), held("mc-b"), held("mc-c")],
    )
    assert found is not None
    assert found[0] == "earlier"


def test_credentials_outside_the_stack_do_not_count():
    assert satisfying_credentials(ALL_OF, ("mc-a",), [held("mc-z")]) is None


def test_only_endorsement_grants_make_an_educator_eligible_for_an_endorsement():
    grants = (
        Grant(kind=GrantKind.DESIGNATION, code="lead", name="Lead Educator"),
        Grant(kind=GrantKind.ENDORSEMENT, code="SC-READ", name="Read to Succeed"),
    )
    assert [g.code for g in endorsements(grants)] == ["SC-READ"]
