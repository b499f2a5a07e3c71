"""One transaction per command, with the enrollment repositories on it."""

from sqlmodel.ext.asyncio.session import AsyncSession

from enrollment.adapters.enrollment_repository import CatalogRepository, EnrollmentRepository
from enrollment.adapters.evidence_repository import EvidenceRepository
from enrollment.adapters.roster_repository import RosterRepository
from mc_platform.unit_of_work import UnitOfWork as _BaseUnitOfWork


class UnitOfWork(_BaseUnitOfWork):
    """The enrollment unit of work: ``async with uow: ...; await uow.commit()``."""

    roster: RosterRepository
    catalog: CatalogRepository
    enrollments: EnrollmentRepository
    evidence: EvidenceRepository

    def attach(self, session: AsyncSession) -> None:
        self.roster = RosterRepository(session)
        self.catalog = CatalogRepository(session)
        self.enrollments = EnrollmentRepository(session)
        self.evidence = EvidenceRepository(session)
