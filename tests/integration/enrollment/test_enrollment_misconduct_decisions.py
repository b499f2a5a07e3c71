"""Review decisions for misconduct, through the real broker and database: the enrollment ends
not earned (the ``NotEarned`` reason stays ``assessed_not_earned``; the misconduct kind is in
the educator's feedback), the full cooldown applies before re-enrolment, and a redelivered
decision changes nothing twice."""

from __future__ import annotations

from datetime import datetime, timedelta

from enrollment_test_support import (
    NOW,
    assigned,
    becomes_readable,
    dead_letters,
    decided,
    educator,
    enrolled_and_submitted,
    outbox_events,
    post_enroll,
    send,
    status_becomes,
)
from enrollment_test_support import my_enrollment as mine

from mc_events.contracts.review import MisconductKind, ReviewOutcome

COOLDOWN = timedelta(days=30)  # published() in the support module


async def ends_not_earned(svc, ed: str, enrollment_id: str) -> bool:
    return await status_becomes(svc, ed, enrollment_id, "not_earned")


async def test_a_misconduct_decision_ends_the_enrollment_with_the_kind_in_the_feedback(svc, infra):
    case = await enrolled_and_submitted(svc, infra)
    ed, en = case["educator"], case["enrollment"]
    decision = decided(case, ReviewOutcome.NOT_EARNED, misconduct=MisconductKind.PLAGIARISM)
    await send(infra, decision)
    assert await ends_not_earned(svc, ed, en)

    me = await mine(svc, ed, en)
    # Two attempts were left: misconduct is not a revision, it ends the enrollment.
    assert (me["end_reason"], me["misconduct"], me["result_status"]) == (
        "assessed_not_earned",
        "plagiarism",
        "Failed",
    )
    assert datetime.fromisoformat(me["may_reenroll_from"]) == decision.decided_at + COOLDOWN
    [attempt] = (
        await svc.client.get(f"/enrollments/{en}/submissions", headers=educator(svc, ed))
    ).json()
    assert (attempt["outcome"], attempt["misconduct"]) == ("not_earned", "plagiarism")
    assert attempt["results"][0]["feedback"].startswith("The approver found")

    kind, not_earned = (await outbox_events(svc, en))[-1]
    assert kind == "enrollment.not_earned"
    assert (not_earned["reason"], not_earned["decision_id"]) == (
        "assessed_not_earned",
        decision.decision_id,
    )
    assert datetime.fromisoformat(not_earned["may_reenroll_from"]) == decision.decided_at + COOLDOWN


async def test_after_misconduct_re_enrolment_waits_for_the_full_cooldown(svc, infra):
    case = await enrolled_and_submitted(svc, infra)
    ed, en, mc = case["educator"], case["enrollment"], case["mc"]
    decided_at = NOW + timedelta(days=5)
    await send(
        infra,
        decided(
            case,
            ReviewOutcome.NOT_EARNED,
            misconduct=MisconductKind.FABRICATED_EVIDENCE,
            decided_at=decided_at,
        ),
    )
    assert await ends_not_earned(svc, ed, en)
    for at in (decided_at, decided_at + COOLDOWN - timedelta(seconds=1)):
        svc.clock.now = at
        refused = await post_enroll(svc, ed, mc)
        assert (refused.status_code, refused.json()["reason"]) == (409, "in_cooldown")
    # Withdrawing is no way around it: the enrollment is closed.
    closed = await svc.client.post(f"/enrollments/{en}/withdraw", headers=educator(svc, ed))
    assert (closed.status_code, closed.json()["reason"]) == (409, "not_allowed_now")
    svc.clock.now = decided_at + COOLDOWN
    again = await post_enroll(svc, ed, mc)
    assert again.status_code == 201, again.text
    assert (again.json()["misconduct"], again.json()["attempts_left"]) == (None, 3)


async def test_a_redelivered_misconduct_decision_changes_nothing_twice(svc, infra):
    case = await enrolled_and_submitted(svc, infra)
    ed, en = case["educator"], case["enrollment"]
    decision = decided(
        case, ReviewOutcome.NOT_EARNED, misconduct=MisconductKind.IDENTIFIABLE_STUDENT_DATA
    )
    await send(infra, decision)
    assert await ends_not_earned(svc, ed, en)
    before = await mine(svc, ed, en)
    # The same decision again under a new envelope id (past the inbox), then a probe assignment
    # on the same partition: once the probe is consumed, so is the redelivery.
    await send(infra, decision, assigned(case, f"{en}-probe", "as-probe"))
    assert await becomes_readable(svc, case["artifact"], "as-probe")
    assert await mine(svc, ed, en) == before
    kinds = [kind for kind, _ in await outbox_events(svc, en)]
    assert kinds.count("enrollment.not_earned") == 1
    assert await dead_letters(infra, "review.reviews.dlq", en, timeout=3) == []
