"""Verifying one of this registry's own credentials reads the status bits straight from its
records (one byte of each list, one statement), and must say exactly what the signed status
list credential it publishes says: for set and clear bits, revoked and suspended, a list nobody
was suspended from yet, a list that does not exist, a list of the other purpose and an index
past the end."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.dialects.postgresql import insert as pg_insert

from mc_devstack.testing import migrated_database
from mc_events.db import execute_core, session_factory, statements_run
from registry.adapters.awards_repository import AwardsRepository
from registry.adapters.status_bits import OwnStatusBits
from registry.adapters.tables import status_lists
from registry.bootstrap import MIGRATIONS
from registry.domain import status_list, verification
from registry.domain.openbadges import (
    PublicUrls,
    StatusEntry,
    suspension_entry,
    suspension_list_for,
)
from registry.service_layer.credentials import signed_status_list
from registry.service_layer.issuing import Issuance, KeyResolver
from registry.service_layer.unit_of_work import UnitOfWork

pytestmark = pytest.mark.timeout(120)

URLS = PublicUrls("https://creds.state.example", "https://evidence.state.example", "SDE")
NOW = datetime(2026, 3, 1, tzinfo=UTC)
REVOKED, SUSPENDED = 3, 5


def _document(list_id: str, index: Any, purpose: str = "revocation") -> dict[str, Any]:
    return {
        "credentialStatus": {
            "type": "BitstringStatusListEntry",
            "statusPurpose": purpose,
            "statusListIndex": str(index),
            "statusListCredential": URLS.status_list(list_id),
        }
    }


@pytest.fixture
async def registry_db(infra) -> AsyncIterator[Any]:
    """Two revocation lists: list 1 with bit 3 revoked and bit 5 suspended (so suspension-1
    exists), list 2 with nobody suspended (no suspension-2 row)."""
    async with migrated_database(infra, MIGRATIONS, "registry_own_status") as engine:
        sessions = session_factory(engine)
        async with sessions() as session, session.begin():
            repo = AwardsRepository(session)
            entries = [
                await repo.allocate_status_index(status_list.StatusPurpose.REVOCATION, NOW)
                for _ in range(8)
            ]
            await repo.set_status(entries[REVOKED], True, NOW)
            suspended = suspension_entry(entries[SUSPENDED])
            await repo.ensure_list(suspended, NOW)
            await repo.set_status(suspended, True, NOW)
            await execute_core(session, _unsuspended_list("revocation-2"))
        yield engine, sessions


def _unsuspended_list(list_id: str) -> Any:
    return pg_insert(status_lists).values(
        list_id=list_id,
        purpose="revocation",
        sequence=int(list_id.rsplit("-", 1)[1]),
        size=status_list.MIN_BITS,
        next_index=0,
        bits=status_list.empty_list(),
        updated_at=NOW,
    )


async def _both_ways(sessions: Any, document: dict[str, Any]) -> tuple[Any, Any, int]:
    """The status check from the records, and from the signed list credentials (the reference
    a third-party verifier sees); with the statements the first one took."""
    issuance = Issuance(URLS)
    async with UnitOfWork(sessions) as uow:
        resolve = KeyResolver(uow, issuance)
        resolve.inside = True

        async def fetch(url: str) -> Any:
            list_id = url.removeprefix(URLS.status_list(""))
            return await signed_status_list(uow, issuance, list_id, NOW)

        reference = await verification.check_status(
            document, fetch, resolve, lambda u: suspension_list_for(URLS, u)
        )
        await uow.commit()  # the first signing key
    engine = sessions.kw["bind"]
    with statements_run(engine) as seen:
        async with sessions() as session, session.begin():
            from_records = await verification.check_status(
                document,
                fetch,
                resolve,
                lambda u: suspension_list_for(URLS, u),
                read_bit=OwnStatusBits(session, URLS),
            )
    reads = [s for s in seen if "status_lists" in s]
    return from_records, reference, len(reads)


@pytest.mark.parametrize(
    ("list_id", "index", "purpose", "expected"),
    [
        ("revocation-1", 0, "revocation", verification.Result.PASSED),
        ("revocation-1", REVOKED, "revocation", verification.Result.REVOKED),
        ("revocation-1", SUSPENDED, "revocation", verification.Result.SUSPENDED),
        ("revocation-2", REVOKED, "revocation", verification.Result.PASSED),
        ("suspension-1", SUSPENDED, "suspension", verification.Result.SUSPENDED),
        ("suspension-2", SUSPENDED, "suspension", verification.Result.PASSED),
        ("revocation-9", 0, "revocation", verification.Result.UNKNOWN),
        ("revocation-1", 0, "suspension", verification.Result.UNKNOWN),
        ("revocation-1", status_list.MIN_BITS, "revocation", verification.Result.UNKNOWN),
        ("revocation-1", -1, "revocation", verification.Result.UNKNOWN),
        ("revocation-1/extra", 0, "revocation", verification.Result.UNKNOWN),
    ],
)
async def test_the_bits_from_the_records_say_what_the_signed_list_says(
    registry_db, list_id, index, purpose, expected
) -> None:
    _engine, sessions = registry_db
    from_records, reference, reads = await _both_ways(sessions, _document(list_id, index, purpose))
    assert from_records == reference
    assert from_records.result is expected, from_records
    assert reads <= 1  # both lists of a credential in one statement


async def test_a_revocation_shows_on_the_very_next_read(registry_db) -> None:
    _engine, sessions = registry_db
    document = _document("revocation-1", 7)
    before, _, _ = await _both_ways(sessions, document)
    async with sessions() as session, session.begin():
        await AwardsRepository(session).set_status(StatusEntry("revocation-1", 7), True, NOW)
    after, reference, _ = await _both_ways(sessions, document)
    assert (before.result, after.result) == (
        verification.Result.PASSED,
        verification.Result.REVOKED,
    )
    assert after == reference
