"""Stacks, renewal credits, the Ed-Fi and CLR views, on a real broker and database.

Awards arrive as review decisions on ``review.reviews``; everything they cause (stack
completions, endorsement eligibility, renewal-credit postings) and everything a revocation
reverses is checked on the ``registry.credentials`` topic and through the HTTP API."""

# The fixtures are imported from registry_it (no conftest.py here: it would shadow the
# ``conftest`` module other integration tests import), so test parameters redefine them.
# ruff: noqa: F811

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from alembic import command
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from registry_it import (  # noqa: F401  (actors, registry: fixtures)
    Actors,
    actors,
    decided,
    enrolled,
    events_on,
    mc_spec_data,
    processed,
    publish,
    registry,
    stack_spec_data,
)
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from mc_devstack.testing import RunningService, fresh_database_async, unique_name
from mc_events.contracts.base import Event
from mc_events.contracts.catalog import StackPublished
from mc_events.contracts.common import Purpose
from mc_events.contracts.registry import (
    CredentialAwarded,
    CredentialRevoked,
    CreditPostingReason,
    EndorsementEligible,
    RenewalCreditsPosted,
    StackCompleted,
    StackCompletionReversed,
)
from mc_events.contracts.review import Decided, MisconductKind, RevocationRequested
from mc_events.contracts.roster import EducatorRegistered, License, StaffRole
from mc_events.db import async_url, execute_core
from mc_events.topics import CATALOG, CREDENTIALS
from mc_platform import migrations
from mc_platform.auth import Role
from registry.adapters.licensure_tables import renewal_ledger, renewal_rules, stack_completions
from registry.bootstrap import MIGRATIONS
from registry.domain import openbadges, proofs
from registry.domain.awards import credential_id_for
from registry.service_layer.credentials import record_award
from registry.service_layer.unit_of_work import UnitOfWork

ENDORSEMENT = {"kind": "endorsement", "code": "SC-QUEST", "name": "Questioning Specialist"}
DESIGNATION = {"kind": "designation", "code": "lead-questioning", "name": "Lead Educator"}


async def published_stack(actors: Actors, members: list[str], **overrides: Any) -> str:
    client = actors.svc.client
    spec = stack_spec_data(members, id=unique_name("stack").lower(), **overrides)
    r = await client.post("/stacks", json=spec, headers=actors.issuer)
    assert r.status_code == 201, r.text
    stack_id = str(r.json()["id"])
    base = f"/stacks/{stack_id}/versions/1"
    assert (await client.post(f"{base}/submit", headers=actors.issuer)).status_code == 200
    r = await client.post(f"{base}/approve", json={"reason": "ok"}, headers=actors.admin)
    assert r.status_code == 200, r.text
    return stack_id


async def award(registry: RunningService, mc_id: str, educator_id: str, **kw: Any) -> Decided:
    decision = decided(mc_id, educator_id=educator_id, **kw)
    assert await processed(registry, await publish(registry, decision))
    return decision


async def revoke(registry: RunningService, actors: Actors, decision: Decided) -> int:
    r = await registry.client.post(
        f"/credentials/{credential_id_for(decision.enrollment_id)}/revoke",
        json={"reason": "plagiarism", "detail": "copied"},
        headers=actors.admin,
    )
    return r.status_code


async def stream(registry: RunningService, educator_id: str, at_least: int) -> list[Event]:
    return [
        e for _, e in await events_on(registry, CREDENTIALS.name, educator_id, at_least=at_least)
    ]


def of(kind: type[Event], events: list[Event]) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


async def rows(registry: RunningService, query: Any) -> list[Any]:
    async with registry.runtime.sessions() as session:
        return list((await execute_core(session, query)).all())


# -- stacks ----------------------------------------------------------------------------------


