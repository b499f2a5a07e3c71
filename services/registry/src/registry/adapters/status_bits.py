"""One byte of this registry's status lists, read without the rest: what a verification of one
of its own credentials needs (the lists are 16 KiB each; the bit is in one byte)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from mc_events.db import execute_core
from registry.adapters.tables import status_lists


@dataclass(frozen=True)
class ListByte:
    purpose: str
    value: int | None
    """The byte, or None when the list is shorter than that."""


_OFFSET = sa.bindparam("offset", type_=sa.Integer)
_BYTE_OF_LISTS = sa.select(
    status_lists.c.list_id,
    status_lists.c.purpose,
    sa.case(
        (
            sa.func.length(status_lists.c.bits) > _OFFSET,
            sa.func.get_byte(status_lists.c.bits, _OFFSET),
        ),
        else_=sa.null(),
    ).label("value"),
).where(status_lists.c.list_id.in_(sa.bindparam("list_ids", expanding=True)))
"""Built once: verification runs it on every request."""


async def status_list_bytes(
    session: AsyncSession, list_ids: Sequence[str], offset: int
) -> dict[str, ListByte]:
    """The byte at ``offset`` of each of ``list_ids`` that exists, with the list's purpose:
    one statement for all of them."""
    rows = await execute_core(
        session, _BYTE_OF_LISTS, {"list_ids": list(list_ids), "offset": offset}
    )
    return {row.list_id: ListByte(row.purpose, row.value) for row in rows}
