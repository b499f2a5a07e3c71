"""Catalog and roster read models, kept from the registry's and enrollment's events.

Only what review needs is kept: the rubric, attempt cap and competency of each micro-credential
version; the district, school and supervisor of each educator (never names or emails).
"""

from __future__ import annotations

import logging

from sqlmodel.ext.asyncio.session import AsyncSession

from mc_events.contracts.catalog import MicroCredentialPublished, MicroCredentialRetired
from mc_events.contracts.roster import EducatorMovedDistrict, EducatorRegistered, EducatorUpdated
from review.adapters import repository as repo

log = logging.getLogger(__name__)


async def record_published(session: AsyncSession, event: MicroCredentialPublished) -> None:
    await repo.upsert_catalog_version(
        session,
        {
            "micro_credential_id": event.micro_credential_id,
            "micro_credential_version": event.micro_credential_version,
            "competency": event.competency,
            "rubric": [
                {
                    "id": c.id,
                    "level_ids": [level.id for level in c.levels],
                    "required_level_id": c.required_level_id,
                }
                for c in event.rubric
            ],
            "attempt_cap": event.attempt_cap,
            "published_at": event.approved_at,
        },
    )


async def record_retired(session: AsyncSession, event: MicroCredentialRetired) -> None:
    found = await repo.retire_catalog_version(
        session, event.micro_credential_id, event.micro_credential_version, event.retired_at
    )
    if not found:
        # Nothing here depends on a version review never saw: skip rather than dead-letter.
        log.info(
            "retirement of unknown version %s v%s skipped",
            event.micro_credential_id,
            event.micro_credential_version,
        )


async def record_educator(
    session: AsyncSession, event: EducatorRegistered | EducatorUpdated
) -> None:
    at = event.registered_at if isinstance(event, EducatorRegistered) else event.updated_at
    await repo.upsert_roster(
        session,
        educator_id=event.educator_id,
        district_id=event.district_id,
        school_id=event.school_id,
        supervisor_id=event.supervisor_id,
        at=at,
    )


async def record_move(session: AsyncSession, event: EducatorMovedDistrict) -> None:
    await repo.upsert_roster(
        session,
        educator_id=event.educator_id,
        district_id=event.to_district_id,
        school_id=event.to_school_id,
        supervisor_id=event.supervisor_id,
        at=event.effective_at,
    )