async def test_completing_a_stack_emits_its_grants_once_and_a_revocation_reverses_it_once(
    registry, actors: Actors
):
    first = await actors.published_mc(mc_spec_data(title="Wait Time"))
    second = await actors.published_mc(mc_spec_data(title="Probing Questions"))
    stack_id = await published_stack(
        actors, [first, second], grants=[DESIGNATION, ENDORSEMENT], rule={"kind": "all_of"}
    )
    educator = unique_name("SC")

    a = await award(registry, first, educator)
    assert (
        await rows(
            registry,
            sa.select(stack_completions.c.completion_id).where(
                stack_completions.c.educator_id == educator
            ),
        )
        == []
    )  # one of two members: not complete
    b = decided(second, educator_id=educator)
    delivered = await publish(registry, b)
    assert await publish(registry, b, event_id=delivered) == delivered  # redelivered
    # Another award of a member (another enrollment) while the completion stands.
    again = decided(second, educator_id=educator)
    assert await processed(registry, delivered, await publish(registry, again))

    # 3 awards and their postings, the completion and the endorsement eligibility.
    events = await stream(registry, educator, at_least=8)
    (completed,) = of(StackCompleted, events)
    assert (completed.stack_id, completed.stack_version) == (stack_id, 1)
    assert [g.code for g in completed.grants] == ["lead-questioning", "SC-QUEST"]
    assert completed.member_credential_ids == (
        credential_id_for(a.enrollment_id),
        credential_id_for(b.enrollment_id),
    )
    assert completed.completed_at == b.decided_at
    (eligible,) = of(EndorsementEligible, events)
    assert (eligible.endorsement_code, eligible.stack_completion_id) == (
        "SC-QUEST",
        completed.stack_completion_id,
    )
    assert eligible.credential_ids == completed.member_credential_ids
    # Order on the educator's key: the award comes before what it caused.
    kinds = [type(e) for e in events]
    assert (
        kinds.index(StackCompleted) > [i for i, k in enumerate(kinds) if k is CredentialAwarded][1]
    )

    # Revoking the only credential of the first member breaks the stack: reversed once.
    assert await revoke(registry, actors, a) == 200
    assert await revoke(registry, actors, a) == 409  # already revoked: nothing more
    events = await stream(registry, educator, at_least=len(events) + 3)  # revoked, reversals
    (reversed_,) = of(StackCompletionReversed, events)
    assert reversed_.stack_completion_id == completed.stack_completion_id
    assert reversed_.revoked_credential_id == credential_id_for(a.enrollment_id)
    assert reversed_.grants == completed.grants
    assert len(of(StackCompleted, events)) == 1  # the revocation completed nothing anew
    standing = await rows(
        registry,
        sa.select(stack_completions.c.reversed_at).where(
            stack_completions.c.educator_id == educator
        ),
    )
    assert len(standing) == 1
    assert standing[0].reversed_at is not None

    # Earning the member again completes the stack anew: a new completion, a new event.
    await award(registry, first, educator)
    events = await stream(registry, educator, at_least=len(events) + 4)
    completions = of(StackCompleted, events)
    assert len(completions) == 2
    assert completions[1].stack_completion_id != completed.stack_completion_id
    me = registry.auth("me", Role.EDUCATOR, educator_id=educator)
    listed = (await registry.client.get(f"/educators/{educator}/stacks", headers=me)).json()
    # Both decisions carry the same time, so the listing's order between them is the ids'.
    assert {c["stack_completion_id"]: c["reversed_at"] is None for c in listed} == {
        completed.stack_completion_id: False,
        completions[1].stack_completion_id: True,
    }


async def test_a_stack_published_after_its_members_were_earned_completes_once(
    registry, actors: Actors
):
    first = await actors.published_mc(mc_spec_data(title="Wait Time"))
    second = await actors.published_mc(mc_spec_data(title="Probing Questions"))
    educator, partial = unique_name("SC"), unique_name("SC")
    a = await award(registry, first, educator)
    b = await award(registry, second, educator)
    await award(registry, first, partial)  # one of two: not complete
    stack_id = await published_stack(actors, [first, second], grants=[ENDORSEMENT])

    events = await stream(registry, educator, at_least=6)  # awards, postings, completion, elig.
    (completed,) = of(StackCompleted, events)
    assert completed.stack_id == stack_id
    assert set(completed.member_credential_ids) == {
        credential_id_for(d.enrollment_id) for d in (a, b)
    }
    assert len(of(EndorsementEligible, events)) == 1
    assert of(StackCompleted, await stream(registry, partial, at_least=2)) == []

    # A new version of the stack does not complete it again while the first completion stands.
    client = registry.client
    r = await client.post(f"/stacks/{stack_id}/versions", headers=actors.issuer)
    assert r.status_code == 201, r.text
    base = f"/stacks/{stack_id}/versions/2"
    assert (await client.post(f"{base}/submit", headers=actors.issuer)).status_code == 200
    r = await client.post(f"{base}/approve", json={"reason": "ok"}, headers=actors.admin)
    assert r.status_code == 200, r.text
    (published,) = [
        event_id
        for event_id, e in await events_on(registry, CATALOG.name, stack_id, at_least=2)
        if isinstance(e, StackPublished) and e.stack_version == 2
    ]
    assert await processed(registry, published)  # the registry's own consumer handled it
    assert len(of(StackCompleted, await stream(registry, educator, at_least=6))) == 1


