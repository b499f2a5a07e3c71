"""What an award or a revocation causes beyond the credential itself, in the same transaction:
stack completions (and their reversal), endorsement eligibility, and renewal-credit postings.

Called from the award path (:func:`registry.service_layer.awards.record_award`, itself
exactly-once per enrollment) and the revocation path. Every effect also has its own business
key in the database (one standing completion per educator and stack, one ledger entry per
posting key), and every outgoing event a deterministic id derived from it, so a redelivered
event or a retried command can neither complete a stack twice nor post credits twice.

What counts (documented policy):

- Renewal credits are posted for an award whose purpose is ``license_renewal`` (what the award
  counts for: :func:`registry.domain.awards.choose_purpose`), converted by the state's rules
  in force (:mod:`registry.domain.licensure`); other purposes post nothing.
- A stack completes when an award (or a recognised import, as its equivalent micro-credential)
  makes the educator's valid credentials satisfy the rule of the stack's latest approved
  version, and when a newly published stack version is already satisfied
  (:func:`complete_published_stack`). At most one completion of a stack stands per educator,
  whatever the version.
- An expired credential no longer counts towards completing a stack, but expiry reverses
  nothing: it is not a revocation.

Reversal semantics (documented policy):

- A revocation reverses each standing completion whose stack rule the educator's remaining
  valid credentials no longer satisfy: one ``stack_completion_reversed`` per completion,
  carrying the grants it had granted. That event also withdraws any endorsement eligibility
  the completion gave (``endorsement_eligible`` names the completion; there is no separate
  "ineligible" event).
- A revocation posts one negative ``renewal_credits_posted`` taking back what the credential
  still counts for (its net balance), in the cycle the credits were posted to.
- A suspension takes the credits back the same way (reason ``suspension``) and the
  reinstatement that ends it gives them back (reason ``reinstatement``, pointing at the
  suspension entry); a revocation of a suspended credential then has nothing left to take.
  A suspension does not reverse stack completions (it may be lifted); a suspended credential
  does not count towards completing a stack.
- A reissued credential is the same award: it completes and posts nothing again, and a later
  revocation of it takes back what was posted under the credential it replaced.
- A recognised import that its issuer revoked (found by a recheck:
  :func:`registry.service_layer.portability.recheck_import`) is reversed like a revoked award:
  the completions it no longer satisfies (:func:`reverse_broken_stacks`) and its credits
  (posting key ``import-revocation:<import id>``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from mc_events import audit
from mc_events.contracts.base import Event
from mc_events.contracts.common import Credits, Purpose
from mc_events.contracts.registry import (
    CreditPostingReason,
    EndorsementEligible,
    RenewalCreditsPosted,
    StackCompleted,
    StackCompletionReversed,
)
from mc_events.outbox import add_event, add_events
from registry.adapters.catalog_repository import CatalogRepository
from registry.adapters.licensure_repository import (
    Completion,
    LicensureRepository,
    RenewalContext,
    StackProgress,
)
from registry.domain import stacks as stack_rules
from registry.domain.awards import Award
from registry.domain.catalog import Stack
from registry.domain.licensure import LedgerEntry, NoConversion
from registry.service_layer.catalog import event_id

log = logging.getLogger(__name__)


class Outgoing:
    """Events to publish, kept in order and written together (:func:`add_events`: two
    statements however many). For events whose key the transaction has already written to, so
    that writing them later takes no lock in a different order."""

    def __init__(self) -> None:
        self._events: list[Event] = []
        self._ids: list[str | None] = []

    def add(self, event: Event, event_id: str) -> None:
        self._events.append(event)
        self._ids.append(event_id)

    async def write(self, session: AsyncSession) -> None:
        if self._events:
            await add_events(session, self._events, event_ids=self._ids)
        self._events, self._ids = [], []


async def _emit(
    session: AsyncSession, outgoing: Outgoing | None, event: Event, event_id: str
) -> None:
    if outgoing is None:
        await add_event(session, event, event_id=event_id)
    else:
        outgoing.add(event, event_id)


# -- awards ----------------------------------------------------------------------------------


async def after_award(
    session: AsyncSession, award: Award, now: datetime, *, trail: audit.Appender | None = None
) -> None:
    """Complete the stacks the award completes and post its renewal credits. A reissued
    credential is the same award in a new document: it completes and posts nothing again.
    The events go out together at the end (the award's ``credential_awarded``, on the same
    key, is already written); audit records go to ``trail`` if given (the caller flushes it)."""
    if award.reissued_from is not None:
        return
    repo = LicensureRepository(session)
    await repo.lock_educator(award.educator_id)
    context = await repo.after_award(award.educator_id, award.micro_credential_id, now)
    outgoing = Outgoing()
    new = NewCredential(
        award.credential_id,
        award.educator_id,
        award.district_id,
        award.micro_credential_id,
        award.awarded_at,
    )
    for stack in context.stacks:
        await complete_stack(
            session,
            repo,
            stack,
            new,
            now,
            progress=context.progress,
            outgoing=outgoing,
            trail=trail,
        )
    if award.purpose is Purpose.LICENSE_RENEWAL:
        await post_credits(
            session,
            repo,
            posting_key=f"award:{award.credential_id}",
            educator_id=award.educator_id,
            district_id=award.district_id,
            credential_id=award.credential_id,
            credits=award.credits,
            earned_on=award.awarded_at.date(),
            reason=CreditPostingReason.AWARD,
            now=now,
            outgoing=outgoing,
            renewal_context=context.renewal,
        )
    await outgoing.write(session)


@dataclass(frozen=True)
class NewCredential:
    """A credential that may complete stacks: an award, or a recognised import counting as
    its equivalent state micro-credential."""

    credential_id: str
    educator_id: str
    district_id: str
    micro_credential_id: str
    at: datetime


async def complete_stacks(
    session: AsyncSession, repo: LicensureRepository, new: NewCredential, now: datetime
) -> None:
    """Record (and announce) every stack ``new`` completes; the caller holds the educator's
    lock (:meth:`LicensureRepository.lock_educator`)."""
    stacks = await CatalogRepository(session).approved_stacks_containing(new.micro_credential_id)
    if not stacks:
        return
    members = sorted({m for stack in stacks for m in stack.definition.member_micro_credential_ids})
    progress = await repo.stack_progress(
        new.educator_id, [stack.id for stack in stacks], members, now
    )
    for stack in stacks:
        await complete_stack(session, repo, stack, new, now, progress=progress)


async def complete_stack(
    session: AsyncSession,
    repo: LicensureRepository,
    stack: Stack,
    new: NewCredential,
    now: datetime,
    *,
    progress: StackProgress | None = None,
    outgoing: Outgoing | None = None,
    trail: audit.Appender | None = None,
) -> bool:
    """Record (and announce) the completion of ``stack`` if the educator's valid credentials
    satisfy its rule and no completion of it stands; whether one was recorded. ``progress``
    is where the educator stood (on this stack among others) after ``new``, if already read."""
    spec = stack.definition
    members = spec.member_micro_credential_ids
    if progress is None:
        progress = await repo.stack_progress(new.educator_id, [stack.id], list(members), now)
    if stack.id in progress.standing:
        return False
    satisfied = stack_rules.satisfying_credentials(spec.rule, members, progress.held)
    if satisfied is None:
        return False
    completion = Completion(
        completion_id=event_id(
            "stack_completion", new.educator_id, stack.id, stack.version, new.credential_id
        ),
        educator_id=new.educator_id,
        district_id=new.district_id,
        stack_id=stack.id,
        stack_version=stack.version,
        stack_name=spec.name,
        members=members,
        member_credential_ids=satisfied,
        grants=spec.grants,
        completed_at=new.at,
    )
    if not await repo.add_completion(completion):
        return False
    await _emit(
        session,
        outgoing,
        StackCompleted(
            stack_completion_id=completion.completion_id,
            stack_id=completion.stack_id,
            stack_version=completion.stack_version,
            stack_name=completion.stack_name,
            educator_id=completion.educator_id,
            district_id=completion.district_id,
            grants=completion.grants,
            member_credential_ids=completion.member_credential_ids,
            completed_at=completion.completed_at,
        ),
        event_id=event_id("stack_completed", completion.completion_id),
    )
    for grant in stack_rules.endorsements(completion.grants):
        eligibility_id = event_id("endorsement_eligibility", completion.completion_id, grant.code)
        await _emit(
            session,
            outgoing,
            EndorsementEligible(
                eligibility_id=eligibility_id,
                educator_id=completion.educator_id,
                district_id=completion.district_id,
                endorsement_code=grant.code,
                endorsement_name=grant.name,
                stack_id=completion.stack_id,
                stack_completion_id=completion.completion_id,
                credential_ids=completion.member_credential_ids,
                determined_at=completion.completed_at,
            ),
            event_id=event_id("endorsement_eligible", eligibility_id),
        )
    appender = trail or audit.Appender(session)
    await appender.append(
        actor=f"credential:{new.credential_id}",
        action="stack.completed",
        object_type="stack_completion",
        object_id=completion.completion_id,
        details={
            "stack": f"{completion.stack_id}@v{completion.stack_version}",
            "credentials": list(completion.member_credential_ids),
            "grants": [g.code for g in completion.grants],
        },
        chain=f"educator:{completion.educator_id}",
        at=now,
    )
    if trail is None:
        await appender.flush()
    return True


async def complete_published_stack(
    session: AsyncSession, stack_id: str, version: int, approved_at: datetime, now: datetime
) -> int:
    """A newly published stack version completes for every educator whose valid credentials
    already satisfy it (they earned the members before the pathway existed); how many.

    No educator lock here: an award racing this pass either sees the approval and completes
    the stack itself, or commits before this pass reads; the one-standing-completion index
    keeps a double completion out either way."""
    catalog = CatalogRepository(session)
    stack = await catalog.latest_approved_stack(stack_id)
    if stack is None or stack.version != version:
        return 0  # retired since, or a later version superseded it
    repo = LicensureRepository(session)
    completed = 0
    members = list(stack.definition.member_micro_credential_ids)
    for educator_id, district_id, latest in await repo.holders_of(members, now):
        new = NewCredential(latest, educator_id, district_id, members[0], approved_at)
        completed += await complete_stack(session, repo, stack, new, now)
    return completed


# -- revocations -----------------------------------------------------------------------------


async def after_revocation(session: AsyncSession, award: Award, now: datetime) -> None:
    """Reverse the stack completions the revocation breaks and take the credits back. Call it
    after the credential's revoked status is saved (it must no longer count as valid)."""
    repo = LicensureRepository(session)
    await repo.lock_educator(award.educator_id)
    await reverse_broken_stacks(
        session,
        repo,
        educator_id=award.educator_id,
        district_id=award.district_id,
        micro_credential_id=award.micro_credential_id,
        credential_id=award.credential_id,
        now=now,
    )
    await reverse_credits(
        session,
        repo,
        credential_id=award.credential_id,
        posting_key=f"revocation:{award.credential_id}",
        reason=CreditPostingReason.REVOCATION,
        now=now,
    )


