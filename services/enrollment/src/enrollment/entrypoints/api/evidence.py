"""Evidence routes (the educator's own enrollments only): files streamed to the private store,
reflections and links, and submitting for review with an idempotency key."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from enrollment.entrypoints.api.deps import Metrics, SettingsDep, Store, UoW
from enrollment.service_layer import evidence as commands
from mc_events.contracts.review import MisconductKind
from mc_platform.auth import Principal, Role, require
from mc_platform.dependencies import ClockDep

router = APIRouter(prefix="/enrollments/{enrollment_id}", tags=["evidence"])
UPLOADS_PREFIX = "/uploads/"
"""File uploads live under their own prefix so that only they get the large body limit."""
uploads_router = APIRouter(prefix=UPLOADS_PREFIX + "enrollments/{enrollment_id}", tags=["evidence"])

Educator = Annotated[Principal, Depends(require(Role.EDUCATOR))]


class ArtifactOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    artifact_id: str
    requirement_id: str
    kind: str
    content_type: str
    size_bytes: int
    sha256: str
    word_count: int | None


class ReflectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=100_000)


class LinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2000)


class SubmissionOut(BaseModel):
    submission_id: str
    complete: bool
    attempt: int | None
    status: str
    problems: list[dict[str, str]]


class CriterionFeedback(BaseModel):
    criterion_id: str
    achieved_level_id: str
    met: bool
    feedback: str = ""


class AttemptOut(BaseModel):
    submission_id: str
    attempt: int | None
    complete: bool
    problems: list[dict[str, str]]
    submitted_at: datetime
    outcome: str | None
    misconduct: MisconductKind | None = Field(
        default=None,
        description="Set when the decision was for misconduct (outcome not_earned); each "
        "result's feedback then gives the approver's finding.",
    )
    decided_at: datetime | None
    results: list[CriterionFeedback]


_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such enrollment of the caller"},
    409: {"description": "The enrollment takes no evidence now (reason says why)"},
}


async def _add_text(
    uow: UoW,
    store: Store,
    principal: Principal,
    enrollment_id: str,
    requirement_id: str,
    now: datetime,
    *,
    text: str | None = None,
    url: str | None = None,
) -> ArtifactOut:
    artifact = await commands.add_text(
        uow,
        store,
        enrollment_id=enrollment_id,
        educator_id=principal.educator_id or "",
        requirement_id=requirement_id,
        text=text,
        url=url,
        now=now,
    )
    return ArtifactOut.model_validate(artifact)


@uploads_router.post(
    "/evidence/{requirement_id}",
    status_code=status.HTTP_201_CREATED,
    summary="Upload one file for an evidence requirement (raw body, its media type as "
    "Content-Type); streamed to the private evidence store with its SHA-256",
    responses={
        **_ERRORS,
        413: {"description": "Larger than the limit; nothing stored"},
        415: {"description": "Content type not accepted for this kind of evidence"},
    },
    openapi_extra={"requestBody": {"required": True, "content": {"application/octet-stream": {}}}},
)
async def upload_file(
    enrollment_id: str,
    requirement_id: str,
    request: Request,
    principal: Educator,
    uow: UoW,
    store: Store,
    settings: SettingsDep,
    clock: ClockDep,
    metrics: Metrics,
) -> ArtifactOut:
    length = request.headers.get("content-length")
    stored = await commands.add_file(
        uow,
        store,
        enrollment_id=enrollment_id,
        educator_id=principal.educator_id or "",
        requirement_id=requirement_id,
        content_type=request.headers.get("content-type"),
        content_length=int(length) if length and length.isdigit() else None,
        chunks=request.stream(),
        max_bytes=settings.evidence_max_bytes,
        now=clock(),
    )
    metrics.evidence_bytes.inc(stored.size_bytes)
    return ArtifactOut.model_validate(stored)


@router.post(
    "/evidence/{requirement_id}/reflection",
    status_code=status.HTTP_201_CREATED,
    summary="Add a written reflection (word limits checked)",
    responses=_ERRORS,
)
async def add_reflection(
    enrollment_id: str,
    requirement_id: str,
    body: ReflectionIn,
    principal: Educator,
    uow: UoW,
    store: Store,
    clock: ClockDep,
) -> ArtifactOut:
    return await _add_text(
        uow, store, principal, enrollment_id, requirement_id, clock(), text=body.text
    )


@router.post(
    "/evidence/{requirement_id}/link",
    status_code=status.HTTP_201_CREATED,
    summary="Add a link (https only)",
    responses=_ERRORS,
)
async def add_link(
    enrollment_id: str,
    requirement_id: str,
    body: LinkIn,
    principal: Educator,
    uow: UoW,
    store: Store,
    clock: ClockDep,
) -> ArtifactOut:
    return await _add_text(
        uow, store, principal, enrollment_id, requirement_id, clock(), url=body.url
    )


@router.post(
    "/submissions",
    status_code=status.HTTP_201_CREATED,
    summary="Submit the evidence added so far for review",
    description="The completeness check runs at once: a complete submission goes to review "
    "(201); an incomplete one is returned with what is missing (422, and the educator is "
    "notified by a SubmissionReturnedIncomplete event). The same Idempotency-Key answers the "
    "same again and counts once.",
    responses={**_ERRORS, 422: {"description": "Incomplete: returned with the problems"}},
)
async def submit(
    enrollment_id: str,
    principal: Educator,
    uow: UoW,
    clock: ClockDep,
    idempotency_key: Annotated[str, Header(min_length=1, max_length=200)],
    response: Response,
    metrics: Metrics,
) -> SubmissionOut:
    result = await commands.submit(
        uow,
        enrollment_id=enrollment_id,
        educator_id=principal.educator_id or "",
        idempotency_key=idempotency_key,
        now=clock(),
    )
    if not result.replayed:
        metrics.submissions.labels("complete" if result.complete else "incomplete").inc()
    if not result.complete:
        response.status_code = status.HTTP_422_UNPROCESSABLE_CONTENT
    return SubmissionOut(
        submission_id=result.submission_id,
        complete=result.complete,
        attempt=result.attempt,
        status=result.status.value,
        problems=[p.as_json() for p in result.problems],
    )


@router.get(
    "/submissions",
    summary="My submissions of one enrollment: completeness, decision and feedback per attempt",
    responses=_ERRORS,
)
async def my_submissions(enrollment_id: str, principal: Educator, uow: UoW) -> list[AttemptOut]:
    submissions = await commands.submissions_of(
        uow, enrollment_id=enrollment_id, educator_id=principal.educator_id or ""
    )
    return [
        AttemptOut(
            submission_id=s.submission_id,
            attempt=s.attempt,
            complete=s.complete,
            problems=[p.as_json() for p in s.problems],
            submitted_at=s.submitted_at,
            outcome=s.decision.outcome.value if s.decision else None,
            misconduct=s.decision.misconduct if s.decision else None,
            decided_at=s.decision.decided_at if s.decision else None,
            results=[
                CriterionFeedback(
                    criterion_id=r.criterion_id,
                    achieved_level_id=r.achieved_level_id,
                    met=r.met,
                    feedback=r.feedback,
                )
                for r in (s.decision.results if s.decision else ())
            ],
        )
        for s in submissions
    ]


artifacts_router = APIRouter(prefix="/artifacts", tags=["evidence"])


@artifacts_router.get(
    "/{artifact_id}/content",
    summary="Read one artifact (its educator, the assessors assigned to it, the state)",
    description="Evidence holds student work and is private: anyone else gets 404, as for an "
    "artifact that does not exist. The response names no educator (review is blind); "
    "Repr-Digest carries the SHA-256 (RFC 9530).",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/octet-stream": {}}},
        404: {"description": "No such artifact, or not readable by the caller"},
    },
)
async def artifact_content(
    artifact_id: str,
    principal: Annotated[
        Principal, Depends(require(Role.EDUCATOR, Role.ASSESSOR, Role.APPROVER, Role.STATE_ADMIN))
    ],
    uow: UoW,
    store: Store,
) -> StreamingResponse:
    reader = commands.Reader(
        educator_id=principal.educator_id if principal.has(Role.EDUCATOR) else None,
        assessor_id=principal.assessor_id if principal.has(Role.ASSESSOR, Role.APPROVER) else None,
        state_admin=principal.has(Role.STATE_ADMIN),
    )
    content = await commands.open_artifact(uow, store, artifact_id, reader)
    artifact = content.artifact
    digest = base64.b64encode(bytes.fromhex(artifact.sha256)).decode()
    return StreamingResponse(
        content.chunks,
        media_type=artifact.content_type,
        headers={
            "Content-Length": str(artifact.size_bytes),
            "Repr-Digest": f"sha-256=:{digest}:",
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