async def test_two_awards_recorded_at_the_same_time_still_complete_the_stack(
    registry, actors: Actors
):
    """Decisions are keyed by enrollment, so one educator's awards can be recorded by two
    consumers at once; each transaction must see the other's credential (educator lock)."""
    first = await actors.published_mc(mc_spec_data(title="Wait Time"))
    second = await actors.published_mc(mc_spec_data(title="Probing Questions"))
    await published_stack(actors, [first, second], grants=[DESIGNATION])
    educator = unique_name("SC")

    async def record_in(session: AsyncSession, mc_id: str) -> None:
        uow = UnitOfWork.joining(session)  # as the consumer's handler runs it
        decision = decided(mc_id, educator_id=educator)
        await record_award(uow, decision, registry.definition.issuance, datetime.now(UTC))
        await uow.flush()

    async def record(mc_id: str) -> None:
        async with registry.runtime.sessions() as session, session.begin():
            await record_in(session, mc_id)

    # (The status list exists before the race: creating the very first list concurrently is
    # the award path's own retry case, not what this test is about.)
    await award(registry, first, unique_name("SC"))
    # The first award's transaction is still open when the second one runs.
    async with registry.runtime.sessions() as session, session.begin():
        await record_in(session, first)
        concurrent = asyncio.create_task(record(second))
        await asyncio.sleep(0.5)
    await concurrent
    completions = await rows(
        registry,
        sa.select(stack_completions.c.completion_id).where(
            stack_completions.c.educator_id == educator
        ),
    )
    assert len(completions) == 1


async def test_an_n_of_m_stack_stands_while_enough_members_remain_valid(registry, actors: Actors):
    members = [await actors.published_mc(mc_spec_data(title=f"Member {i}")) for i in range(3)]
    await published_stack(actors, members, rule={"kind": "n_of_m", "n": 2}, grants=[DESIGNATION])
    educator = unique_name("SC")
    decisions = [await award(registry, mc, educator) for mc in members]
    events = await stream(registry, educator, at_least=7)
    (completed,) = of(StackCompleted, events)
    assert len(completed.member_credential_ids) == 2  # completed on the second award

    assert await revoke(registry, actors, decisions[0]) == 200  # two of three remain
    assert await revoke(registry, actors, decisions[1]) == 200  # one remains: broken
    events = await stream(registry, educator, at_least=len(events) + 5)
    (reversed_,) = of(StackCompletionReversed, events)
    assert reversed_.revoked_credential_id == credential_id_for(decisions[1].enrollment_id)
    assert of(EndorsementEligible, events) == []  # a designation is not an endorsement


# -- renewal credits -------------------------------------------------------------------------


async def test_renewal_credits_post_once_per_award_and_come_off_once_on_revocation(
    registry, actors: Actors
):
    mc_id = await actors.published_mc(mc_spec_data(credits={"value": "15", "unit": "pd_hours"}))
    educator = unique_name("SC")
    decision = decided(mc_id, educator_id=educator)
    first = await publish(registry, decision)
    await publish(registry, decision, event_id=first)  # redelivery
    assert await processed(registry, first)

    me = registry.auth("teacher", Role.EDUCATOR, educator_id=educator)
    ledger = (
        await registry.client.get(f"/educators/{educator}/renewal-credits", headers=me)
    ).json()
    assert ledger["state"] == "SC"
    (cycle,) = ledger["cycles"]
    # No license on the roster: the cycle starts with the school year of the award (2026-03-01).
    assert (cycle["certificate_cycle"], cycle["starts_on"], cycle["ends_on"]) == (
        "2025-2030",
        "2025-07-01",
        "2030-06-30",
    )
    # 15 PD hours = 15 contact hours = 20 South Carolina renewal credits, of 120 required.
    assert Decimal(cycle["renewal_credits"]) == Decimal(20)
    assert Decimal(cycle["remaining"]) == Decimal(100)
    assert cycle["requirement_met"] is False
    (entry,) = cycle["entries"]
    assert (entry["reason"], Decimal(entry["credits"]), entry["unit"]) == ("award", 15, "pd_hours")

    assert await revoke(registry, actors, decision) == 200
    events = await stream(registry, educator, at_least=4)
    posted = of(RenewalCreditsPosted, events)
    assert [(p.reason, p.renewal_credits, p.credits) for p in posted] == [
        (CreditPostingReason.AWARD, Decimal("20.00"), Decimal(15)),
        (CreditPostingReason.REVOCATION, Decimal("-20.00"), Decimal(-15)),
    ]
    assert posted[1].reverses_entry_id == posted[0].ledger_entry_id
    assert {p.certificate_cycle for p in posted} == {"2025-2030"}
    assert [type(e) for e in events] == [
        CredentialAwarded,
        RenewalCreditsPosted,
        CredentialRevoked,
        RenewalCreditsPosted,
    ]
    ledger = (
        await registry.client.get(f"/educators/{educator}/renewal-credits", headers=me)
    ).json()
    assert Decimal(ledger["cycles"][0]["renewal_credits"]) == 0
    entries = await rows(
        registry, sa.select(renewal_ledger.c.reason).where(renewal_ledger.c.educator_id == educator)
    )
    assert sorted(r.reason for r in entries) == ["award", "revocation"]


