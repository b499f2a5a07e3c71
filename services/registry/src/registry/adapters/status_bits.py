"""One byte of this registry's status lists, read without the rest: what a verification of one
of its own credentials needs (the lists are 16 KiB each; the bit is in one byte).
:class:`OwnStatusBits` is the verifier's bit reader over them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from mc_events.db import execute_core
from registry.adapters.tables import status_lists
from registry.domain import openbadges, status_list


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


class OwnStatusBits:
    """The bits of this registry's own status lists, from its records: the byte holding the
    bit, of the list and of its parallel list, in one statement (then from memory for the rest
    of this verification). A suspension list nobody was suspended from yet exists only as its
    revocation list's parallel: all zeros. A :data:`registry.domain.verification.BitReader`."""

    def __init__(self, session: AsyncSession, urls: openbadges.PublicUrls) -> None:
        self.session = session
        self.urls = urls
        self._read: dict[tuple[str, int], ListByte | None] = {}

    async def __call__(self, url: str, index: int, purpose: str) -> bool | str:
        prefix = self.urls.status_list("")
        list_id = url.removeprefix(prefix)
        if not url.startswith(prefix) or not list_id or "/" in list_id:
            return f"the {purpose} status list {url} cannot be read"
        if index < 0:
            return _undecodable(purpose, index)
        offset, mask = divmod(index, 8)
        found = await self._byte(list_id, offset)
        if found is None:
            return f"the {purpose} status list {url} cannot be read"
        if found.purpose != purpose:
            return f"{url} is not a {purpose} status list"
        if found.value is None:
            return _undecodable(purpose, index)
        return bool(found.value & (0x80 >> mask))

    async def _byte(self, list_id: str, offset: int) -> ListByte | None:
        if (list_id, offset) not in self._read:
            revocation, suspension = status_list.parallel_lists(list_id)
            wanted = [i for i in (revocation, suspension) if i is not None]
            read = await status_list_bytes(self.session, wanted, offset)
            for wanted_id in wanted:
                self._read[wanted_id, offset] = read.get(wanted_id)
            if suspension is not None and revocation in read and suspension not in read:
                within = offset < status_list.LIST_BYTES
                self._read[suspension, offset] = ListByte(
                    status_list.StatusPurpose.SUSPENSION.value, 0 if within else None
                )
        return self._read[list_id, offset]


def _undecodable(purpose: str, index: int) -> str:
    problem = IndexError(f"status list index {index} is outside the list")
    return f"the {purpose} status list cannot be decoded: {problem!r:.200}"
