"""Evidence over HTTP on a real database, store folder and broker: uploads (and bad uploads that
change nothing), the completeness check, idempotent submission, the deadline, and review
decisions coming back from the broker (unknown or closed enrollments to the DLQ)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from enrollment_test_support import (
    NOW,
    catalog_has,
    dead_letters,
    educator,
    new_ids,
    outbox_events,
    post_enroll,
    published,
    register,
    send,
    status_becomes,
)
from enrollment_test_support import my_enrollment as my

from enrollment.adapters.tables import artifacts
from mc_events.contracts.common import CriterionResult, EvidenceKind, EvidenceRequirement
from mc_events.contracts.review import Assigned, Decided, ReviewOutcome
from mc_platform.auth import Role

LIMIT = 4096
pytestmark = pytest.mark.enrollment_settings(evidence_max_bytes=LIMIT)
REQUIREMENTS = (
    EvidenceRequirement(id="video", kind=EvidenceKind.VIDEO, prompt="Film it", required=True),
    EvidenceRequirement(
        id="reflection",
        kind=EvidenceKind.REFLECTION,
        prompt="What did you notice?",
        required=True,
        min_words=3,
        max_words=10,
    ),
    EvidenceRequirement(id="link", kind=EvidenceKind.LINK, prompt="Anything else", required=False),
)


async def enrolled(svc, infra, *, attempt_cap: int = 2) -> tuple[str, str]:
    mc, ed = new_ids()
    await register(svc, ed)
    await send(infra, published(mc, evidence_requirements=REQUIREMENTS, attempt_cap=attempt_cap))
    assert await catalog_has(svc, mc)
    r = await post_enroll(svc, ed, mc)
    assert r.status_code == 201, r.text
    return r.json()["enrollment_id"], ed


async def upload(svc, enrollment_id, ed, data: bytes, ctype="video/mp4", requirement="video"):
    return await svc.client.post(
        f"/uploads/enrollments/{enrollment_id}/evidence/{requirement}",
        content=data,
        headers={**educator(svc, ed), "Content-Type": ctype},
    )


async def reflect(svc, enrollment_id, ed, text="I waited five whole seconds"):
    return await svc.client.post(
        f"/enrollments/{enrollment_id}/evidence/reflection/reflection",
        json={"text": text},
        headers=educator(svc, ed),
    )


async def submit(svc, enrollment_id, ed, key=None):
    return await svc.client.post(
        f"/enrollments/{enrollment_id}/submissions",
        headers={**educator(svc, ed), "Idempotency-Key": key or uuid.uuid4().hex},
    )


async def artifact_rows(svc, enrollment_id) -> int:
    async with svc.runtime.engine.connect() as conn:
        return (
            await conn.execute(
                sa.select(sa.func.count()).where(artifacts.c.enrollment_id == enrollment_id)
            )
        ).scalar_one()


def stored_files(svc) -> list:
    root = svc.evidence_dir
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


async def test_a_complete_submission_goes_to_review_with_checksummed_artifact_refs(svc, infra):
    en, ed = await enrolled(svc, infra)
    video = b"\x00\x01fake mp4" * 100
    r = await upload(svc, en, ed, video)
    assert r.status_code == 201, r.text
    assert r.json()["sha256"] == hashlib.sha256(video).hexdigest()
    assert (await reflect(svc, en, ed)).status_code == 201
    link = await svc.client.post(
        f"/enrollments/{en}/evidence/link/link",
        json={"url": "https://video.example/v/1"},
        headers=educator(svc, ed),
    )
    assert link.status_code == 201
    sent = await submit(svc, en, ed)
    assert sent.status_code == 201, sent.text
    assert (sent.json()["status"], sent.json()["attempt"]) == ("submitted", 1)
    events = await outbox_events(svc, en)
    assert [kind for kind, _ in events] == ["enrollment.enrolled", "enrollment.evidence_submitted"]
    payload = events[1][1]
    assert (payload["attempt"], payload["district_id"]) == (1, "lea-1")
    refs = {a["requirement_id"]: a for a in payload["artifacts"]}
    assert refs["video"]["sha256"] == hashlib.sha256(video).hexdigest()
    assert refs["video"]["size_bytes"] == len(video)
    assert refs["reflection"]["word_count"] == 5
    assert "fake mp4" not in json.dumps(payload)  # references only, never content
    assert len(stored_files(svc)) == 3
    assert (await my(svc, ed, en))["attempts_left"] == 1


async def test_the_same_submission_sent_twice_counts_once(svc, infra):
    en, ed = await enrolled(svc, infra)
    await upload(svc, en, ed, b"video")
    await reflect(svc, en, ed)
    first = await submit(svc, en, ed, key="k-1")
    again = await submit(svc, en, ed, key="k-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json()["submission_id"] == again.json()["submission_id"]
    kinds = [kind for kind, _ in await outbox_events(svc, en)]
    assert kinds.count("enrollment.evidence_submitted") == 1
    assert (await my(svc, ed, en))["attempts_used"] == 1


async def test_the_same_submission_sent_twice_at_once_counts_once(svc, infra):
    en, ed = await enrolled(svc, infra)
    await upload(svc, en, ed, b"video")
    await reflect(svc, en, ed)
    first, again = await asyncio.gather(
        submit(svc, en, ed, key="double-click"), submit(svc, en, ed, key="double-click")
    )
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json()["submission_id"] == again.json()["submission_id"]
    kinds = [kind for kind, _ in await outbox_events(svc, en)]
    assert kinds.count("enrollment.evidence_submitted") == 1
    assert (await my(svc, ed, en))["attempts_left"] == 1


async def test_an_incomplete_submission_is_returned_at_once_with_what_is_missing(svc, infra):
    en, ed = await enrolled(svc, infra)
    await reflect(svc, en, ed)
    r = await submit(svc, en, ed)
    assert r.status_code == 422
    body = r.json()
    assert (body["complete"], body["status"]) == (False, "returned_incomplete")
    assert [(p["requirement_id"], p["problem"]) for p in body["problems"]] == [("video", "missing")]
    events = await outbox_events(svc, en)
    assert events[-1][0] == "enrollment.submission_returned_incomplete"
    assert events[-1][1]["problems"][0]["requirement_id"] == "video"
    mine = await my(svc, ed, en)
    assert (mine["status"], mine["attempts_left"]) == ("returned_incomplete", 2)
    # Fixed and sent again: it goes to review.
    await upload(svc, en, ed, b"video")
    assert (await submit(svc, en, ed)).status_code == 201


async def test_bad_uploads_get_a_clear_4xx_and_store_nothing(svc, infra):
    en, ed = await enrolled(svc, infra)
    too_large = await upload(svc, en, ed, b"x" * (LIMIT + 1))
    assert too_large.status_code == 413

    async def chunked():  # no Content-Length: cut off while streaming
        for _ in range(8):
            yield b"y" * 1024

    streamed = await svc.client.post(
        f"/uploads/enrollments/{en}/evidence/video",
        content=chunked(),
        headers={**educator(svc, ed), "Content-Type": "video/mp4"},
    )
    assert streamed.status_code == 413
    wrong_type = await upload(svc, en, ed, b"<script>", ctype="text/html")
    assert wrong_type.status_code == 415
    too_long = await reflect(svc, en, ed, text="word " * 11)
    assert too_long.status_code == 422
    too_short = await reflect(svc, en, ed, text="two words")
    assert too_short.status_code == 422
    unknown = await upload(svc, en, ed, b"v", requirement="no-such-requirement")
    assert unknown.status_code == 422
    file_for_text = await upload(svc, en, ed, b"v", ctype="text/plain", requirement="reflection")
    assert file_for_text.status_code == 422
    _, stranger = new_ids()
    not_mine = await upload(svc, en, stranger, b"v")
    assert not_mine.status_code == 404
    assert await artifact_rows(svc, en) == 0
    assert stored_files(svc) == []
    assert [kind for kind, _ in await outbox_events(svc, en)] == ["enrollment.enrolled"]


async def test_an_enrollment_past_its_deadline_refuses_evidence(svc, infra):
    en, ed = await enrolled(svc, infra)
    await reflect(svc, en, ed)
    svc.clock.now = NOW + timedelta(days=90)
    late = await upload(svc, en, ed, b"video")
    assert (late.status_code, late.json()["reason"]) == (409, "deadline_passed")
    late_submit = await submit(svc, en, ed)
    assert (late_submit.status_code, late_submit.json()["reason"]) == (
        409,
        "deadline_passed",
    )
    assert await artifact_rows(svc, en) == 1
    assert len(stored_files(svc)) == 1


def decided(en, submission_id, ed, outcome: ReviewOutcome, attempt=1, mc="mc-x"):
    met = outcome is ReviewOutcome.PASSED
    return Decided(
        decision_id=f"dec-{uuid.uuid4().hex[:8]}",
        enrollment_id=en,
        submission_id=submission_id,
        attempt=attempt,
        educator_id=ed,
        district_id="lea-1",
        micro_credential_id=mc,
        micro_credential_version=1,
        outcome=outcome,
        results=(
            CriterionResult(
                criterion_id="c1",
                achieved_level_id="l2" if met else "l1",
                met=met,
                feedback="" if met else "Wait longer after asking",
            ),
        ),
        assessor_ids=("as-1",),
        decided_at=NOW + timedelta(days=5),
    )


async def test_review_decisions_move_the_enrollment_to_revision_and_then_not_earned(svc, infra):
    en, ed = await enrolled(svc, infra, attempt_cap=2)
    await upload(svc, en, ed, b"video")
    await reflect(svc, en, ed)
    first = (await submit(svc, en, ed)).json()["submission_id"]
    await send(
        infra,
        Assigned(
            assignment_id=f"as-{uuid.uuid4().hex[:8]}",
            enrollment_id=en,
            submission_id=first,
            attempt=1,
            micro_credential_id="mc-x",
            assessor_id="as-1",
            assigned_at=NOW,
            due_at=NOW + timedelta(days=7),
        ),
    )
    assert await status_becomes(svc, ed, en, "under_review")
    await send(infra, decided(en, first, ed, ReviewOutcome.REVISION_REQUESTED))
    assert await status_becomes(svc, ed, en, "revision_requested")
    svc.clock.now = NOW + timedelta(days=6)
    await upload(svc, en, ed, b"better video")
    await reflect(svc, en, ed, text="This time I waited longer")
    second = await submit(svc, en, ed)
    assert (second.json()["status"], second.json()["attempt"]) == ("resubmitted", 2)
    await send(
        infra, decided(en, second.json()["submission_id"], ed, ReviewOutcome.REVISION_REQUESTED, 2)
    )
    assert await status_becomes(svc, ed, en, "not_earned")
    events = await outbox_events(svc, en)
    assert events[-1][0] == "enrollment.not_earned"
    assert (events[-1][1]["reason"], events[-1][1]["attempts_used"]) == ("attempts_exhausted", 2)
    attempts = (
        await svc.client.get(f"/enrollments/{en}/submissions", headers=educator(svc, ed))
    ).json()
    assert [(a["attempt"], a["outcome"]) for a in attempts] == [
        (1, "revision_requested"),
        (2, "revision_requested"),
    ]
    assert attempts[0]["results"][0]["feedback"] == "Wait longer after asking"
    mine = await my(svc, ed, en)
    assert (mine["attempts_used"], mine["attempts_left"]) == (2, 0)
    assert (mine["result_status"], mine["end_reason"]) == ("Failed", "attempts_exhausted")
    _, stranger = new_ids()
    hidden = await svc.client.get(f"/enrollments/{en}/submissions", headers=educator(svc, stranger))
    assert hidden.status_code == 404


async def test_a_passing_decision_earns_the_credential(svc, infra):
    en, ed = await enrolled(svc, infra)
    await upload(svc, en, ed, b"video")
    await reflect(svc, en, ed)
    sub = (await submit(svc, en, ed)).json()["submission_id"]
    await send(infra, decided(en, sub, ed, ReviewOutcome.PASSED))
    assert await status_becomes(svc, ed, en, "earned")
    assert (await my(svc, ed, en))["result_status"] == "Completed"


async def test_decisions_for_unknown_or_closed_enrollments_go_to_the_dead_letter_topic(svc, infra):
    unknown = f"en-unknown-{uuid.uuid4().hex[:8]}"
    await send(infra, decided(unknown, "sub-x", "ed-x", ReviewOutcome.PASSED))
    [letter] = await dead_letters(infra, "review.reviews.dlq", unknown)
    headers = dict(letter.headers)
    assert headers["dlq.error.type"] == b"NonRetryableError"
    assert b"unknown enrollment" in headers["dlq.error.message"]
    en, ed = await enrolled(svc, infra)
    await upload(svc, en, ed, b"video")
    await reflect(svc, en, ed)
    sub = (await submit(svc, en, ed)).json()["submission_id"]
    withdrawn = await svc.client.post(f"/enrollments/{en}/withdraw", headers=educator(svc, ed))
    assert withdrawn.status_code == 200
    await send(infra, decided(en, sub, ed, ReviewOutcome.PASSED))
    [closed] = await dead_letters(infra, "review.reviews.dlq", en)
    assert b"withdrawn" in dict(closed.headers)["dlq.error.message"]
    assert (await my(svc, ed, en))["status"] == "withdrawn"


async def test_evidence_is_readable_only_by_its_educator_assigned_assessors_and_the_state(
    svc, infra
):
    en, ed = await enrolled(svc, infra)
    video = b"classroom video bytes"
    artifact = (await upload(svc, en, ed, video)).json()["artifact_id"]
    await reflect(svc, en, ed)
    sub = (await submit(svc, en, ed)).json()["submission_id"]
    url = f"/artifacts/{artifact}/content"
    own = await svc.client.get(url, headers=educator(svc, ed))
    assert own.status_code == 200
    assert (own.content, own.headers["content-type"]) == (video, "video/mp4")
    digest = base64.b64encode(hashlib.sha256(video).digest()).decode()
    assert own.headers["repr-digest"] == f"sha-256=:{digest}:"
    assessor = svc.auth("a-1", Role.ASSESSOR, assessor_id="as-reader")
    assert (await svc.client.get(url, headers=assessor)).status_code == 404
    await send(
        infra,
        Assigned(
            assignment_id=f"as-{uuid.uuid4().hex[:8]}",
            enrollment_id=en,
            submission_id=sub,
            attempt=1,
            micro_credential_id="mc-x",
            assessor_id="as-reader",
            assigned_at=NOW,
            due_at=NOW + timedelta(days=7),
        ),
    )
    assert await status_becomes(svc, ed, en, "under_review")
    assigned = await svc.client.get(url, headers=assessor)
    assert (assigned.status_code, assigned.content) == (200, video)
    other_assessor = svc.auth("a-2", Role.ASSESSOR, assessor_id="as-other")
    assert (await svc.client.get(url, headers=other_assessor)).status_code == 404
    _, stranger = new_ids()
    assert (await svc.client.get(url, headers=educator(svc, stranger))).status_code == 404
    state = svc.auth("sea", Role.STATE_ADMIN)
    assert (await svc.client.get(url, headers=state)).status_code == 200
    district = svc.auth("hr", Role.DISTRICT_ADMIN, district_id="lea-1")
    assert (await svc.client.get(url, headers=district)).status_code == 403