async def test_the_roster_license_fixes_the_cycle_and_ceus_convert_at_ten(registry, actors: Actors):
    mc_id = await actors.published_mc(mc_spec_data(credits={"value": "1.5", "unit": "ceu"}))
    educator = unique_name("SC")
    registered = EducatorRegistered(
        educator_id=educator,
        first_name="Ada",
        last_name="Lovelace",
        email="ada@example.org",
        district_id="district-7",
        role=StaffRole.TEACHER,
        license=License(number="L-1", license_type="professional", expires_on=date(2027, 12, 31)),
        registered_at=datetime(2025, 1, 1, tzinfo=UTC),
    )
    assert await processed(registry, await publish(registry, registered))
    await award(registry, mc_id, educator)

    (posted,) = of(RenewalCreditsPosted, await stream(registry, educator, at_least=2))
    assert posted.renewal_credits == Decimal("15.00")
    assert posted.certificate_cycle == "2023-2027"  # 2023-01-01 .. 2027-12-31

    licensure = registry.auth("lic", Role.LICENSURE_SYSTEM)
    r = await registry.client.get(
        f"/educators/{educator}/renewal-credits?cycle=2023-2027", headers=licensure
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["license_expires_on"] == "2027-12-31"
    assert [c["certificate_cycle"] for c in body["cycles"]] == ["2023-2027"]
    r = await registry.client.get(
        f"/educators/{educator}/renewal-credits?cycle=2018-2023", headers=licensure
    )
    assert r.json()["cycles"] == []


async def test_an_award_not_for_license_renewal_posts_no_renewal_credits(registry, actors: Actors):
    mc_id = await actors.published_mc(mc_spec_data())
    educator = unique_name("SC")
    decision = decided(mc_id, educator_id=educator)
    assert await processed(
        registry, await publish(registry, enrolled(decision, Purpose.CURATED_PD))
    )
    assert await processed(registry, await publish(registry, decision))
    assert [type(e) for e in await stream(registry, educator, at_least=1)] == [CredentialAwarded]


async def test_only_the_educator_licensure_and_the_state_read_an_educators_records(
    registry, actors: Actors
):
    educator = unique_name("SC")
    client = registry.client
    for path in ("renewal-credits", "ed-fi/credentials", "clr", "stacks", "imports"):
        url = f"/educators/{educator}/{path}"
        assert (await client.get(url)).status_code == 401
        for caller in (
            registry.auth("other", Role.EDUCATOR, educator_id=unique_name("SC")),
            registry.auth("da", Role.DISTRICT_ADMIN, district_id="district-7"),
            registry.auth("pay", Role.PAYROLL_SYSTEM),
        ):
            assert (await client.get(url, headers=caller)).status_code == 403, path
    bad = await client.get(
        f"/educators/{educator}/renewal-credits?cycle=last",
        headers=registry.auth("lic", Role.LICENSURE_SYSTEM),
    )
    assert bad.status_code == 422
    # Nothing earned yet: an empty ledger, and no CLR to bundle.
    me = registry.auth("me", Role.EDUCATOR, educator_id=educator)
    r = await client.get(f"/educators/{educator}/renewal-credits", headers=me)
    assert (r.status_code, r.json()["cycles"]) == (200, [])
    assert (await client.get(f"/educators/{educator}/clr", headers=me)).status_code == 404


async def test_the_state_rules_are_public_data(registry):
    rules = (await registry.client.get("/licensure/rules")).json()
    assert (rules["state"], rules["cycle_years"], Decimal(rules["required_credits"])) == (
        "SC",
        5,
        120,
    )
    conversions = {
        u: (Decimal(c["per"]), Decimal(c["renewal_credits"]))
        for u, c in rules["conversions"].items()
    }
    assert conversions["ceu"] == (1, 10)
    assert conversions["semester_hours"] == (1, 20)
    assert conversions["contact_hours"] == (15, 20)


# -- Ed-Fi and CLR ---------------------------------------------------------------------------


async def test_ed_fi_and_clr_views_show_valid_credentials_and_standing_stacks(
    registry, actors: Actors
):
    first = await actors.published_mc(mc_spec_data(title="Wait Time"))
    second = await actors.published_mc(mc_spec_data(title="Probing Questions"))
    outside = await actors.published_mc(mc_spec_data(title="Exit Tickets"))
    stack_id = await published_stack(actors, [first, second], grants=[ENDORSEMENT])
    educator = unique_name("SC")
    a = await award(registry, first, educator)
    b = await award(registry, second, educator)
    c = await award(registry, outside, educator)
    assert await revoke(registry, actors, c) == 200  # revoked: in neither view

    state = registry.auth("sea", Role.STATE_ADMIN)
    edfi = await registry.client.get(f"/educators/{educator}/ed-fi/credentials", headers=state)
    assert edfi.status_code == 200, edfi.text
    by_type: dict[str, list[str]] = {}
    for credential in edfi.json()["credentials"]:
        assert credential["stateOfIssueStateAbbreviationDescriptor"].endswith("#SC")
        assert credential["staffCredentialAssociation"]["staffReference"] == {
            "staffUniqueId": educator
        }
        kind = credential["credentialTypeDescriptor"].rsplit("#", 1)[1]
        by_type.setdefault(kind, []).append(credential["credentialIdentifier"])
    assert sorted(by_type["Certification"]) == sorted(
        credential_id_for(d.enrollment_id) for d in (a, b)
    )
    assert len(by_type["Endorsement"]) == 1

    me = registry.auth("me", Role.EDUCATOR, educator_id=educator)
    r = await registry.client.get(f"/educators/{educator}/clr", headers=me)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["type"] == ["VerifiableCredential", "ClrCredential"]
    subject = doc["credentialSubject"]
    bundled = [vc["id"] for vc in subject["verifiableCredential"]]
    assert sorted(bundled) == sorted(
        f"urn:uuid:{credential_id_for(d.enrollment_id)}" for d in (a, b)
    )
    (program,) = subject["achievement"]
    assert program["id"].endswith(f"/stacks/{stack_id}/versions/1")
    targets = {assoc["targetId"] for assoc in subject["association"]}
    assert targets == {
        vc["credentialSubject"]["achievement"]["id"] for vc in subject["verifiableCredential"]
    }
    assert {assoc["associationType"] for assoc in subject["association"]} == {"isParentOf"}
    assert educator not in r.text


# -- suspension, reinstatement, reissue, revocation requested by review ----------------------


async def post(registry: RunningService, actors: Actors, decision: Decided, action: str, **body):
    r = await registry.client.post(
        f"/credentials/{credential_id_for(decision.enrollment_id)}/{action}",
        json=body,
        headers=actors.admin,
    )
    assert r.status_code in (200, 201), r.text
    return r.json()


async def test_a_suspension_takes_the_credits_back_until_reinstated_and_keeps_the_stack(
    registry, actors: Actors
):
    first = await actors.published_mc(mc_spec_data(title="Wait Time"))
    second = await actors.published_mc(mc_spec_data(title="Probing Questions"))
    await published_stack(actors, [first, second], grants=[DESIGNATION])
    educator = unique_name("SC")
    a = await award(registry, first, educator)
    await award(registry, second, educator)

    await post(registry, actors, a, "suspend", reason="investigation")
    await post(registry, actors, a, "reinstate", reason="cleared")
    await post(registry, actors, a, "suspend", reason="second investigation")
    assert await revoke(registry, actors, a) == 200  # nothing left to take back

    events = await stream(registry, educator, at_least=13)
    own = [
        p
        for p in of(RenewalCreditsPosted, events)
        if p.credential_id == credential_id_for(a.enrollment_id)
    ]
    assert [(p.reason, p.renewal_credits) for p in own] == [
        (CreditPostingReason.AWARD, Decimal("20.00")),
        (CreditPostingReason.SUSPENSION, Decimal("-20.00")),
        (CreditPostingReason.REINSTATEMENT, Decimal("20.00")),
        (CreditPostingReason.SUSPENSION, Decimal("-20.00")),
    ]
    assert own[2].reverses_entry_id == own[1].ledger_entry_id
    # The suspensions did not reverse the stack; the revocation did, once.
    assert len(of(StackCompleted, events)) == 1
    assert len(of(StackCompletionReversed, events)) == 1
    ledger = (
        await registry.client.get(
            f"/educators/{educator}/renewal-credits", headers=registry.auth("s", Role.STATE_ADMIN)
        )
    ).json()
    assert Decimal(ledger["cycles"][0]["renewal_credits"]) == Decimal(20)  # the second award


async def test_revoking_a_reissued_credential_takes_back_the_credits_of_the_original(
    registry, actors: Actors
):
    mc_id = await actors.published_mc(
        mc_spec_data(credits={"value": "2", "unit": "semester_hours"})
    )
    educator = unique_name("SC")
    decision = await award(registry, mc_id, educator)
    reissued = await post(registry, actors, decision, "reissue", reason="name corrected")
    r = await registry.client.post(
        f"/credentials/{reissued['credential_id']}/revoke",
        json={"reason": "issued_in_error"},
        headers=actors.admin,
    )
    assert r.status_code == 200, r.text
    events = await stream(registry, educator, at_least=5)
    posted = of(RenewalCreditsPosted, events)
    assert [(p.reason, p.renewal_credits, p.credential_id) for p in posted] == [
        (CreditPostingReason.AWARD, Decimal("40.00"), credential_id_for(decision.enrollment_id)),
        (CreditPostingReason.REVOCATION, Decimal("-40.00"), reissued["credential_id"]),
    ]


async def test_a_revocation_requested_by_review_reverses_stack_and_credits_once(
    registry, actors: Actors
):
    first = await actors.published_mc(mc_spec_data(title="Wait Time"))
    second = await actors.published_mc(mc_spec_data(title="Probing Questions"))
    await published_stack(actors, [first, second], grants=[ENDORSEMENT])
    educator = unique_name("SC")
    a = await award(registry, first, educator)
    await award(registry, second, educator)
    request = RevocationRequested(
        request_id=unique_name("req"),
        enrollment_id=a.enrollment_id,
        submission_id=a.submission_id,
        educator_id=educator,
        micro_credential_id=first,
        kind=MisconductKind.PLAGIARISM,
        approver_id="approver-1",
        requested_at=datetime(2026, 4, 1, tzinfo=UTC),
    )
    delivered = await publish(registry, request)
    await publish(registry, request, event_id=delivered)  # redelivered
    again = await publish(registry, request)  # the same request again, as another event
    assert await processed(registry, delivered, again)

    # 2 awards, 2 postings, completion, eligibility, revocation, reversal, negative posting.
    events = await stream(registry, educator, at_least=9)
    assert len(of(CredentialRevoked, events)) == 1
    assert len(of(StackCompletionReversed, events)) == 1
    reversals = [p for p in of(RenewalCreditsPosted, events) if p.renewal_credits < 0]
    assert [p.credential_id for p in reversals] == [credential_id_for(a.enrollment_id)]


# -- portability -----------------------------------------------------------------------------

OTHER_STATE_KEY = Ed25519PrivateKey.generate()
OTHER_STATE_MULTIKEY = proofs.public_key_multibase(OTHER_STATE_KEY.public_key())
OTHER_STATE = f"did:key:{OTHER_STATE_MULTIKEY}"
FOREIGN_ACHIEVEMENT = "https://badges.other-state.example/achievements/checks-for-understanding"


def foreign_badge(educator_id: str, *, sign: bool = True, **overrides: Any) -> dict[str, Any]:
    """An OB 3.0 credential another state issued to the educator, signed with a did:key."""
    salt = "f00d"
    doc: dict[str, Any] = {
        "@context": [
            openbadges.VC_V2_CONTEXT,
            openbadges.OB_V3_CONTEXT,
            openbadges.OB_EXTENSIONS_CONTEXT,
        ],
        "id": f"urn:uuid:{uuid.uuid4()}",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": OTHER_STATE, "type": ["Profile"], "name": "Other State DOE"},
        "validFrom": "2026-02-01T00:00:00Z",
        "awardedDate": "2026-02-01T00:00:00Z",
        "name": "Checks for Understanding",
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "identifier": [
                {
                    "type": "IdentityObject",
                    "identityType": "identifier",
                    "hashed": True,
                    "identityHash": openbadges.identity_hash(educator_id, salt),
                    "salt": salt,
                }
            ],
            "achievement": {
                "id": FOREIGN_ACHIEVEMENT,
                "type": ["Achievement"],
                "achievementType": "MicroCredential",
                "name": "Checks for Understanding",
                "description": "Frequent checks for understanding during instruction.",
                "criteria": {"narrative": "Lesson video and reflection, scored on a rubric."},
            },
        },
        "credentialSchema": [
            {"id": openbadges.OB_SCHEMA, "type": "1EdTechJsonSchemaValidator2019"}
        ],
    }
    doc.update(overrides)
    if not sign:
        return doc
    return proofs.sign(
        doc, OTHER_STATE_KEY, f"{OTHER_STATE}#{OTHER_STATE_MULTIKEY}", datetime.now(UTC)
    )


