"""Catalog and roster read models, kept from the registry's and enrollment's events (consumer
handlers: they run in the consumer's unit of work and never commit).

Only what review needs is kept: the rubric, attempt cap and competency of each micro-credential
version; the district, school and supervisor of each educator (never names or emails).
"""

from __future__ import annotations

import logging
from datetime import datetime

from mc_events.contracts.catalog import MicroCredentialPublished, MicroCredentialRetired
from mc_events.contracts.roster import EducatorMovedDistrict, EducatorRegistered, EducatorUpdated
from review.adapters.read_models import CatalogEntry
from review.domain.scoring import Criterion, Rubric
from review.service_layer.assignment import AssignmentPolicy, assign_pending
from review.service_layer.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

PUBLISHED_ASSIGN_LIMIT = 1000
"""Waiting submissions of a newly published version tried at once."""


async def record_published(uow: UnitOfWork, event: MicroCredentialPublished) -> None:
    await uow.catalog.upsert(
        CatalogEntry(
            micro_credential_id=event.micro_credential_id,
            micro_credential_version=event.micro_credential_version,
            competency=event.competency,
            rubric=Rubric(
                tuple(
                    Criterion(c.id, tuple(level.id for level in c.levels), c.required_level_id)
                    for c in event.rubric
                ),
                event.attempt_cap,
            ),
            published_at=event.approved_at,
        )
    )


async def on_published(
    uow: UnitOfWork, event: MicroCredentialPublished, policy: AssignmentPolicy, now: datetime
) -> None:
    """Keep the version, then retry the waiting submissions of that version: topics are not
    ordered with each other, so a submission may arrive before its catalog entry and find only
    competency-qualified assessors missing."""
    await record_published(uow, event)
    await assign_pending(
        uow,
        policy,
        now,
        PUBLISHED_ASSIGN_LIMIT,
        micro_credential=(event.micro_credential_id, event.micro_credential_version),
    )


async def record_retired(uow: UnitOfWork, event: MicroCredentialRetired) -> None:
    found = await uow.catalog.retire(
        event.micro_credential_id, event.micro_credential_version, event.retired_at
    )
    if not found:
        # Nothing here depends on a version review never saw: skip rather than dead-letter.
        log.info(
            "retirement of unknown version %s v%s skipped",
            event.micro_credential_id,
            event.micro_credential_version,
        )


async def record_educator(uow: UnitOfWork, event: EducatorRegistered | EducatorUpdated) -> None:
    at = event.registered_at if isinstance(event, EducatorRegistered) else event.updated_at
    await uow.roster.upsert(
        educator_id=event.educator_id,
        district_id=event.district_id,
        school_id=event.school_id,
        supervisor_id=event.supervisor_id,
        at=at,
    )


async def record_move(uow: UnitOfWork, event: EducatorMovedDistrict) -> None:
    await uow.roster.upsert(
        educator_id=event.educator_id,
        district_id=event.to_district_id,
        school_id=event.to_school_id,
        supervisor_id=event.supervisor_id,
        at=event.effective_at,
    )