async def reverse_broken_stacks(
    session: AsyncSession,
    repo: LicensureRepository,
    *,
    educator_id: str,
    district_id: str,
    micro_credential_id: str,
    credential_id: str,
    now: datetime,
) -> int:
    """Reverse (and announce, once each) the educator's standing completions with the member
    ``micro_credential_id`` that their remaining valid credentials no longer satisfy, now that
    ``credential_id`` (an award, or a recognised import) no longer counts; how many. The
    caller holds the educator's lock and has saved the credential's new status."""
    catalog = CatalogRepository(session)
    reversed_count = 0
    for completion in await repo.standing_completions_with_member(educator_id, micro_credential_id):
        stack = await catalog.get_stack(completion.stack_id, completion.stack_version)
        assert stack is not None, "a completion names a stack version that exists"
        held = await repo.valid_credentials(educator_id, list(completion.members), now)
        if stack_rules.satisfying_credentials(stack.definition.rule, completion.members, held):
            continue  # still complete (another credential of that member, or n of m held)
        if not await repo.reverse_completion(completion.completion_id, now, credential_id):
            continue
        reversed_count += 1
        await add_event(
            session,
            StackCompletionReversed(
                stack_completion_id=completion.completion_id,
                stack_id=completion.stack_id,
                stack_version=completion.stack_version,
                educator_id=completion.educator_id,
                district_id=district_id,
                grants=completion.grants,
                revoked_credential_id=credential_id,
                reversed_at=now,
            ),
            event_id=event_id("stack_completion_reversed", completion.completion_id),
        )
        await audit.append(
            session,
            actor=f"credential:{credential_id}",
            action="stack.completion_reversed",
            object_type="stack_completion",
            object_id=completion.completion_id,
            details={"revoked_credential": credential_id},
            chain=f"educator:{completion.educator_id}",
            at=now,
        )
    return reversed_count