async def test_state_admins_keep_the_recognition_rules(registry, actors: Actors):
    client = registry.client
    rule = {
        "rule_id": unique_name("rule").lower(),
        "external_issuer_id": OTHER_STATE,
        "achievement_name": "Some Other Badge",
        "credits": {"value": "1", "unit": "ceu"},
    }
    issuer = actors.issuer
    assert (
        await client.post("/licensure/recognition-rules", json=rule, headers=issuer)
    ).status_code == 403
    r = await client.post("/licensure/recognition-rules", json=rule, headers=actors.admin)
    assert r.status_code == 201, r.text
    again = await client.post("/licensure/recognition-rules", json=rule, headers=actors.admin)
    assert again.status_code == 409
    for bad in (
        {**rule, "rule_id": "x-" + rule["rule_id"], "achievement_name": None},  # matches nothing
        {**rule, "rule_id": "y-" + rule["rule_id"], "equivalent_micro_credential_id": "nope"},
        {**rule, "rule_id": "z-" + rule["rule_id"], "credits": {"value": "-1", "unit": "ceu"}},
        {**rule, "rule_id": "w-" + rule["rule_id"], "surprise": True},
    ):
        r = await client.post("/licensure/recognition-rules", json=bad, headers=actors.admin)
        assert r.status_code == 422, (bad, r.text)
    listed = (await client.get("/licensure/recognition-rules")).json()
    assert [r["rule_id"] for r in listed].count(rule["rule_id"]) == 1


