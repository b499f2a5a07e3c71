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
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from pydantic import BaseModel, Field

from mc_events.auth import Principal, Role, require
from registry.adapters import district_feed

MAX_LIMIT = 500
DEFAULT_LIMIT = 100
_CURSOR_PREFIX = "dfc1:"

DistrictReader = Annotated[Principal, Depends(require(Role.DISTRICT_ADMIN, Role.STATE_ADMIN))]


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
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="invalid cursor") from exc
    if seq < 0:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="invalid cursor")
    return seq


def router() -> APIRouter:
    api = APIRouter(tags=["districts"])

    @api.get(
        "/districts/{district_id}/awards/changes",
        summary="A district's award events in commit order, after a cursor (district admin of "
        "that district, or the state)",
        response_model=ChangesPage,
    )
    async def district_award_changes(
        district_id: str,
        request: Request,
        caller: DistrictReader,
        since: Annotated[str | None, Query(max_length=200)] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    ) -> ChangesPage:
        if not caller.has(Role.STATE_ADMIN) and caller.district_id != district_id:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, detail="a district admin reads only their district"
            )
        after = decode_cursor(since)
        sessions = request.app.state.runtime.sessions
        # Number what committed since the last read (one numbering pass at a time; if another
        # is running, its rows show up on the next read).
        async with sessions() as session, session.begin():
            await district_feed.number_pending(session)
        async with sessions() as session:
            rows = await district_feed.read_after(session, district_id, after, limit + 1)
        page, has_more = rows[:limit], len(rows) > limit
        changes = [{**row.cloudevent(), "cursor": encode_cursor(row.seq)} for row in page]
        return ChangesPage(
            district_id=district_id,
            changes=changes,
            next=encode_cursor(page[-1].seq) if page else encode_cursor(after),
            has_more=has_more,
        )

    return api
