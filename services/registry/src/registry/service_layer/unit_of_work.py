"""One transaction per command; repositories hang off it."""

from typing import Self

from mc_events.unit_of_work import UnitOfWork as _BaseUnitOfWork
from registry.adapters.catalog_repository import CatalogRepository


class UnitOfWork(_BaseUnitOfWork):
    """The registry unit of work: ``async with uow: ...; await uow.commit()``."""

    catalog: CatalogRepository

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self.catalog = CatalogRepository(self.session)
        return self