async def test_a_verified_foreign_credential_is_recognised_once_and_posts_its_credits_once(
    registry, actors: Actors
):
    equivalent = await actors.published_mc(mc_spec_data(title="Checks for Understanding"))
    rule = {
        "rule_id": unique_name("rule").lower(),
        "external_issuer_id": OTHER_STATE,
        "external_achievement_id": FOREIGN_ACHIEVEMENT,
        "equivalent_micro_credential_id": equivalent,
        "credits": {"value": "1.5", "unit": "ceu"},
    }
    r = await registry.client.post("/licensure/recognition-rules", json=rule, headers=actors.admin)
    assert r.status_code == 201, r.text
    other = await actors.published_mc(
        mc_spec_data(title="Wait Time", allowed_purposes=["curated_pd"])
    )
    await published_stack(actors, [equivalent, other], grants=[DESIGNATION])
    educator = unique_name("SC")
    earned_here = await award(registry, other, educator)  # no renewal credits (curated PD)
    me = registry.auth("me", Role.EDUCATOR, educator_id=educator, district_id="district-9")
    badge = foreign_badge(educator)
    url = f"/educators/{educator}/imports"

    r = await registry.client.post(url, json={"credential": badge}, headers=me)
    assert r.status_code == 201, r.text
    imported = r.json()
    assert (imported["proof_status"], imported["recognition_status"]) == ("verified", "recognized")
    assert (imported["rule_id"], imported["equivalent_micro_credential_id"]) == (
        rule["rule_id"],
        equivalent,
    )
    again = await registry.client.post(url, json={"credential": badge}, headers=me)
    assert again.status_code == 200
    assert again.json()["import_id"] == imported["import_id"]

    events = await stream(registry, educator, at_least=3)
    (posted,) = of(RenewalCreditsPosted, events)
    assert (posted.credential_id, posted.renewal_credits, posted.district_id) == (
        imported["import_id"],
        Decimal("15.00"),
        "district-9",
    )
    assert posted.certificate_cycle == "2025-2030"  # awarded 2026-02-01
    # Recognised as its equivalent micro-credential, it completes the stack with the award.
    (completed,) = of(StackCompleted, events)
    assert set(completed.member_credential_ids) == {
        credential_id_for(earned_here.enrollment_id),
        imported["import_id"],
    }
    listed = (await registry.client.get(url, headers=me)).json()
    assert [i["import_id"] for i in listed] == [imported["import_id"]]
    # The CLR bundles the imported badge as its issuer signed it, linked to the stack.
    subject = (await registry.client.get(f"/educators/{educator}/clr", headers=me)).json()[
        "credentialSubject"
    ]
    assert badge in subject["verifiableCredential"]
    assert FOREIGN_ACHIEVEMENT in {a["targetId"] for a in subject["association"]}


