"""Evidence privacy when review reassigns overdue work, through the real broker and database:
the released assessor loses read access, the new one gains it with their ``review.assigned``,
in either arrival order, and redelivered or late events never give the access back."""

from __future__ import annotations

import sqlalchemy as sa
from enrollment_test_support import (
    assigned,
    becomes_readable,
    enrolled_and_submitted,
    escalated,
    reads,
    send,
)

from enrollment.adapters.tables import released_assignments


async def released_rows(svc, enrollment_id: str) -> list[tuple[str, str]]:
    async with svc.runtime.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(released_assignments.c.assignment_id, released_assignments.c.assessor_id)
            .where(released_assignments.c.enrollment_id == enrollment_id)
            .order_by(released_assignments.c.assignment_id)
        )
        return [tuple(row) for row in rows.all()]


async def barrier(svc, infra, case, n: int) -> None:
    """Everything sent for the enrollment before this has been consumed (one partition per
    enrollment, consumed in order): a probe assessor's assignment, sent last, is readable."""
    probe = f"probe-{n}-{case['enrollment'][:8]}"
    await send(infra, assigned(case, f"{case['enrollment']}-probe-{n}", probe))
    assert await becomes_readable(svc, case["artifact"], probe)


async def test_a_reassignment_moves_evidence_access_from_the_released_to_the_new_assessor(
    svc, infra
):
    case = await enrolled_and_submitted(svc, infra)
    old = (f"{case['enrollment']}-a1", "as-late")
    new = (f"{case['enrollment']}-a2", "as-new")
    await send(infra, assigned(case, *old))
    assert await becomes_readable(svc, case["artifact"], "as-late")
    assert await reads(svc, case["artifact"], "as-new") == 404

    await send(infra, escalated(case, old, new), assigned(case, *new))
    assert await becomes_readable(svc, case["artifact"], "as-new")
    assert await reads(svc, case["artifact"], "as-late") == 404

    # Redelivered (new envelope ids, so past the inbox), the late original assignment included:
    # nothing comes back and nothing is recorded twice.
    await send(infra, escalated(case, old, new), assigned(case, *old), assigned(case, *new))
    await barrier(svc, infra, case, 1)
    assert await reads(svc, case["artifact"], "as-late") == 404
    assert await reads(svc, case["artifact"], "as-new") == 200
    assert await released_rows(svc, case["enrollment"]) == [old]


async def test_the_release_holds_when_the_escalation_arrives_before_any_assignment(svc, infra):
    case = await enrolled_and_submitted(svc, infra)
    old = (f"{case['enrollment']}-a1", "as-late")
    new = (f"{case['enrollment']}-a2", "as-new")
    # The escalation first, then the new assignment, then the released assignment, late.
    await send(infra, escalated(case, old, new), assigned(case, *new), assigned(case, *old))
    await barrier(svc, infra, case, 1)
    assert await reads(svc, case["artifact"], "as-new") == 200
    assert await reads(svc, case["artifact"], "as-late") == 404
    assert await released_rows(svc, case["enrollment"]) == [old]


async def test_an_escalation_nobody_could_take_leaves_the_assessor_their_access(svc, infra):
    case = await enrolled_and_submitted(svc, infra)
    held = (f"{case['enrollment']}-a1", "as-slow")
    await send(infra, assigned(case, *held))
    assert await becomes_readable(svc, case["artifact"], "as-slow")
    await send(infra, escalated(case, held, None))
    await barrier(svc, infra, case, 1)
    assert await reads(svc, case["artifact"], "as-slow") == 200
    assert await released_rows(svc, case["enrollment"]) == []


async def test_access_follows_assignments_not_assessors(svc, infra):
    """Access is per assignment: an assessor still holding another, unreleased assignment of the
    submission (say as its approver) still reads; the released one alone gives nothing."""
    case = await enrolled_and_submitted(svc, infra)
    rater = (f"{case['enrollment']}-a1", "as-both")
    approver = (f"{case['enrollment']}-ap", "as-both")
    replacement = (f"{case['enrollment']}-a2", "as-new")
    await send(infra, assigned(case, *rater), escalated(case, rater, replacement))
    await barrier(svc, infra, case, 1)
    assert await reads(svc, case["artifact"], "as-both") == 404
    await send(infra, assigned(case, *approver))
    assert await becomes_readable(svc, case["artifact"], "as-both")
