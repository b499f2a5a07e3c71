"""One transaction per command, with review's repositories on it."""

from sqlmodel.ext.asyncio.session import AsyncSession

from mc_platform.unit_of_work import UnitOfWork as _BaseUnitOfWork
from review.adapters.assessors import AssessorRepository
from review.adapters.measures import MeasuresRepository
from review.adapters.read_models import CatalogRepository, RosterRepository
from review.adapters.reviews import ReviewRepository
from review.domain.review import Review


class UnitOfWork(_BaseUnitOfWork):
    """The review unit of work."""

    reviews: ReviewRepository
    assessors: AssessorRepository
    catalog: CatalogRepository
    roster: RosterRepository
    measures: MeasuresRepository

    def attach(self, session: AsyncSession) -> None:
        self.reviews = ReviewRepository(session)
        self.assessors = AssessorRepository(session)
        self.catalog = CatalogRepository(session)
        self.roster = RosterRepository(session)
        self.measures = MeasuresRepository(session)

    async def save(self, review: Review) -> None:
        """Save ``review`` and hand over what it recorded: its events to publish, its
        decisions to the audit trail (written when this unit of work commits)."""
        await self.reviews.save(review)
        events, entries = review.take_recorded()
        for recorded in events:
            self.emit(recorded.event, event_id=recorded.event_id, time=recorded.time)
        for entry in entries:
            self.audit(
                actor=entry.actor,
                action=entry.action,
                object_type=entry.object_type,
                object_id=entry.object_id,
                details=entry.details,
                chain=entry.chain,
                at=entry.at,
            )
