"""Reissued credentials through the running service and the real broker: a reissue pays nothing
and reverses nothing; the new id (after one reissue or several) carries the original award, so
its suspension holds and its reinstatement releases the original stipend, and its revocation
claws the original back (or cancels its deferral) exactly once, however often any of these is
redelivered or duplicated, and even when the original id was revoked too. A revocation of the
superseded id (the registry marking the old document revoked) claws nothing back. Events about
the new id that a replay brings before its reissue are carried over when the reissue arrives."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from compensation_helpers import (
    add_teachers,
    awarded,
    clock,
    credential,
    ledger,
    outbox_events,
    reinstated,
    reissued,
    revoked,
    rows,
    scalar,
    setup_florida,
    suspended,
    teacher,
    transaction,
    wait_for,
    wait_for_educator,
    wait_for_entries,
)
from sqlalchemy.exc import DBAPIError

from compensation.domain.credentials import CredentialRef, Reissue
from compensation.service_layer import reissues
from compensation.service_layer.stipends import apply_award
from mc_devstack.testing import RunningService, unique_name
from mc_events import kafka
from mc_events.consumer import wait_until
from mc_events.contracts.compensation import StipendDeferralCancelled, StipendReversed
from mc_events.contracts.registry import CredentialAwarded
from mc_events.dlq import list_dead_letters
from mc_events.topics import CREDENTIALS
from mc_platform.auth import Role

SUSPENDED_AT = datetime(2025, 10, 20, tzinfo=UTC)
REINSTATED_AT = datetime(2025, 10, 25, tzinfo=UTC)


def as_credential(award: CredentialAwarded, credential_id: str) -> CredentialAwarded:
    """``award`` as the registry would describe it under (reissued) ``credential_id``."""
    return award.model_copy(update={"credential_id": credential_id})


async def registered_teacher(svc: RunningService, producer, district_id: str) -> str:
    educator = unique_name("edu")
    await producer.send(teacher(educator, district_id))
    await wait_for_educator(svc, educator)
    return educator


async def barrier(svc: RunningService, producer, award: CredentialAwarded) -> None:
    """Wait until everything sent so far about ``award``'s educator was processed: a marker
    reissue of an unrelated credential (same key, so processed after) has been recorded."""
    marker = reissued(award, unique_name("marker-old"))
    await producer.send(marker)
    await wait_for(
        svc,
        "SELECT count(*) FROM credential_reissues WHERE credential_id = :c",
        1,
        c=marker.credential_id,
    )


async def links(svc: RunningService, *credential_ids: str) -> list[tuple[str, str]]:
    found = await rows(
        svc,
        "SELECT credential_id, previous_credential_id FROM credential_reissues "
        "WHERE credential_id = ANY(:c) ORDER BY seq",
        c=list(credential_ids),
    )
    return [(row.credential_id, row.previous_credential_id) for row in found]


async def status_of(svc: RunningService, credential_id: str) -> str | None:
    value = await scalar(
        svc, "SELECT status FROM credential_status WHERE credential_id = :c", c=credential_id
    )
    return str(value) if value is not None else None


async def audited(svc: RunningService, action: str, object_id: str) -> int:
    return int(
        await scalar(
            svc,
            "SELECT count(*) FROM audit_log WHERE action = :a AND object_id = :o",
            a=action,
            o=object_id,
        )
    )


async def held_ids(svc: RunningService, district_id: str) -> list[str]:
    r = await svc.client.get(
        f"/districts/{district_id}/payments/2026",
        params={"status": "held"},
        headers=svc.auth("admin", Role.DISTRICT_ADMIN, district_id=district_id),
    )
    assert r.status_code == 200, r.text
    return [p["id"] for p in r.json()]


async def test_reissue_pays_nothing_and_the_new_id_holds_and_releases_the_original_stipend(
    svc, producer
):
    fl = await setup_florida(svc, budget_cents=10_000_000)
    educator = await registered_teacher(svc, producer, fl.district_id)
    award = awarded(educator, fl.district_id)
    await producer.send(award)
    (entry,) = await wait_for_entries(svc, educator, 1)

    reissue = reissued(award, award.credential_id)
    event_id = await producer.send(reissue)
    await producer.send(reissue, event_id=event_id)  # redelivered
    await producer.send(reissue)  # duplicated upstream
    new = as_credential(award, reissue.credential_id)
    await producer.send(new)  # an award naming the new id is the original award
    await barrier(svc, producer, award)

    assert await links(svc, reissue.credential_id) == [(reissue.credential_id, award.credential_id)]
    assert [(e.kind, e.credential_id) for e in await ledger(svc, educator)] == [
        ("approval", award.credential_id)
    ]
    assert await audited(svc, "credential.reissued", reissue.credential_id) == 1

    suspension = suspended(new, SUSPENDED_AT)
    suspension_id = await producer.send(suspension)
    await producer.send(suspension, event_id=suspension_id)
    await barrier(svc, producer, award)
    assert await status_of(svc, award.credential_id) == "suspended"
    assert await status_of(svc, reissue.credential_id) is None
    assert await held_ids(svc, fl.district_id) == [entry.entry_id]

    await producer.send(reinstated(new, REINSTATED_AT))
    await producer.send(suspension)  # older than the reinstatement: ignored
    await barrier(svc, producer, award)
    assert await status_of(svc, award.credential_id) == "reinstated"
    assert await held_ids(svc, fl.district_id) == []
    assert [e.kind for e in await ledger(svc, educator)] == ["approval"]  # nothing clawed back


async def test_revoking_a_twice_reissued_credential_claws_back_and_cancels_deferrals_once(
    svc, producer
):
    fl = await setup_florida(svc, budget_cents=100_000)  # pays one stipend, defers the next
    educator = await registered_teacher(svc, producer, fl.district_id)
    paid = awarded(educator, fl.district_id)
    waiting = awarded(educator, fl.district_id)
    await producer.send(paid)
    await producer.send(waiting)
    (approval,) = await wait_for_entries(svc, educator, 1)
    await wait_for(
        svc,
        "SELECT count(*) FROM stipend_deferrals WHERE award_key = :k AND status = 'deferred'",
        1,
        k=f"credential:{waiting.credential_id}",
    )

    second = reissued(paid, paid.credential_id)
    third = reissued(
        paid,
        second.credential_id,
        reissued_at=datetime(2025, 10, 20, tzinfo=UTC),
    )
    waiting_again = reissued(waiting, waiting.credential_id)
    for reissue in (second, third, waiting_again):
        await producer.send(reissue)
    for revocation in (
        revoked(as_credential(paid, third.credential_id)),
        revoked(as_credential(waiting, waiting_again.credential_id)),
    ):
        event_id = await producer.send(revocation)
        await producer.send(revocation, event_id=event_id)  # redelivered
        await producer.send(revocation)  # duplicated upstream
    # A revocation of the second id dated before the third superseded it is the award's own:
    # it resolves to the original award, which has nothing left to reverse.
    await producer.send(
        revoked(as_credential(paid, second.credential_id)).model_copy(
            update={"revoked_at": datetime(2025, 10, 18, tzinfo=UTC)}
        )
    )
    await wait_for_entries(svc, educator, 2)
    await barrier(svc, producer, paid)

    entries = await ledger(svc, educator)
    assert [e.kind for e in entries] == ["approval", "reversal"]
    assert entries[1].reverses_entry_id == approval.entry_id
    assert entries[1].credential_id == paid.credential_id
    assert sum(e.amount_cents for e in entries) == 0
    assert len(await outbox_events(svc, StipendReversed.ce_type(), educator)) == 1
    assert len(await outbox_events(svc, StipendDeferralCancelled.ce_type(), educator)) == 1
    (deferral,) = await rows(
        svc,
        "SELECT status FROM stipend_deferrals WHERE award_key = :k",
        k=f"credential:{waiting.credential_id}",
    )
    assert deferral.status == "cancelled"
    assert await status_of(svc, paid.credential_id) == "revoked"
    assert await status_of(svc, waiting.credential_id) == "revoked"
    assert await status_of(svc, third.credential_id) is None


async def test_original_revoked_before_its_reissue_and_new_id_revoked_claw_back_once(svc, producer):
    fl = await setup_florida(svc, budget_cents=10_000_000)
    educator = await registered_teacher(svc, producer, fl.district_id)
    award = awarded(educator, fl.district_id)
    await producer.send(award)
    await wait_for_entries(svc, educator, 1)

    await producer.send(revoked(award))  # 2025-11-01: the award's own revocation
    reissue = reissued(award, award.credential_id, reissued_at=datetime(2025, 11, 5, tzinfo=UTC))
    await producer.send(reissue)
    new_revocation = revoked(as_credential(award, reissue.credential_id)).model_copy(
        update={"revoked_at": datetime(2025, 11, 10, tzinfo=UTC)}
    )
    await producer.send(new_revocation)
    await producer.send(revoked(award))  # duplicated upstream, after the reissue
    await barrier(svc, producer, award)

    entries = await ledger(svc, educator)
    assert [e.kind for e in entries] == ["approval", "reversal"]
    assert len(await outbox_events(svc, StipendReversed.ce_type(), educator)) == 1
    assert await status_of(svc, award.credential_id) == "revoked"


async def test_revoking_the_superseded_id_claws_nothing_back_and_the_new_id_claws_back_once(
    svc, producer
):
    fl = await setup_florida(svc, budget_cents=10_000_000)
    educator = await registered_teacher(svc, producer, fl.district_id)
    award = awarded(educator, fl.district_id)
    await producer.send(award)
    (approval,) = await wait_for_entries(svc, educator, 1)
    reissue = reissued(award, award.credential_id)  # 2025-10-15
    await producer.send(reissue)

    # The registry marks the superseded document revoked (2025-11-01): not the award's revocation.
    superseded = revoked(award)
    event_id = await producer.send(superseded)
    await producer.send(superseded, event_id=event_id)
    await producer.send(superseded)
    await barrier(svc, producer, award)
    assert [e.kind for e in await ledger(svc, educator)] == ["approval"]
    assert await status_of(svc, award.credential_id) is None
    history = await rows(
        svc,
        "SELECT status, reason FROM credential_status_history WHERE credential_id = :c",
        c=award.credential_id,
    )
    assert [(h.status, h.reason) for h in history] == [("superseded", "plagiarism")]
    ignored = "credential.superseded_revocation_ignored"
    assert await audited(svc, ignored, award.credential_id) == 1

    await producer.send(revoked(as_credential(award, reissue.credential_id)))
    await producer.send(superseded)
    await wait_for_entries(svc, educator, 2)
    await barrier(svc, producer, award)
    entries = await ledger(svc, educator)
    assert [e.kind for e in entries] == ["approval", "reversal"]
    assert entries[1].reverses_entry_id == approval.entry_id
    assert await status_of(svc, award.credential_id) == "revoked"


async def test_status_of_the_new_id_replayed_before_its_reissue_is_carried_over_once(svc, producer):
    fl = await setup_florida(svc, budget_cents=10_000_000)
    educator = await registered_teacher(svc, producer, fl.district_id)
    to_revoke, to_suspend = awarded(educator, fl.district_id), awarded(educator, fl.district_id)
    await producer.send(to_revoke)
    await producer.send(to_suspend)
    revoked_entry, suspended_entry = await wait_for_entries(svc, educator, 2)
    revoke_reissue = reissued(to_revoke, to_revoke.credential_id)
    suspend_reissue = reissued(to_suspend, to_suspend.credential_id)

    # Out of order (only a replay can do this: the topic is keyed by educator).
    await producer.send(revoked(as_credential(to_revoke, revoke_reissue.credential_id)))
    await producer.send(
        suspended(as_credential(to_suspend, suspend_reissue.credential_id), SUSPENDED_AT)
    )
    await barrier(svc, producer, to_revoke)
    assert [e.kind for e in await ledger(svc, educator)] == ["approval", "approval"]
    assert await held_ids(svc, fl.district_id) == []

    for reissue in (revoke_reissue, suspend_reissue):
        event_id = await producer.send(reissue)
        await producer.send(reissue, event_id=event_id)  # redelivered
        await producer.send(reissue)  # duplicated upstream
    await wait_for_entries(svc, educator, 3)
    await barrier(svc, producer, to_revoke)

    entries = await ledger(svc, educator)
    assert [(e.kind, e.reverses_entry_id) for e in entries] == [
        ("approval", None),
        ("approval", None),
        ("reversal", revoked_entry.entry_id),
    ]
    assert await status_of(svc, to_revoke.credential_id) == "revoked"
    assert await status_of(svc, to_suspend.credential_id) == "suspended"
    assert await held_ids(svc, fl.district_id) == [suspended_entry.entry_id]


def _reissue(new: str, previous: str) -> Reissue:
    at = datetime(2025, 10, 15, tzinfo=UTC)
    return Reissue(new, previous, "edu-x", "district-x", "enr-x", "correction", at, at)


async def test_chains_resolve_to_the_original_cycles_are_refused_and_reissues_are_append_only(
    svc,
):
    a, b, c = (unique_name(name) for name in ("cred-a", "cred-b", "cred-c"))
    async with transaction(svc) as uow:
        assert await reissues.record_reissue(uow, _reissue(b, a), clock)
        assert await reissues.record_reissue(uow, _reissue(c, b), clock)
        assert not await reissues.record_reissue(uow, _reissue(c, b), clock)  # once
        assert not await reissues.record_reissue(uow, _reissue(c, a), clock)  # first wins
    async with transaction(svc) as uow:
        for credential_id in (a, b, c):
            ref = CredentialRef(credential_id, "edu-x", "district-x")
            assert (await reissues.original_of(uow, ref)).credential_id == a
    for new, previous in ((a, c), (a, a)):  # would make a credential its own predecessor
        with pytest.raises(reissues.ReissueCycle):
            async with transaction(svc) as uow:
                await reissues.record_reissue(uow, _reissue(new, previous), clock)
    assert await links(svc, a, b, c) == [(b, a), (c, b)]
    for statement in (
        "UPDATE credential_reissues SET previous_credential_id = 'x' WHERE credential_id = :c",
        "DELETE FROM credential_reissues WHERE credential_id = :c",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            async with svc.runtime.engine.begin() as conn:
                await conn.execute(sa.text(statement).bindparams(c=c))


async def test_a_reissue_naming_itself_as_its_predecessor_is_dead_lettered(svc, producer, infra):
    fl = await setup_florida(svc, budget_cents=10_000_000)
    educator = await registered_teacher(svc, producer, fl.district_id)
    award = awarded(educator, fl.district_id)
    await producer.send(award)
    await wait_for_entries(svc, educator, 1)
    loop = reissued(award, award.credential_id, credential_id=award.credential_id)
    event_id = await producer.send(loop)
    settings = kafka.KafkaSettings(
        bootstrap_servers=infra.kafka_bootstrap, enable_idempotence=infra.kafka_idempotence
    )
    letters: list = []

    async def dead_lettered() -> bool:
        letters[:] = [
            letter
            for letter in await list_dead_letters(settings, CREDENTIALS.name, idle_seconds=0.5)
            if letter.event_id == event_id
        ]
        return bool(letters)

    assert await wait_until(dead_lettered, 45)
    assert "its own predecessor" in letters[0].error_message
    await barrier(svc, producer, award)  # the consumer went on with the next event
    assert await links(svc, award.credential_id) == []
    assert [e.kind for e in await ledger(svc, educator)] == ["approval"]


async def test_concurrent_revocations_across_a_reissue_chain_reverse_once(svc):
    fl = await setup_florida(svc, budget_cents=10_000_000)
    educators = await add_teachers(svc, fl.district_id, 3)
    awards = [credential(e, fl.district_id) for e in educators]
    async with transaction(svc) as uow:
        for award in awards:
            await apply_award(uow, award, clock)
    chains: list[tuple[CredentialRef, CredentialRef]] = []
    async with transaction(svc) as uow:
        for award in awards:
            new = unique_name("cred-new")
            reissue = Reissue(
                new,
                award.source_id,
                award.educator_id,
                award.district_id,
                "enr",
                "correction",
                award.awarded_at,
                datetime(2025, 10, 15, tzinfo=UTC),
            )
            await reissues.record_reissue(uow, reissue, clock)
            chains.append(
                (
                    CredentialRef(award.source_id, award.educator_id, award.district_id),
                    CredentialRef(new, award.educator_id, award.district_id),
                )
            )
    start = asyncio.Event()

    async def run(ref: CredentialRef, at: datetime) -> None:
        await start.wait()
        async with transaction(svc) as uow:
            await reissues.revoke(uow, ref, at=at, reason="plagiarism", clock=clock)

    before_reissue = datetime(2025, 10, 10, tzinfo=UTC)  # the original's own revocation
    after_reissue = datetime(2025, 11, 1, tzinfo=UTC)
    tasks = [
        asyncio.create_task(run(ref, at))
        for original, new in chains
        for ref, at in (
            (new, after_reissue),
            (new, after_reissue),
            (original, before_reissue),
            (new, after_reissue),
            (original, after_reissue),  # the superseded document: claws nothing back
        )
    ]
    await asyncio.sleep(0.05)
    start.set()
    await asyncio.gather(*tasks)

    for original, new in chains:
        entries = await ledger(svc, original.educator_id)
        assert [(e.kind, e.credential_id) for e in entries] == [
            ("approval", original.credential_id),
            ("reversal", original.credential_id),
        ]
        assert await status_of(svc, original.credential_id) == "revoked"
        assert await status_of(svc, new.credential_id) is None
        history = await rows(
            svc,
            "SELECT status FROM credential_status_history WHERE credential_id = :c",
            c=original.credential_id,
        )
        assert sorted(h.status for h in history) == ["revoked", "superseded"]
