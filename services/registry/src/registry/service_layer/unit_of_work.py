"""One transaction per command; the registry's repositories hang off it."""

from sqlmodel.ext.asyncio.session import AsyncSession

from mc_platform.unit_of_work import UnitOfWork as _BaseUnitOfWork
from registry.adapters.awards_repository import AwardsRepository
from registry.adapters.catalog_repository import CatalogRepository
from registry.adapters.district_feed import DistrictFeedRepository
from registry.adapters.licensure_repository import LicensureRepository
from registry.adapters.signing_keys import SigningKeysRepository


class UnitOfWork(_BaseUnitOfWork):
    """The registry unit of work: ``async with uow: ...; await uow.commit()``."""

    catalog: CatalogRepository
    awards: AwardsRepository
    """Awarded credentials, their status lists, and the enrollments read model."""
    keys: SigningKeysRepository
    licensure: LicensureRepository
    """Stack completions, the renewal-credit ledger and rules, licenses, imports."""
    district_feed: DistrictFeedRepository

    def attach(self, session: AsyncSession) -> None:
        self.catalog = CatalogRepository(session)
        self.awards = AwardsRepository(session)
        self.keys = SigningKeysRepository(session)
        self.licensure = LicensureRepository(session)
        self.district_feed = DistrictFeedRepository(session)
