"""The district award change feed for districts without Kafka: the same events as their
``district.<id>.awards`` topic, numbered in commit order per district (migration 0007)."""

from __future__ import annotations

from registry.adapters.district_feed import Change
from registry.service_layer.unit_of_work import UnitOfWork


async def changes_after(uow: UnitOfWork, district_id: str, after: int, limit: int) -> list[Change]:
    """Up to ``limit`` of the district's changes after number ``after``, in order. What
    committed since the last read is numbered first, in a transaction of its own (one numbering
    pass at a time; if another is running, its rows show up on the next read)."""
    async with uow:
        await uow.district_feed.number_pending()
        await uow.commit()
    async with uow:
        return await uow.district_feed.read_after(district_id, after, limit)
