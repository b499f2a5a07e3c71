"""The ledger's own guarantees, held by the database whatever the code does: history cannot be
edited, one approval per (award, rule, fiscal year), one reversal per entry; and stack
completions pay under per-stack rules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from compensation_helpers import (
    add_teachers,
    clock,
    credential,
    florida_rule,
    ledger,
    setup_florida,
    teacher,
    transaction,
    wait_for_educator,
    wait_for_entries,
)
from sqlalchemy.exc import DBAPIError, IntegrityError

from compensation.service_layer.stipends import apply_award
from mc_devstack.testing import unique_name
from mc_events.contracts.common import Grant, GrantKind
from mc_events.contracts.registry import StackCompleted
from mc_platform.auth import Role


async def paid_entry(svc):
    fl = await setup_florida(svc, budget_cents=1_000_000)
    (educator,) = await add_teachers(svc, fl.district_id, 1)
    async with transaction(svc) as uow:
        await apply_award(uow, credential(educator, fl.district_id), clock)
    (entry,) = await ledger(svc, educator)
    return entry


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_entries SET amount_cents = 1 WHERE entry_id = :id",
        "DELETE FROM ledger_entries WHERE entry_id = :id",
    ],
)
async def test_ledger_history_cannot_be_edited(svc, statement):
    entry = await paid_entry(svc)
    async with svc.runtime.engine.begin() as conn:
        with pytest.raises(DBAPIError, match="append-only"):
            await conn.execute(sa.text(statement).bindparams(id=entry.entry_id))


async def test_database_refuses_a_second_approval_or_reversal_whatever_the_code_does(svc):
    entry = await paid_entry(svc)
    copy = {k: v for k, v in entry._mapping.items() if k != "seq"}
    columns = ", ".join(copy)
    values = ", ".join(f":{k}" for k in copy)
    insert = sa.text(f"INSERT INTO ledger_entries ({columns}) VALUES ({values})")
    reversal = {
        **copy,
        "kind": "reversal",
        "amount_cents": -entry.amount_cents,
        "reverses_entry_id": entry.entry_id,
    }
    async with svc.runtime.engine.connect() as conn:
        second_approval = insert.bindparams(**{**copy, "entry_id": "another-id"})
        with pytest.raises(IntegrityError, match="uq_ledger_approval_award_rule_period"):
            await conn.execute(second_approval)
        await conn.rollback()
        await conn.execute(insert.bindparams(**{**reversal, "entry_id": "reversal-1"}))
        second_reversal = insert.bindparams(**{**reversal, "entry_id": "reversal-2"})
        with pytest.raises(IntegrityError, match="uq_ledger_reverses"):
            await conn.execute(second_reversal)
        await conn.rollback()


async def test_a_completed_stack_pays_under_a_per_stack_rule(svc, producer):
    fl = await setup_florida(svc, budget_cents=1_000_000)
    state = svc.auth("sea", Role.STATE_ADMIN)
    stack_id = unique_name("stack")
    rule = florida_rule(
        unique_name("fl-stack"), kind="per_stack", amount_cents=250_000, subject_ids=[stack_id]
    )
    assert (await svc.client.post("/stipend-rules", json=rule, headers=state)).status_code == 201
    educator = unique_name("edu")
    await producer.send(teacher(educator, fl.district_id))
    await wait_for_educator(svc, educator)
    completion = StackCompleted(
        stack_completion_id=unique_name("sc"),
        stack_id=stack_id,
        stack_version=1,
        stack_name="Lead Professional Educator",
        educator_id=educator,
        district_id=fl.district_id,
        grants=(Grant(kind=GrantKind.DESIGNATION, code="LPE", name="Lead Professional Educator"),),
        member_credential_ids=("c1", "c2"),
        completed_at=datetime(2025, 11, 5, 15, tzinfo=UTC),
    )
    await producer.send(completion)
    await producer.send(completion)
    (entry,) = await wait_for_entries(svc, educator, 1)
    assert entry.basis == "stack_completion"
    assert entry.stack_completion_id == completion.stack_completion_id
    assert entry.amount_cents == 250_000
