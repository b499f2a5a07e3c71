"""Credentials and their status: issuing (a passed review decision becomes exactly one
credential per enrollment), the state's status changes (revoke, suspend, reinstate, reissue),
revocation for confirmed misconduct, the signing keys and signed documents verifiers read
(credentials, status lists, the issuer's profile and keys), and verification of any Open
Badges 3.0 credential.

Each change, its status-list bit, its event on ``registry.credentials`` (a deterministic id,
built in one place: :class:`CredentialEvents`), its audit record on the educator's chain and
what it causes for stacks and renewal credits (:mod:`registry.service_layer.licensure`) commit
in one transaction.

Signing happens right after the award, not during it: the award commits the document without
its proof and the ``credential-signer`` worker (:func:`sign_backlog`), or the first reader of
the credential, adds it (:func:`~registry.service_layer.issuing.sign_awaiting`).

A suspension with a planned end (``until``) is lifted by the sweep ``serve`` runs
(:func:`end_due_suspensions`) once that time has passed. Expiry needs no state change:
``validUntil`` is on the signed credential (and on ``credential_awarded`` /
``credential_reissued``) and verification compares it with the clock.

Status lists: the OB 3.0 JSON Schema allows one ``credentialStatus`` object, so a credential
names its revocation entry (list ``revocation-N``, index i). Its suspension bit is the same
index i of the parallel list ``suspension-N`` (``statusPurpose: suspension``), published at the
same base URL; the registry's verifier reads both.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from mc_events.contracts.base import Event
from mc_events.contracts.enrollment import Enrolled
from mc_events.contracts.registry import (
    CredentialAwarded,
    CredentialReinstated,
    CredentialReissued,
    CredentialRevoked,
    CredentialSuspended,
    RevocationReason,
)
from mc_events.contracts.review import Decided, ReviewOutcome, RevocationRequested
from mc_platform.clock import Clock
from mc_platform.refusals import Invalid, NotFound
from registry.adapters.awards_repository import CredentialPage, SigningBacklog, StoredCredential
from registry.adapters.signing_keys import SigningKey
from registry.adapters.status_bits import OwnStatusBits
from registry.domain import awards, openbadges, status_list, verification
from registry.domain.awards import (
    Award,
    CredentialStateError,
    CredentialStatus,
    NotAwardable,
    PassedDecision,
)
from registry.domain.catalog import MicroCredential
from registry.domain.ids import event_id
from registry.service_layer import licensure
from registry.service_layer.issuing import (
    KEYS_CHAIN,
    Issuance,
    KeyResolver,
    current_signer,
    issuer_status,
    nothing,
    sign_awaiting,
)
from registry.service_layer.unit_of_work import UnitOfWork

SWEEP_ACTOR = "registry:suspension-sweep"


# -- what a credential's changes say: its events and audit records ---------------------------


class CredentialEvents:
    """What a credential's changes say on ``registry.credentials``: each event built here
    only, with its deterministic id (derived from the credential and what happened to it, so a
    retried command names the same event)."""

    def __init__(self, award: Award, urls: openbadges.PublicUrls) -> None:
        self.award = award
        self.urls = urls
        self.ref = {
            "credential_id": award.credential_id,
            "educator_id": award.educator_id,
            "district_id": award.district_id,
            "micro_credential_id": award.micro_credential_id,
            "micro_credential_version": award.micro_credential_version,
        }

    def awarded(self) -> tuple[Event, str]:
        award = self.award
        event = CredentialAwarded(
            **self.ref,
            enrollment_id=award.enrollment_id,
            decision_id=award.decision_id,
            issuer_id=award.issuer_id,
            achievement_name=award.achievement_name,
            purpose=award.purpose,
            credits=award.credits,
            awarded_at=award.awarded_at,
            valid_until=award.valid_until,
            credential_url=self.urls.credential(award.credential_id),  # type: ignore[arg-type]
            results=award.results,
        )
        return event, event_id("credential_awarded", award.credential_id)

    def revoked(self) -> tuple[Event, str]:
        revocation = self.award.revocation
        assert revocation is not None
        event = CredentialRevoked(
            **self.ref,
            enrollment_id=self.award.enrollment_id,
            reason=revocation.reason,
            reason_detail=revocation.detail,
            revoked_at=revocation.at,
        )
        return event, event_id("credential_revoked", self.award.credential_id)

    def suspended(self) -> tuple[Event, str]:
        suspension = self.award.suspension
        assert suspension is not None
        event = CredentialSuspended(
            **self.ref,
            reason=suspension.reason,
            suspended_at=suspension.at,
            suspended_until=suspension.until,
        )
        about = suspension.at.isoformat()
        return event, event_id("credential_suspended", self.award.credential_id, about)

    def reinstated(self, reason: str, suspended_at: datetime, now: datetime) -> tuple[Event, str]:
        event = CredentialReinstated(**self.ref, reason=reason, reinstated_at=now)
        about = suspended_at.isoformat()
        return event, event_id("credential_reinstated", self.award.credential_id, about)

    def reissued(self, previous: str, reason: str, now: datetime) -> tuple[Event, str]:
        award = self.award
        event = CredentialReissued(
            **self.ref,
            enrollment_id=award.enrollment_id,
            previous_credential_id=previous,
            reason=reason,
            awarded_at=award.awarded_at,
            valid_until=award.valid_until,
            credential_url=self.urls.credential(award.credential_id),  # type: ignore[arg-type]
            reissued_at=now,
        )
        return event, event_id("credential_reissued", previous)


def _record(
    uow: UnitOfWork,
    award: Award,
    announced: tuple[Event, str],
    *,
    actor: str,
    action: str,
    details: dict[str, Any],
    at: datetime,
) -> None:
    """Announce a change of ``award`` (its event and id) and append it to the educator's
    audit chain."""
    event, its_id = announced
    uow.emit(event, event_id=its_id)
    uow.audit(
        actor=actor,
        action=action,
        object_type="credential",
        object_id=award.credential_id,
        details=details,
        chain=f"educator:{award.educator_id}",
        at=at,
    )


# -- issuing ---------------------------------------------------------------------------------


async def record_award(
    uow: UnitOfWork, decision: Decided, issuance: Issuance, now: datetime
) -> Award | None:
    """Record the credential a passed decision earns, in the consumer's transaction (``uow`` is
    joined to it); None when there is nothing to do (not a pass, or the enrollment already has
    its credential). The document is recorded without its proof and signed after this
    transaction commits, so neither the award nor its ``credential_awarded`` event waits on
    signing. Raises :class:`~registry.domain.awards.AwardError` for a decision that can never
    be awarded."""
    if decision.outcome is not ReviewOutcome.PASSED:
        return None
    context = await uow.awards.award_context(
        decision.enrollment_id, decision.micro_credential_id, decision.micro_credential_version
    )
    if context.credential_id is not None:
        return None  # a second decision (or a redelivery) for an enrollment already awarded
    found = await uow.catalog.version_for_award(
        decision.micro_credential_id, decision.micro_credential_version, context.version_digest
    )
    if found is None:
        raise NotAwardable(
            f"unknown micro-credential {decision.micro_credential_id} "
            f"version {decision.micro_credential_version}"
        )
    mc, provider_name = found.micro_credential, found.issuer_name
    passed = PassedDecision(
        decision_id=decision.decision_id,
        enrollment_id=decision.enrollment_id,
        submission_id=decision.submission_id,
        educator_id=decision.educator_id,
        district_id=decision.district_id,
        micro_credential_id=decision.micro_credential_id,
        micro_credential_version=decision.micro_credential_version,
        results=decision.results,
        decided_at=decision.decided_at,
    )
    award = awards.award(passed, mc, context.enrolled_purpose)
    if issuance.validity is not None:
        award.valid_until = award.awarded_at + issuance.validity
    status = await uow.awards.allocate_status_index(status_list.StatusPurpose.REVOCATION, now)
    document = openbadges.open_badge_credential(
        award,
        mc,
        provider_name if provider_name is not None else mc.issuer_id,
        issuance.urls,
        status,
        salt=secrets.token_hex(16),
    )
    if not await uow.awards.add_credential(award, status, document, now):
        return None
    _record(
        uow,
        award,
        CredentialEvents(award, issuance.urls).awarded(),
        actor=f"review-decision:{decision.decision_id}",
        action="credential.awarded",
        details={
            "enrollment_id": award.enrollment_id,
            "micro_credential": f"{award.micro_credential_id}@v{award.micro_credential_version}",
            "assessors": list(decision.assessor_ids),
            "approver": decision.approver_id,
        },
        at=now,
    )
    await licensure.after_award(uow, award, now)  # stacks, endorsements, renewal credits
    return award


async def record_enrollment(uow: UnitOfWork, enrolled: Enrolled) -> None:
    """Remember what an enrollment is for (the review decision does not say): what the award
    will count for."""
    await uow.awards.record_enrollment(
        enrollment_id=enrolled.enrollment_id,
        educator_id=enrolled.educator_id,
        micro_credential_id=enrolled.micro_credential_id,
        micro_credential_version=enrolled.micro_credential_version,
        purpose=enrolled.purpose,
        enrolled_at=enrolled.enrolled_at,
    )


# -- status changes --------------------------------------------------------------------------


async def _locked(uow: UnitOfWork, credential_id: str) -> StoredCredential:
    stored = await uow.awards.get(credential_id, for_update=True)
    if stored is None:
        raise NotFound(f"no credential {credential_id}")
    return stored


async def _revoked(
    uow: UnitOfWork, stored: StoredCredential, issuance: Issuance, now: datetime, **details: str
) -> Award:
    """Save, announce and audit the revocation just decided on ``stored.award``, and reverse
    the stacks and credits it no longer counts for."""
    award = stored.award
    assert award.revocation is not None
    await uow.awards.save_state(award)
    await uow.awards.set_status(stored.status, True, now)
    _record(
        uow,
        award,
        CredentialEvents(award, issuance.urls).revoked(),
        actor=award.revocation.by,
        action="credential.revoked",
        details={
            "reason": str(award.revocation.reason),
            "detail": award.revocation.detail,
            **details,
        },
        at=now,
    )
    await licensure.after_revocation(uow, award, now)  # stacks and credits reversed
    return award


async def revoke(
    uow: UnitOfWork,
    issuance: Issuance,
    *,
    credential_id: str,
    reason: RevocationReason,
    detail: str,
    actor: str,
    now: datetime,
) -> Award:
    """Revoke a credential (permanent): its status-list bit set, everyone told."""
    async with uow:
        stored = await _locked(uow, credential_id)
        stored.award.revoke(reason, detail, now, actor)
        award = await _revoked(uow, stored, issuance, now)
        await uow.commit()
    return award


async def revoke_on_request(
    uow: UnitOfWork, request: RevocationRequested, issuance: Issuance, now: datetime
) -> Award | None:
    """Revoke the enrollment's current credential for confirmed misconduct, in the consumer's
    transaction; None when it is already revoked (a second request, or the state got there
    first). Raises :class:`NotFound` when the enrollment has no credential."""
    credential_id = await uow.awards.credential_for_enrollment(request.enrollment_id)
    if credential_id is None:
        raise NotFound(f"enrollment {request.enrollment_id} has no credential to revoke")
    stored = await _locked(uow, credential_id)
    if stored.award.status is CredentialStatus.REVOKED:
        return None
    reason, detail = awards.misconduct_reason(request.kind, request.detail)
    stored.award.revoke(reason, detail, now, f"review-approver:{request.approver_id}")
    return await _revoked(
        uow, stored, issuance, now, request_id=request.request_id, misconduct=request.kind.value
    )


async def suspend(
    uow: UnitOfWork,
    issuance: Issuance,
    *,
    credential_id: str,
    reason: str,
    until: datetime | None,
    actor: str,
    now: datetime,
) -> Award:
    """Suspend a credential (reversible): its suspension bit set, its renewal credits taken
    back while it lasts."""
    async with uow:
        stored = await _locked(uow, credential_id)
        award = stored.award
        award.suspend(reason, now, actor, until)
        assert award.suspension is not None
        entry = openbadges.suspension_entry(stored.status)
        await uow.awards.ensure_list(entry, now)
        await uow.awards.set_status(entry, True, now)
        await uow.awards.save_state(award)
        _record(
            uow,
            award,
            CredentialEvents(award, issuance.urls).suspended(),
            actor=actor,
            action="credential.suspended",
            details={
                "reason": award.suspension.reason,
                "until": until.isoformat() if until else None,
            },
            at=now,
        )
        await licensure.after_suspension(uow, award, award.suspension.at, now)
        await uow.commit()
    return award


async def reinstate(
    uow: UnitOfWork,
    issuance: Issuance,
    *,
    credential_id: str,
    reason: str,
    actor: str,
    now: datetime,
) -> Award:
    """End a suspension: the suspension bit cleared, the credits it took given back."""
    async with uow:
        stored = await _locked(uow, credential_id)
        award = stored.award
        ended = award.reinstate()
        entry = openbadges.suspension_entry(stored.status)
        await uow.awards.ensure_list(entry, now)
        await uow.awards.set_status(entry, False, now)
        await uow.awards.save_state(award)
        _record(
            uow,
            award,
            CredentialEvents(award, issuance.urls).reinstated(reason.strip(), ended.at, now),
            actor=actor,
            action="credential.reinstated",
            details={"reason": reason.strip(), "suspended_at": ended.at.isoformat()},
            at=now,
        )
        await licensure.after_reinstatement(uow, award, ended.at, now)
        await uow.commit()
    return award


async def end_due_suspensions(
    uow: UnitOfWork, issuance: Issuance, now: datetime, *, limit: int = 200
) -> int:
    """Reinstate the suspended credentials whose planned end (``suspended_until``) has passed,
    each in its own transaction, as the state lifting it would; returns how many. Safe on
    several replicas at once: a credential another sweep reinstated first is skipped."""
    async with uow:
        due = await uow.awards.due_suspensions(now, limit)
    done = 0
    for credential_id in due:
        try:
            await reinstate(
                uow,
                issuance,
                credential_id=credential_id,
                reason="the planned end of the suspension passed",
                actor=SWEEP_ACTOR,
                now=now,
            )
            done += 1
        except CredentialStateError:
            continue  # reinstated (or revoked) meanwhile
    return done


async def reissue(
    uow: UnitOfWork,
    issuance: Issuance,
    *,
    credential_id: str,
    reason: str,
    valid_until: datetime | None,
    clear_valid_until: bool,
    actor: str,
    now: datetime,
) -> Award:
    """A new document for the same award: new id, new status entry, new proof, the same
    ``awardedDate``; the old credential is superseded and set revoked in its status list.
    ``valid_until`` (None: the old one's), or none with ``clear_valid_until``. The catalog
    version awarded is rendered as the registry knows it now (a correction)."""
    if valid_until is not None and valid_until <= now:
        raise Invalid("valid_until must be in the future")
    if not reason.strip():
        raise CredentialStateError("a reissue needs a reason")
    async with uow:
        stored = await _locked(uow, credential_id)
        old = stored.award
        new_id = awards.reissued_id(credential_id)
        old.supersede(new_id)
        await uow.awards.save_state(old)
        await uow.awards.set_status(stored.status, True, now)  # the old one no longer verifies
        mc = await uow.catalog.get(
            MicroCredential, old.micro_credential_id, old.micro_credential_version
        )
        if mc is None:
            raise NotFound(f"micro-credential {old.micro_credential_id} is not in the catalog")
        provider = await uow.catalog.get_issuer(mc.issuer_id)
        new = dataclasses.replace(
            old,
            credential_id=new_id,
            status=CredentialStatus.ACTIVE,
            revocation=None,
            suspension=None,
            superseded_by=None,
            reissued_from=credential_id,
            valid_until=(
                None
                if clear_valid_until
                else valid_until
                if valid_until is not None
                else old.valid_until
            ),
        )
        entry = await uow.awards.allocate_status_index(status_list.StatusPurpose.REVOCATION, now)
        document = openbadges.open_badge_credential(
            new,
            mc,
            provider.name if provider else mc.issuer_id,
            issuance.urls,
            entry,
            salt=secrets.token_hex(16),
        )
        signer = await current_signer(uow, issuance, now)
        document = signer.sign(document, now)
        if not await uow.awards.add_credential(new, entry, document, now, signer.key.key_id):
            raise RuntimeError("the enrollment already has a current credential")
        await licensure.after_award(uow, new, now)  # a reissue: the same award, no effects
        _record(
            uow,
            new,
            CredentialEvents(new, issuance.urls).reissued(credential_id, reason.strip(), now),
            actor=actor,
            action="credential.reissued",
            details={"previous": credential_id, "reason": reason.strip()},
            at=now,
        )
        await uow.commit()
    return new


# -- the issuer's keys and signed documents --------------------------------------------------


async def rotate_key(uow: UnitOfWork, issuance: Issuance, actor: str, now: datetime) -> SigningKey:
    """A new key signs from now on; the old one is retired (private key erased, public key
    still published, so what it signed still verifies)."""
    async with uow:
        await uow.keys.lock()  # one rotation (or first key) at a time
        old = await uow.keys.current_sealed(for_update=True)
        if old is not None:
            await uow.keys.retire(old.key.key_id, now)
        number = await uow.keys.next_number()
        if not await uow.keys.insert_current(issuance.vault, number=number, actor=actor, now=now):
            raise RuntimeError("another rotation is in progress; try again")
        uow.audit(
            actor=actor,
            action="signing_key.rotated",
            object_type="signing_key",
            object_id=f"key-{number}",
            details={"retired": old.key.key_id if old else None},
            chain=KEYS_CHAIN,
            at=now,
        )
        key = await uow.keys.get(f"key-{number}")
        await uow.commit()
    assert key is not None
    return key


async def issuer_profile(uow: UnitOfWork, issuance: Issuance) -> dict[str, Any]:
    """The issuer's Open Badges ``Profile``, also the controller document of every key it
    ever signed with."""
    async with uow:
        keys = await uow.keys.all()
    return openbadges.issuer_profile(
        issuance.urls, [(key.key_id, key.public_key_multibase) for key in keys]
    )


async def key_document(uow: UnitOfWork, issuance: Issuance, key_id: str) -> dict[str, Any]:
    """A signing key's verification method (rotated keys stay published)."""
    async with uow:
        key = await uow.keys.get(key_id)
    if key is None:
        raise NotFound(f"no key {key_id}")
    return openbadges.multikey(issuance.urls, key.key_id, key.public_key_multibase)


async def credential_document(
    uow: UnitOfWork, issuance: Issuance, credential_id: str, now: datetime
) -> dict[str, Any]:
    """The signed Open Badges 3.0 credential (signed now, once, under its row lock, when the
    signer has not got to it yet)."""
    async with uow:
        await sign_awaiting(uow, issuance, now, credential_id=credential_id, wait=True)
        stored = await uow.awards.get(credential_id)
        await uow.commit()
    if stored is None:
        raise NotFound(f"no credential {credential_id}")
    return stored.document


async def educator_credentials(
    uow: UnitOfWork, issuance: Issuance, educator_id: str, *, limit: int, offset: int, now: datetime
) -> CredentialPage:
    """A page of the educator's credentials, each signed (the ones the signer has not got to
    yet are signed now)."""
    async with uow:
        await sign_awaiting(uow, issuance, now, educator_id=educator_id, limit=500, wait=True)
        page = await uow.awards.educator_documents(educator_id, limit=limit, offset=offset)
        await uow.commit()
    return page


async def status_list_credential(
    uow: UnitOfWork, issuance: Issuance, list_id: str, now: datetime
) -> dict[str, Any]:
    """The signed ``BitstringStatusListCredential`` of ``list_id``."""
    async with uow:
        signed = await signed_status_list(uow, issuance, list_id, now)
        await uow.commit()  # the first signing key, if this made it
    if signed is None:
        raise NotFound(f"no status list {list_id}")
    return signed


async def signed_status_list(
    uow: UnitOfWork, issuance: Issuance, list_id: str, now: datetime
) -> dict[str, Any] | None:
    """The signed status list credential of ``list_id`` in the caller's unit of work (None: no
    such list). Signed once per change of the list (and per key), then served from memory."""
    found = await uow.awards.status_list(list_id)
    if found is None and list_id.startswith(status_list.SUSPENSION_PREFIX):
        # The parallel suspension list of a revocation list nobody was suspended from yet.
        revocation, _ = status_list.parallel_lists(list_id)
        parallel = await uow.awards.status_list(revocation) if revocation else None
        if parallel is not None:
            found = dataclasses.replace(
                parallel,
                purpose=status_list.StatusPurpose.SUSPENSION.value,
                bits=status_list.empty_list(),
            )
    if found is None:
        return None
    signer = await current_signer(uow, issuance, now)
    cache_key = (list_id, hashlib.sha256(found.bits).hexdigest(), signer.key.key_id)
    cached = issuance.status_cache.get(cache_key)
    if cached is not None:
        return cached
    document = openbadges.status_list_credential(
        issuance.urls, list_id, found.purpose, found.bits, found.updated_at
    )
    signed = signer.sign(document, found.updated_at)
    if len(issuance.status_cache) > 256:
        issuance.status_cache.clear()
    issuance.status_cache[cache_key] = signed
    return signed


async def sign_backlog(uow: UnitOfWork, issuance: Issuance, clock: Clock, batch: int) -> int:
    """Sign everything waiting, ``batch`` credentials a transaction (oldest first); returns how
    many this call signed (rows other signers hold are theirs: skipped)."""
    total = 0
    while True:
        async with uow:
            signed = await sign_awaiting(uow, issuance, clock(), limit=batch)
            await uow.commit()
        total += signed
        if signed < batch:
            return total
        await asyncio.sleep(0)  # let the API and the consumer in between batches


async def signing_backlog(uow: UnitOfWork) -> SigningBacklog:
    """How many credentials wait for their proof, and since when."""
    async with uow:
        return await uow.awards.signing_backlog()


# -- verification ----------------------------------------------------------------------------


async def verify(
    uow: UnitOfWork, issuance: Issuance, document: Mapping[str, Any], now: datetime
) -> verification.Report:
    """``POST /credentials/verify``: schema, proof, status, validity of any OB 3.0 credential."""
    return (await verify_many(uow, issuance, [document], now))[0]


async def verify_many(
    uow: UnitOfWork, issuance: Issuance, documents: Sequence[Mapping[str, Any]], now: datetime
) -> list[verification.Report]:
    """Each document's report, in order. This registry's own credentials (and those without a
    status) share one short transaction for their keys and status bits: the byte holding the
    bit of each list, read on every verification (a revocation shows on the very next one).
    Another issuer's are checked after it, so no transaction is open while their lists are
    fetched (:func:`~registry.service_layer.issuing.issuer_status`), and only when their
    proof verified (anyone can post a document naming any URL)."""
    urls = issuance.urls
    resolve_key = KeyResolver(uow, issuance)
    reports: dict[int, verification.Report] = {}
    own = [i for i, doc in enumerate(documents) if openbadges.foreign_status_url(doc, urls) is None]
    if own:
        async with uow:
            resolve_key.inside = True
            read_bit = OwnStatusBits(uow.session, urls)
            for i in own:
                document = documents[i]
                reports[i] = verification.Report(
                    (
                        verification.check_schema(document),
                        await verification.check_proof(document, resolve_key),
                        await verification.check_status(
                            document,
                            nothing,
                            resolve_key,
                            lambda url: openbadges.suspension_list_for(urls, url),
                            read_bit=read_bit,
                        ),
                        verification.check_validity(document, now),
                    )
                )
            resolve_key.inside = False
    for i, document in enumerate(documents):
        if i not in reports:
            reports[i] = await _verify_foreign(document, resolve_key, issuance, now)
    return [reports[i] for i in range(len(documents))]


async def _verify_foreign(
    document: Mapping[str, Any], resolve_key: KeyResolver, issuance: Issuance, now: datetime
) -> verification.Report:
    schema = verification.check_schema(document)
    proof = await verification.check_proof(document, resolve_key)
    if proof.result is not verification.Result.PASSED:
        status = verification.Check(
            "status", verification.Result.UNKNOWN, "not read: the proof does not verify"
        )
    else:
        status = await issuer_status(document, issuance.status_fetcher, resolve_key, now)
    return verification.Report((schema, proof, status, verification.check_validity(document, now)))