async def test_a_foreign_credential_is_refused_unless_it_is_valid_verified_and_the_educators(
    registry, actors: Actors
):
    educator = unique_name("SC")
    me = registry.auth("me", Role.EDUCATOR, educator_id=educator)
    url = f"/educators/{educator}/imports"
    tampered = foreign_badge(educator)
    tampered["credentialSubject"]["achievement"]["name"] = "Something Else Entirely"
    no_subject = foreign_badge(educator)
    del no_subject["credentialSubject"]
    cases = {
        "proof": tampered,
        "schema": no_subject,
        "validity": foreign_badge(educator, validUntil="2026-02-02T00:00:00Z"),
        "does not name this educator": foreign_badge(unique_name("SC")),
        "no proof": foreign_badge(educator, sign=False),
    }
    for expected, document in cases.items():
        r = await registry.client.post(url, json={"credential": document}, headers=me)
        assert r.status_code == 422, (expected, r.text)
        assert expected in r.json()["detail"], (expected, r.text)
    assert (await registry.client.get(url, headers=me)).json() == []
    # Not the educator's own account.
    other = registry.auth("o", Role.EDUCATOR, educator_id=unique_name("SC"))
    r = await registry.client.post(url, json={"credential": foreign_badge(educator)}, headers=other)
    assert r.status_code == 403
    assert (await registry.client.get(url, headers=me)).json() == []


