"""Licensure: stack completions and endorsement eligibility, the renewal-credit ledger and the
state's renewal rules, and what licensure and HR systems read of an educator (the ledger, the
Ed-Fi view, the Comprehensive Learner Record).

What an award or a revocation causes beyond the credential itself happens here, in the same
transaction: called from the award path (:func:`registry.service_layer.credentials.record_award`,
itself exactly-once per enrollment), the status changes and imports, in their unit of work.
Every effect also has its own business key in the database (one standing completion per
educator and stack, one ledger entry per posting key), and every outgoing event a
deterministic id derived from it, so a redelivered event or a retried command can neither
complete a stack twice nor post credits twice.

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
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from mc_events.contracts.common import Credits, CreditUnit, Purpose
from mc_events.contracts.registry import (
    CreditPostingReason,
    EndorsementEligible,
    RenewalCreditsPosted,
    StackCompleted,
    StackCompletionReversed,
)
from mc_events.contracts.roster import EducatorRegistered, EducatorUpdated
from mc_platform.refusals import NotFound, Unavailable
from registry.adapters.licensure_repository import (
    Completion,
    RenewalContext,
    StackProgress,
)
from registry.domain import clr
from registry.domain import licensure as rules_of
from registry.domain import stacks as stack_rules
from registry.domain.awards import Award
from registry.domain.catalog import Stack
from registry.domain.ids import event_id
from registry.domain.licensure import Conversion, LedgerEntry, NoConversion, RenewalRules
from registry.domain.portability import validity_window
from registry.service_layer.issuing import Issuance, sign_awaiting
from registry.service_layer.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


# -- awards ----------------------------------------------------------------------------------


async def after_award(uow: UnitOfWork, award: Award, now: datetime) -> None:
    """Complete the stacks the award completes and post its renewal credits. A reissued
    credential is the same award in a new document: it completes and posts nothing again."""
    if award.reissued_from is not None:
        return
    await uow.licensure.lock_educator(award.educator_id)
    context = await uow.licensure.after_award(award.educator_id, award.micro_credential_id, now)
    new = NewCredential(
        award.credential_id,
        award.educator_id,
        award.district_id,
        award.micro_credential_id,
        award.awarded_at,
    )
    for stack in context.stacks:
        await complete_stack(uow, stack, new, now, progress=context.progress)
    if award.purpose is Purpose.LICENSE_RENEWAL:
        await post_credits(
            uow,
            posting_key=f"award:{award.credential_id}",
            educator_id=award.educator_id,
            district_id=award.district_id,
            credential_id=award.credential_id,
            credits=award.credits,
            earned_on=award.awarded_at.date(),
            reason=CreditPostingReason.AWARD,
            now=now,
            renewal_context=context.renewal,
        )


@dataclass(frozen=True)
class NewCredential:
    """A credential that may complete stacks: an award, or a recognised import counting as
    its equivalent state micro-credential."""

    credential_id: str
    educator_id: str
    district_id: str
    micro_credential_id: str
    at: datetime


async def complete_stacks(uow: UnitOfWork, new: NewCredential, now: datetime) -> None:
    """Record (and announce) every stack ``new`` completes; the caller holds the educator's
    lock (:meth:`~registry.adapters.licensure_repository.LicensureRepository.lock_educator`)."""
    stacks = await uow.catalog.approved_stacks_containing(new.micro_credential_id)
    if not stacks:
        return
    members = sorted({m for stack in stacks for m in stack.definition.member_micro_credential_ids})
    progress = await uow.licensure.stack_progress(
        new.educator_id, [stack.id for stack in stacks], members, now
    )
    for stack in stacks:
        await complete_stack(uow, stack, new, now, progress=progress)


async def complete_stack(
    uow: UnitOfWork,
    stack: Stack,
    new: NewCredential,
    now: datetime,
    *,
    progress: StackProgress | None = None,
) -> bool:
    """Record (and announce) the completion of ``stack`` if the educator's valid credentials
    satisfy its rule and no completion of it stands; whether one was recorded. ``progress``
    is where the educator stood (on this stack among others) after ``new``, if already read."""
    spec = stack.definition
    members = spec.member_micro_credential_ids
    if progress is None:
        progress = await uow.licensure.stack_progress(
            new.educator_id, [stack.id], list(members), now
        )
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
    if not await uow.licensure.add_completion(completion):
        return False
    uow.emit(
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
        uow.emit(
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
    uow.audit(
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
    return True


async def complete_published_stack(
    uow: UnitOfWork, stack_id: str, version: int, approved_at: datetime, now: datetime
) -> int:
    """A newly published stack version completes for every educator whose valid credentials
    already satisfy it (they earned the members before the pathway existed); how many.

    No educator lock here: an award racing this pass either sees the approval and completes
    the stack itself, or commits before this pass reads; the one-standing-completion index
    keeps a double completion out either way."""
    stack = await uow.catalog.latest_approved(Stack, stack_id)
    if stack is None or stack.version != version:
        return 0  # retired since, or a later version superseded it
    completed = 0
    members = list(stack.definition.member_micro_credential_ids)
    for holder in await uow.licensure.holders_of(members, now):
        new = NewCredential(
            holder.credential_id, holder.educator_id, holder.district_id, members[0], approved_at
        )
        completed += await complete_stack(uow, stack, new, now)
    return completed


# -- revocations -----------------------------------------------------------------------------


async def after_revocation(uow: UnitOfWork, award: Award, now: datetime) -> None:
    """Reverse the stack completions the revocation breaks and take the credits back. Call it
    after the credential's revoked status is saved (it must no longer count as valid)."""
    await uow.licensure.lock_educator(award.educator_id)
    await reverse_broken_stacks(
        uow,
        educator_id=award.educator_id,
        district_id=award.district_id,
        micro_credential_id=award.micro_credential_id,
        credential_id=award.credential_id,
        now=now,
    )
    await reverse_credits(
        uow,
        credential_id=award.credential_id,
        posting_key=f"revocation:{award.credential_id}",
        reason=CreditPostingReason.REVOCATION,
        now=now,
    )


