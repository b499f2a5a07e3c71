"""Evidence routes (the educator's own enrollments only): files streamed to the private store,
reflections and links, and submitting for review with an idempotency key."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Request, Response, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from enrollment.adapters.object_store import key_of
from enrollment.domain.enrollment import EnrollmentRefused
from enrollment.domain.evidence import EvidenceRejected
from enrollment.entrypoints.api.deps import ClockDep, Metrics, Sessions, SettingsDep, Store
from enrollment.service_layer import evidence as commands
from enrollment.service_layer.unit_of_work import UnitOfWork
from mc_events.auth import Principal, Role, require
from mc_events.contracts.review import MisconductKind

router = APIRouter(prefix="/enrollments/{enrollment_id}", tags=["evidence"])
UPLOADS_PREFIX = "/uploads/"
"""File uploads live under their own prefix so that only they get the large body limit."""
uploads_router = APIRouter(prefix=UPLOADS_PREFIX + "enrollments/{enrollment_id}", tags=["evidence"])

Educator = Annotated[Principal, Depends(require(Role.EDUCATOR))]


class ArtifactOut(BaseModel):
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
    409: {"description": "The enrollment takes no evidence now (detail.reason says why)"},
}


class _Mapped:
    """Maps command errors to HTTP answers (one place, the same for every evidence route)."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc is None:
            return
        if isinstance(exc, EnrollmentRefused):
            raise HTTPException(
                status.HTTP_409_CONFLICT, {"reason": exc.reason.value, "detail": exc.detail}
            ) from exc
        if isinstance(exc, commands.UnknownEnrollment):
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such enrollment") from exc
        if isinstance(exc, EvidenceRejected):
            raise HTTPException(exc.status, exc.message) from exc
        if isinstance(exc, commands.TooLarge):
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, str(exc)) from exc


def _artifact(out: commands.ArtifactOut) -> ArtifactOut:
    return ArtifactOut(**out.__dict__)


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
    sessions: Sessions,
    store: Store,
    settings: SettingsDep,
    clock: ClockDep,
    metrics: Metrics,
) -> ArtifactOut:
    length = request.headers.get("content-length")
    with _Mapped():
        stored = _artifact(
            await commands.add_file(
                lambda: UnitOfWork(sessions),
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
        )
    metrics.evidence_bytes.inc(stored.size_bytes)
    return stored


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
    sessions: Sessions,
    store: Store,
    clock: ClockDep,
) -> ArtifactOut:
    with _Mapped():
        return _artifact(
            await commands.add_text(
                lambda: UnitOfWork(sessions),
                store,
                enrollment_id=enrollment_id,
                educator_id=principal.educator_id or "",
                requirement_id=requirement_id,
                text=body.text,
                url=None,
                now=clock(),
            )
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
    sessions: Sessions,
    store: Store,
    clock: ClockDep,
) -> ArtifactOut:
    with _Mapped():
        return _artifact(
            await commands.add_text(
                lambda: UnitOfWork(sessions),
                store,
                enrollment_id=enrollment_id,
                educator_id=principal.educator_id or "",
                requirement_id=requirement_id,
                text=None,
                url=body.url,
                now=clock(),
            )
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
    sessions: Sessions,
    clock: ClockDep,
    idempotency_key: Annotated[str, Header(min_length=1, max_length=200)],
    response: Response,
    metrics: Metrics,
) -> SubmissionOut:
    with _Mapped():
        async with UnitOfWork(sessions) as uow:
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
    return SubmissionOut(**result.__dict__)


@router.get(
    "/submissions",
    summary="My submissions of one enrollment: completeness, decision and feedback per attempt",
    responses=_ERRORS,
)
async def my_submissions(
    enrollment_id: str, principal: Educator, sessions: Sessions
) -> list[AttemptOut]:
    with _Mapped():
        async with UnitOfWork(sessions) as uow:
            rows = await commands.submissions_of(
                uow, enrollment_id=enrollment_id, educator_id=principal.educator_id or ""
            )
    return [
        AttemptOut(
            submission_id=row.submission_id,
            attempt=row.attempt,
            complete=row.complete,
            problems=list(row.problems),
            submitted_at=row.submitted_at,
            outcome=row.outcome,
            misconduct=row.misconduct,
            decided_at=row.decided_at,
            results=[CriterionFeedback(**r) for r in row.results or []],
        )
        for row in rows
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
    sessions: Sessions,
    store: Store,
) -> StreamingResponse:
    reader = commands.Reader(
        educator_id=principal.educator_id if principal.has(Role.EDUCATOR) else None,
        assessor_id=principal.assessor_id if principal.has(Role.ASSESSOR, Role.APPROVER) else None,
        state_admin=principal.has(Role.STATE_ADMIN),
    )
    try:
        async with UnitOfWork(sessions) as uow:
            artifact = await commands.readable_artifact(uow, artifact_id, reader)
    except commands.UnknownEnrollment as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such artifact") from exc
    digest = base64.b64encode(bytes.fromhex(artifact.sha256)).decode()
    return StreamingResponse(
        await store.read(key_of(artifact.uri)),
        media_type=artifact.content_type,
        headers={
            "Content-Length": str(artifact.size_bytes),
            "Repr-Digest": f"sha-256=:{digest}:",
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
