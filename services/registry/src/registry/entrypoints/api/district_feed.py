"""The district award change feed: ``GET /districts/{district_id}/awards/changes?since=``.

For districts without Kafka: the same events as ``district.<id>.awards`` (same CloudEvent ids),
in commit order, as CloudEvents JSON, a page at a time. ``since`` is the opaque cursor of the
last change read (or ``next`` of the last page); absent, the feed starts at the beginning.
Cursors only grow and a change committed after a page was read always gets a later cursor, so
following ``next`` never skips a change (see migration 0007); a client that crashes and resumes
from an older cursor may see changes again: dedupe by CloudEvent ``id``.
"""

from __future__ import annotations

import base64
import binascii
from http import HTTPStatus
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from mc_platform.auth import Principal, Role, require
from mc_platform.refusals import Forbidden, Refusal
from registry.entrypoints.api.deps import UoW
from registry.service_layer import district_feed

MAX_LIMIT = 500
DEFAULT_LIMIT = 100
_CURSOR_PREFIX = "dfc1:"

DistrictReader = Annotated[Principal, Depends(require(Role.DISTRICT_ADMIN, Role.STATE_ADMIN))]

router = APIRouter(tags=["districts"])


class InvalidCursor(Refusal):
    """``since`` is not a cursor this feed gave out (400)."""

    status = HTTPStatus.BAD_REQUEST


class ChangesPage(BaseModel):
    district_id: str
    changes: list[dict[str, Any]] = Field(
        description="CloudEvents (JSON format), oldest first; each carries its own `cursor`."
    )
    next: str = Field(description="Pass as `since` to read what follows this page.")
    has_more: bool = Field(description="More changes are available right now.")


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not text.startswith(_CURSOR_PREFIX):
            raise ValueError(cursor)
        seq = int(text.removeprefix(_CURSOR_PREFIX))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidCursor("invalid cursor") from exc
    if seq < 0:
        raise InvalidCursor("invalid cursor")
    return seq


@router.get(
    "/districts/{district_id}/awards/changes",
    summary="A district's award events in commit order, after a cursor (district admin of "
    "that district, or the state)",
    response_model=ChangesPage,
)
async def district_award_changes(
    district_id: str,
    uow: UoW,
    caller: DistrictReader,
    since: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> ChangesPage:
    if not caller.has(Role.STATE_ADMIN) and caller.district_id != district_id:
        raise Forbidden("a district admin reads only their district")
    after = decode_cursor(since)
    rows = await district_feed.changes_after(uow, district_id, after, limit + 1)
    page, has_more = rows[:limit], len(rows) > limit
    changes = [{**row.cloudevent(), "cursor": encode_cursor(row.seq)} for row in page]
    return ChangesPage(
        district_id=district_id,
        changes=changes,
        next=encode_cursor(page[-1].seq) if page else encode_cursor(after),
        has_more=has_more,
    )