async def reverse_broken_stacks(
    uow: UnitOfWork,
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
    repo = uow.licensure
    reversed_count = 0
    for completion in await repo.standing_completions_with_member(educator_id, micro_credential_id):
        stack = await uow.catalog.get(Stack, completion.stack_id, completion.stack_version)
        assert stack is not None, "a completion names a stack version that exists"
        held = await repo.valid_credentials(educator_id, list(completion.members), now)
        if stack_rules.satisfying_credentials(stack.definition.rule, completion.members, held):
            continue  # still complete (another credential of that member, or n of m held)
        if not await repo.reverse_completion(completion.completion_id, now, credential_id):
            continue
        reversed_count += 1
        uow.emit(
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
        uow.audit(
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
    uow: UnitOfWork, award: Award, suspended_at: datetime, now: datetime
) -> None:
    """Take the credential's renewal credits back while it is suspended (it does not verify as
    valid, so it must not count towards a renewal). Stack completions stand: a suspension may
    be lifted, and only a revocation reverses a completion."""
    await uow.licensure.lock_educator(award.educator_id)
    await reverse_credits(
        uow,
        credential_id=award.credential_id,
        posting_key=f"suspension:{award.credential_id}:{suspended_at.isoformat()}",
        reason=CreditPostingReason.SUSPENSION,
        now=now,
    )


async def after_reinstatement(
    uow: UnitOfWork, award: Award, suspended_at: datetime, now: datetime
) -> None:
    """Give back what the suspension that started at ``suspended_at`` took (once)."""
    repo = uow.licensure
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
        _publish(uow, entry)


# -- the ledger ------------------------------------------------------------------------------


def _publish(uow: UnitOfWork, entry: LedgerEntry) -> None:
    uow.emit(
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
    uow: UnitOfWork,
    *,
    posting_key: str,
    educator_id: str,
    district_id: str,
    credential_id: str,
    credits: Credits,
    earned_on: date,
    reason: CreditPostingReason,
    now: datetime,
    renewal_context: RenewalContext | None = None,
) -> LedgerEntry | None:
    """Post ``credits`` (converted by the state's rules) once per ``posting_key``; None when
    nothing was posted (no amount, no rules in force, or already posted). ``renewal_context``
    is the educator's :class:`RenewalContext` if already read (under the educator's lock)."""
    if credits.value == 0:
        return None
    context = renewal_context or await uow.licensure.renewal_context(educator_id)
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
    if not await uow.licensure.add_entry(entry):
        return None
    _publish(uow, entry)
    return entry


async def reverse_credits(
    uow: UnitOfWork,
    *,
    credential_id: str,
    posting_key: str,
    reason: CreditPostingReason,
    now: datetime,
) -> LedgerEntry | None:
    """Take back what ``credential_id`` still counts for (its net balance), once per
    ``posting_key``, in the cycle it was posted to; None if there is nothing to take back."""
    repo = uow.licensure
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
    _publish(uow, entry)
    return entry


# -- the roster and the catalog, as they arrive ----------------------------------------------


async def record_license(uow: UnitOfWork, event: EducatorRegistered | EducatorUpdated) -> None:
    """Keep the educator's license (its expiry fixes the certificate cycle renewal credits
    count for), district and email (to match the recipient of an imported credential)."""
    as_of = event.registered_at if isinstance(event, EducatorRegistered) else event.updated_at
    license_ = event.license
    await uow.licensure.record_license(
        educator_id=event.educator_id,
        district_id=event.district_id,
        email=event.email,
        license_number=license_.number if license_ else None,
        license_type=license_.license_type if license_ else None,
        expires_on=license_.expires_on if license_ else None,
        as_of=as_of,
    )


# -- the renewal rules -----------------------------------------------------------------------


class NoRulesInForce(Unavailable):
    """No state's renewal rules are in force (503)."""


async def _rules_in_force(uow: UnitOfWork) -> RenewalRules:
    rules = await uow.licensure.rules_in_force()
    if rules is None:
        raise NoRulesInForce("no renewal rules are in force")
    return rules


async def rules_in_force(uow: UnitOfWork) -> RenewalRules:
    async with uow:
        return await _rules_in_force(uow)


async def change_rules(
    uow: UnitOfWork,
    *,
    cycle_years: int,
    required_credits: Decimal,
    conversions: Mapping[CreditUnit, Conversion],
    now: datetime,
) -> RenewalRules:
    """Change the renewal rules of the state in force; postings already made keep the amounts
    and cycles they were posted with."""
    async with uow:
        current = await _rules_in_force(uow)
        rules = RenewalRules(
            state=current.state,
            cycle_years=cycle_years,
            required_credits=required_credits,
            conversions=dict(conversions),
        )
        await uow.licensure.save_rules(rules, now)
        await uow.commit()
    return rules


# -- what an educator holds ------------------------------------------------------------------


async def completions(uow: UnitOfWork, educator_id: str) -> list[Completion]:
    """The educator's stack completions, standing and reversed."""
    async with uow:
        return await uow.licensure.completions_for(educator_id, standing=False)


@dataclass(frozen=True)
class Ledger:
    """An educator's renewal-credit ledger, by certificate cycle (newest first)."""

    state: str
    license_expires_on: date | None
    cycles: list[rules_of.CycleBalance]


async def ledger(uow: UnitOfWork, educator_id: str, cycle: str | None = None) -> Ledger:
    async with uow:
        rules = await _rules_in_force(uow)
        entries = await uow.licensure.ledger(educator_id, cycle)
        expires_on = await uow.licensure.license_expiry(educator_id)
    return Ledger(rules.state, expires_on, rules_of.balances(entries, rules.required_credits))


async def edfi_credentials(
    uow: UnitOfWork, issuance: Issuance, educator_id: str, now: datetime
) -> dict[str, Any]:
    """The educator's valid micro-credentials, recognised imports and endorsements as Ed-Fi
    ``Credential`` records (for licensure and HR systems)."""
    namespace = f"uri://{urlsplit(issuance.urls.registry).netloc or 'registry'}"
    async with uow:
        rules = await _rules_in_force(uow)
        held = await uow.licensure.educator_credentials(educator_id, valid_at=now)
        imported = await uow.licensure.recognized_imports(educator_id)
        standing = await uow.licensure.completions_for(educator_id, standing=True)
    sources = (
        [
            rules_of.EdFiCredentialSource(
                identifier=c.credential_id,
                field_code=c.micro_credential_id,
                credential_type="Certification",
                issued_on=c.awarded_at.date(),
                expires_on=c.valid_until.date() if c.valid_until else None,
                educator_id=educator_id,
                namespace=namespace,
                name=c.achievement_name,
            )
            for c in held
        ]
        + [
            # Recognised credentials issued elsewhere, marked as imported, with their issuer
            # and the state micro-credential they count as (an import its issuer revoked is no
            # longer recognised, so it is not here).
            rules_of.EdFiCredentialSource(
                identifier=record.import_id,
                field_code=(
                    record.equivalent_micro_credential_id
                    or record.external.achievement_id
                    or record.external.achievement_name
                ),
                credential_type="Certification",
                issued_on=earned.date(),
                expires_on=until.date() if until else None,
                educator_id=educator_id,
                namespace=namespace,
                name=record.external.achievement_name,
                imported_from=record.external.issuer_id,
                external_credential_id=record.external.credential_id,
                equivalent_micro_credential_id=record.equivalent_micro_credential_id,
            )
            for record in imported
            for earned, until in [validity_window(record.document, record.imported_at)]
            if until is None or until > now
        ]
        + [
            rules_of.EdFiCredentialSource(
                identifier=event_id("endorsement_eligibility", done.completion_id, grant.code),
                field_code=grant.code,
                credential_type="Endorsement",
                issued_on=done.completed_at.date(),
                expires_on=None,
                educator_id=educator_id,
                namespace=namespace,
                name=grant.name,
            )
            for done in standing
            for grant in stack_rules.endorsements(done.grants)
        ]
    )
    return {
        "educatorId": educator_id,
        "credentials": [rules_of.edfi_credential(s, rules.state) for s in sources],
    }


class NoValidCredential(NotFound):
    """A CLR needs at least one valid credential (404)."""


async def learner_record(
    uow: UnitOfWork, issuance: Issuance, educator_id: str, now: datetime
) -> dict[str, Any]:
    """The educator's Comprehensive Learner Record 2.0 (``ClrCredential``): their valid
    credentials (signed now if the signer has not got to them yet), recognised imports as
    their issuers signed them, and their standing stack completions."""
    async with uow:
        await sign_awaiting(uow, issuance, now, educator_id=educator_id, limit=500, wait=True)
        await uow.commit()
    async with uow:
        held = await uow.licensure.educator_credentials(educator_id, valid_at=now)
        imported = await uow.licensure.recognized_imports(educator_id)
        stacks: list[clr.CompletedStack] = []
        for done in await uow.licensure.completions_for(educator_id, standing=True):
            stack = await uow.catalog.get(Stack, done.stack_id, done.stack_version)
            assert stack is not None, "a completion names a stack version that exists"
            stacks.append(
                clr.CompletedStack(
                    stack_id=done.stack_id,
                    stack_version=done.stack_version,
                    name=done.stack_name,
                    description=stack.definition.description,
                    rule=stack.definition.rule,
                    members=done.members,
                    member_credential_ids=done.member_credential_ids,
                    completed_at=done.completed_at,
                )
            )
    if not held and not imported:
        raise NoValidCredential(
            f"educator {educator_id} holds no valid credential (a CLR needs one)"
        )
    return clr.clr_credential(
        clr_id=f"urn:uuid:{uuid.uuid4()}",
        educator_id=educator_id,
        salt=secrets.token_hex(16),
        # The state's own credentials, then recognised imports as their issuers signed them.
        credentials=[(c.micro_credential_id, c.document) for c in held]
        + [(i.equivalent_micro_credential_id or "", i.document) for i in imported],
        stacks=stacks,
        urls=issuance.urls,
        issued_at=now,
    )