async def test_a_credential_whose_key_needs_the_network_waits_and_one_without_rule_earns_nothing(
    registry, actors: Actors
):
    educator = unique_name("SC")
    state = registry.auth("sea", Role.STATE_ADMIN)
    url = f"/educators/{educator}/imports"
    key = Ed25519PrivateKey.generate()
    remote = proofs.sign(
        foreign_badge(educator, sign=False),
        key,
        "https://badges.other-state.example/keys/1",
        datetime.now(UTC),
    )
    r = await registry.client.post(url, json={"credential": remote}, headers=state)
    assert r.status_code == 201, r.text
    assert (r.json()["proof_status"], r.json()["recognition_status"]) == (
        "unchecked",
        "pending_verification",
    )
    assert r.json()["credits"] is None

    unknown = foreign_badge(
        educator,
        credentialSubject={
            **foreign_badge(educator, sign=False)["credentialSubject"],
            "achievement": {
                **foreign_badge(educator, sign=False)["credentialSubject"]["achievement"],
                "id": "https://badges.other-state.example/achievements/unlisted",
                "name": "Unlisted Badge",
            },
        },
    )
    r = await registry.client.post(url, json={"credential": unknown}, headers=state)
    assert r.status_code == 201, r.text
    assert r.json()["recognition_status"] == "not_recognized"
    posted = await rows(
        registry,
        sa.select(renewal_ledger.c.entry_id).where(renewal_ledger.c.educator_id == educator),
    )
    assert posted == []


async def test_migration_0006_downgrades_and_upgrades_again_with_the_rules_seeded(infra):
    url = await fresh_database_async(infra, "registry_licensure_migrations")

    def round_trip() -> None:
        migrations.upgrade(MIGRATIONS, url, "0006")
        command.downgrade(migrations.config(MIGRATIONS, url), "0005")
        migrations.upgrade(MIGRATIONS, url, "0006")

    await asyncio.to_thread(round_trip)
    engine = create_async_engine(async_url(url))
    try:
        async with engine.connect() as conn:
            seeded = (await conn.execute(sa.select(renewal_rules))).all()
    finally:
        await engine.dispose()
    assert [(r.state, r.cycle_years, r.required_credits, r.in_force) for r in seeded] == [
        ("SC", 5, 120, True)
    ]
    assert seeded[0].conversions["ceu"] == {"per": "1", "renewal_credits": "10"}


async def test_state_admins_change_the_conversions_for_later_postings_only(
    registry, actors: Actors
):
    client = registry.client
    original = (await client.get("/licensure/rules")).json()
    body = {k: original[k] for k in ("cycle_years", "required_credits", "conversions")}
    for bad in (
        {
            **body,
            "conversions": {**body["conversions"], "ceu": {"per": "0", "renewal_credits": "1"}},
        },
        {**body, "conversions": {"furlongs": {"per": "1", "renewal_credits": "1"}}},
        {**body, "cycle_years": 0},
        {**body, "state": "TX"},
    ):
        r = await client.put("/licensure/rules", json=bad, headers=actors.admin)
        assert r.status_code == 422, (bad, r.text)
    assert (
        await client.put("/licensure/rules", json=body, headers=actors.issuer)
    ).status_code == 403
    assert (await client.get("/licensure/rules")).json() == original  # nothing changed

    mc_id = await actors.published_mc(
        mc_spec_data(credits={"value": "10", "unit": "contact_hours"})
    )
    educator = unique_name("SC")
    before = await award(registry, mc_id, educator)  # 10 contact hours at 15 = 20: 13.33
    changed = {
        **body,
        "conversions": {
            **body["conversions"],
            "contact_hours": {"per": "10", "renewal_credits": "20"},
        },
    }
    try:
        r = await client.put("/licensure/rules", json=changed, headers=actors.admin)
        assert r.status_code == 200, r.text
        assert r.json()["conversions"]["contact_hours"] == {"per": "10", "renewal_credits": "20"}
        after = await award(registry, mc_id, educator)
    finally:
        r = await client.put("/licensure/rules", json=body, headers=actors.admin)
        assert r.status_code == 200, r.text
    posted = of(RenewalCreditsPosted, await stream(registry, educator, at_least=4))
    assert {p.credential_id: p.renewal_credits for p in posted} == {
        credential_id_for(before.enrollment_id): Decimal("13.33"),
        credential_id_for(after.enrollment_id): Decimal("20.00"),
    }