# -- suspension and reinstatement ------------------------------------------------------------


async def after_suspension(
    session: AsyncSession, award: Award, suspended_at: datetime, now: datetime
) -> None:
    """Take the credential's renewal credits back while it is suspended (it does not verify as
    valid, so it must not count towards a renewal). Stack completions stand: a suspension may
    be lifted, and only a revocation reverses a completion."""
    repo = LicensureRepository(session)
    await repo.lock_educator(award.educator_id)
    await reverse_credits(
        session,
        repo,
        credential_id=award.credential_id,
        posting_key=f"suspension:{award.credential_id}:{suspended_at.isoformat()}",
        reason=CreditPostingReason.SUSPENSION,
        now=now,
    )


async def after_reinstatement(
    session: AsyncSession, award: Award, suspended_at: datetime, now: datetime
) -> None:
    """Give back what the suspension that started at ``suspended_at`` took (once)."""
    repo = LicensureRepository(session)
    await repo.lock_educator(award.educator_id)
    entries = await repo.entries_for_credentials(await repo.credential_lineage(award.credential_id))
    suspension_key = f"suspension:{award.credential_id}:{suspended_at.isoformat()}"
    taken = next((e for e in entries if e.posting_key == suspension_key), None)
    if taken is None:
        return  # the suspension took nothing (no credits, or already revoked)
    posting_key = f"reinstatement:{award.credential_id}:{suspended_at.isoformat()}"
    entry = LedgerEntry(
        entry_id=event_id("renewal_ledger_entry", posting_key),
        posting_key=posting_key,
        educator_id=taken.educator_id,
        district_id=taken.district_id,
        credential_id=award.credential_id,
        state=taken.state,
        credits=-taken.credits,
        unit=taken.unit,
        renewal_credits=-taken.renewal_credits,
        cycle=taken.cycle,
        reason=CreditPostingReason.REINSTATEMENT.value,
        reverses_entry_id=taken.entry_id,
        posted_at=now,
    )
    if await repo.add_entry(entry):
        await _publish(session, entry)


# -- the ledger ------------------------------------------------------------------------------


async def _publish(
    session: AsyncSession, entry: LedgerEntry, outgoing: Outgoing | None = None
) -> None:
    await _emit(
        session,
        outgoing,
        RenewalCreditsPosted(
            ledger_entry_id=entry.entry_id,
            educator_id=entry.educator_id,
            district_id=entry.district_id,
            credential_id=entry.credential_id,
            credits=entry.credits,
            unit=entry.unit,
            renewal_credits=entry.renewal_credits,
            certificate_cycle=entry.cycle.label,
            reason=CreditPostingReason(entry.reason),
            reverses_entry_id=entry.reverses_entry_id,
            posted_at=entry.posted_at,
        ),
        event_id=event_id("renewal_credits_posted", entry.posting_key),
    )


async def post_credits(
    session: AsyncSession,
    repo: LicensureRepository,
    *,
    posting_key: str,
    educator_id: str,
    district_id: str,
    credential_id: str,
    credits: Credits,
    earned_on: date,
    reason: CreditPostingReason,
    now: datetime,
    outgoing: Outgoing | None = None,
    renewal_context: RenewalContext | None = None,
) -> LedgerEntry | None:
    """Post ``credits`` (converted by the state's rules) once per ``posting_key``; None when
    nothing was posted (no amount, no rules in force, or already posted). With ``outgoing``,
    the event is left there for the caller to write; ``renewal_context`` is the educator's
    :class:`RenewalContext` if already read (under the educator's lock)."""
    if credits.value == 0:
        return None
    context = renewal_context or await repo.renewal_context(educator_id)
    rules = context.rules
    if rules is None:
        log.warning("no renewal rules in force: %s posts no renewal credits", posting_key)
        return None
    try:
        renewal = rules.to_renewal_credits(credits)
    except NoConversion as exc:
        # The award stands; the state's rules do not count this unit (an operator adds it).
        log.warning("%s posts no renewal credits: %s", posting_key, exc)
        return None
    cycle = rules.cycle_for(
        earned_on,
        license_expires_on=context.license_expires_on,
        anchor=context.first_cycle_start,
    )
    entry = LedgerEntry(
        entry_id=event_id("renewal_ledger_entry", posting_key),
        posting_key=posting_key,
        educator_id=educator_id,
        district_id=district_id,
        credential_id=credential_id,
        state=rules.state,
        credits=credits.value,
        unit=credits.unit,
        renewal_credits=renewal,
        cycle=cycle,
        reason=reason.value,
        reverses_entry_id=None,
        posted_at=now,
    )
    if not await repo.add_entry(entry):
        return None
    await _publish(session, entry, outgoing)
    return entry


async def reverse_credits(
    session: AsyncSession,
    repo: LicensureRepository,
    *,
    credential_id: str,
    posting_key: str,
    reason: CreditPostingReason,
    now: datetime,
) -> LedgerEntry | None:
    """Take back what ``credential_id`` still counts for (its net balance), once per
    ``posting_key``, in the cycle it was posted to; None if there is nothing to take back."""
    entries = await repo.entries_for_credentials(await repo.credential_lineage(credential_id))
    net = sum((e.renewal_credits for e in entries), Decimal(0))
    if not entries or net <= 0:
        return None
    original = [e for e in entries if e.renewal_credits > 0][-1]
    entry = LedgerEntry(
        entry_id=event_id("renewal_ledger_entry", posting_key),
        posting_key=posting_key,
        educator_id=original.educator_id,
        district_id=original.district_id,
        credential_id=credential_id,
        state=original.state,
        credits=-sum((e.credits for e in entries), Decimal(0)),
        unit=original.unit,
        renewal_credits=-net,
        cycle=original.cycle,
        reason=reason.value,
        reverses_entry_id=original.entry_id,
        posted_at=now,
    )
    if not await repo.add_entry(entry):
        return None
    await _publish(session, entry)
    return entry
