"""Importing an Open Badges 3.0 credential issued elsewhere and recognising it by the state's
rules (the rules and their order: :mod:`registry.domain.portability`).

The checks that need no database run first; then one transaction records the import (once
per educator and external credential id: a repeated import returns the first record and posts
nothing), and, when recognised, posts its renewal credits under the posting key
``import:<import id>`` (``renewal_credits_posted`` with ``credential_id`` = the import id) and
counts as its equivalent state micro-credential towards stacks (a ``stack_completed`` may then
name the import id among its member credentials).

The issuer's status list is read before the transaction (no transaction stays open across the
network): revoked or suspended refuses the import, unreadable records ``status_unknown``.
:func:`recheck_import` reads it again later (``POST /imports/{id}/recheck``, and the sweep
``serve`` runs: :func:`recheck_due_imports`); when the issuer has revoked the credential, the
import becomes ``revoked`` once, its credits are reversed (posting key
``import-revocation:<import id>``, a negative ``renewal_credits_posted`` with reason
``revocation``) and the stacks it no longer completes are reversed
(``stack_completion_reversed`` naming the import id).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mc_events import audit
from mc_events.contracts.registry import CreditPostingReason
from registry.adapters.licensure_repository import ImportRecord, LicensureRepository
from registry.adapters.status_fetch import StatusListFetcher
from registry.domain import openbadges, proofs, verification
from registry.domain.licensure import LedgerEntry
from registry.domain.portability import (
    ImportRefused,
    IssuerStatus,
    ProofStatus,
    RecognitionStatus,
    did_key_controller,
    external_credential,
    find_rule,
    names_recipient,
    recognition,
)
from registry.service_layer import licensure
from registry.service_layer.catalog import event_id
from registry.service_layer.errors import NotFound
from registry.service_layer.unit_of_work import UnitOfWork
from registry.service_layer.verification import KeyResolver, issuer_status

log = logging.getLogger(__name__)

RECHECK_ACTOR = "registry:import-recheck"


@dataclass(frozen=True)
class ImportResult:
    record: ImportRecord
    created: bool
    """False when the educator had already imported this credential (nothing changed)."""


_ISSUER_STATUS = {
    verification.Result.PASSED: IssuerStatus.VALID,
    verification.Result.REVOKED: IssuerStatus.REVOKED,
    verification.Result.SUSPENDED: IssuerStatus.SUSPENDED,
}


async def read_issuer_status(
    uow: UnitOfWork,
    document: Mapping[str, Any],
    fetch: StatusListFetcher | None,
    urls: openbadges.PublicUrls,
    now: datetime,
) -> tuple[IssuerStatus, str]:
    """What the credential's issuer says of it now, and why (``status_unknown`` whenever the
    list cannot be read, verified or decoded)."""
    if document.get("credentialStatus") is None:
        return IssuerStatus.NONE, "the credential declares no status"
    check = await issuer_status(document, fetch, KeyResolver(uow, urls), now)
    return _ISSUER_STATUS.get(check.result, IssuerStatus.STATUS_UNKNOWN), check.detail


async def _resolve_did_key(method: str) -> verification.ResolvedKey | None:
    did = did_key_controller(method)
    if did is None:
        return None
    try:
        key = proofs.public_key_from_multibase(did.removeprefix("did:key:"))
    except proofs.ProofError:
        return None
    return verification.ResolvedKey(public_key=key, controller=did)


async def check_proof(document: Mapping[str, Any]) -> ProofStatus:
    """``verified`` (every proof by a did:key the issuer is), ``unchecked`` (a key this
    registry does not fetch), or :class:`ImportRefused`."""
    try:
        methods = [proofs.check_proof_shape(p) for p in proofs.proofs_of(document)]
    except proofs.ProofError as exc:
        raise ImportRefused(f"proof: {exc}") from exc
    if any(did_key_controller(m) is None for m in methods):
        return ProofStatus.UNCHECKED
    check = await verification.check_proof(document, _resolve_did_key)
    if check.result is not verification.Result.PASSED:
        raise ImportRefused(f"proof: {check.detail}")
    return ProofStatus.VERIFIED


def validity_window(
    document: Mapping[str, Any], imported_at: datetime
) -> tuple[datetime, datetime | None]:
    """``(when it was earned, its validUntil or None)`` of an imported credential."""
    until = document.get("validUntil")
    try:
        valid_until = (
            datetime.fromisoformat(until.replace("Z", "+00:00")) if isinstance(until, str) else None
        )
    except ValueError:
        valid_until = None
    if valid_until is not None and valid_until.tzinfo is None:
        valid_until = valid_until.replace(tzinfo=UTC)  # the import's check needs a zone
    return _earned_on(document, imported_at), valid_until


def _earned_on(document: Mapping[str, Any], now: datetime) -> datetime:
    for field in ("awardedDate", "validFrom"):
        value = document.get(field)
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
    return now


async def import_credential(
    uow: UnitOfWork,
    *,
    educator_id: str,
    district_id: str | None,
    document: dict[str, Any],
    actor: str,
    urls: openbadges.PublicUrls,
    now: datetime,
    fetch: StatusListFetcher | None = None,
) -> ImportResult:
    schema = verification.check_schema(document)
    if schema.result is not verification.Result.PASSED:
        raise ImportRefused(f"schema: {schema.detail}")
    external = external_credential(document)
    if external.issuer_id == urls.issuer:
        raise ImportRefused("the credential was issued by this registry: it is already on record")
    validity = verification.check_validity(document, now)
    if validity.result is not verification.Result.PASSED:
        raise ImportRefused(f"validity: {validity.result.value} ({validity.detail})")
    proof = await check_proof(document)

    async with uow:
        existing = await LicensureRepository(uow.session).imports_for(
            educator_id, external.credential_id
        )
    if existing:
        return ImportResult(existing[0], created=False)
    status, status_detail = await read_issuer_status(uow, document, fetch, urls, now)
    if status in (IssuerStatus.REVOKED, IssuerStatus.SUSPENDED):
        raise ImportRefused(f"status: {status.value} by its issuer ({status_detail})")

    async with uow:
        repo = LicensureRepository(uow.session)
        await repo.lock_educator(educator_id)
        existing = await repo.imports_for(educator_id, external.credential_id)
        if existing:
            return ImportResult(existing[0], created=False)
        roster = await repo.roster_entry(educator_id)
        if not names_recipient(document, educator_id, roster[1] if roster else None):
            raise ImportRefused(
                "the credential does not name this educator (state educator id or roster email)"
            )
        rule = find_rule(await repo.recognition_rules(external.issuer_id), external)
        recognized = recognition(proof, rule)
        record = ImportRecord(
            import_id=event_id("credential_import", educator_id, external.credential_id),
            educator_id=educator_id,
            district_id=(roster[0] if roster else None) or district_id or "unassigned",
            external=external,
            proof_status=proof,
            recognition_status=recognized,
            rule_id=rule.rule_id if rule else None,
            equivalent_micro_credential_id=rule.equivalent_micro_credential_id if rule else None,
            credits=(rule.credits if rule and recognized is RecognitionStatus.RECOGNIZED else None),
            imported_at=now,
            issuer_status=status,
            status_checked_at=now,
            status_detail=status_detail,
        )
        if not await repo.add_import(record, document, actor):
            raise RuntimeError("unreachable: the educator's lock serialises imports")
        if record.credits is not None:
            await licensure.post_credits(
                uow.session,
                repo,
                posting_key=f"import:{record.import_id}",
                educator_id=educator_id,
                district_id=record.district_id,
                credential_id=record.import_id,
                credits=record.credits,
                earned_on=_earned_on(document, now).date(),
                reason=CreditPostingReason.AWARD,
                now=now,
            )
        if recognized is RecognitionStatus.RECOGNIZED and record.equivalent_micro_credential_id:
            await licensure.complete_stacks(
                uow.session,
                repo,
                licensure.NewCredential(
                    credential_id=record.import_id,
                    educator_id=educator_id,
                    district_id=record.district_id,
                    micro_credential_id=record.equivalent_micro_credential_id,
                    at=now,
                ),
                now,
            )
        await audit.append(
            uow.session,
            actor=actor,
            action="credential.imported",
            object_type="imported_credential",
            object_id=record.import_id,
            details={
                "external_credential": external.credential_id,
                "issuer": external.issuer_id,
                "proof": proof.value,
                "recognition": recognized.value,
                "rule": record.rule_id,
                "issuer_status": status.value,
            },
            chain=f"educator:{educator_id}",
            at=now,
        )
        await uow.commit()
    return ImportResult(record, created=True)


# -- rechecking the issuer's status ----------------------------------------------------------


@dataclass(frozen=True)
class RecheckResult:
    record: ImportRecord
    changed: bool
    """Whether this recheck changed the import's issuer status (or revoked it)."""
    revoked_now: bool
    """Whether this recheck found the revocation (it is acted on once)."""
    reversal: LedgerEntry | None
    """The ledger entry that took the import's credits back, if this recheck posted one."""
    stacks_reversed: int


async def recheck_import(
    uow: UnitOfWork,
    *,
    import_id: str,
    fetch: StatusListFetcher | None,
    urls: openbadges.PublicUrls,
    actor: str,
    now: datetime,
) -> RecheckResult:
    """Read the issuer's status of an import again and record it; a revocation found now
    revokes the import (once: a revoked import is not read again). Audited: every recheck
    asked for by a person, and every change found by the sweep."""
    async with uow:
        found = await LicensureRepository(uow.session).get_import(import_id)
    if found is None:
        raise NotFound(f"no import {import_id}")
    record, document = found
    if record.revoked_at is not None:
        return RecheckResult(record, False, False, None, 0)
    status, detail = await read_issuer_status(uow, document, fetch, urls, now)

    async with uow:
        session = uow.session
        repo = LicensureRepository(session)
        await repo.lock_educator(record.educator_id)
        locked = await repo.get_import(import_id, for_update=True)
        assert locked is not None, "imports are never deleted"
        before = locked[0]
        if before.revoked_at is not None:  # another recheck revoked it meanwhile
            return RecheckResult(before, False, False, None, 0)
        revoke = status is IssuerStatus.REVOKED
        await repo.save_import_status(
            import_id, issuer_status=status, detail=detail, checked_at=now, revoked=revoke
        )
        reversal, stacks_reversed = None, 0
        if revoke:
            reversal, stacks_reversed = await _after_import_revocation(session, repo, before, now)
        changed = revoke or status is not before.issuer_status
        if changed or actor != RECHECK_ACTOR:
            await audit.append(
                session,
                actor=actor,
                action="credential_import.revoked" if revoke else "credential_import.rechecked",
                object_type="imported_credential",
                object_id=import_id,
                details={
                    "issuer_status": status.value,
                    "previous": before.issuer_status.value if before.issuer_status else None,
                    "detail": detail[:500],
                    "credits_reversed": str(-reversal.renewal_credits) if reversal else None,
                    "stacks_reversed": stacks_reversed,
                },
                chain=f"educator:{before.educator_id}",
                at=now,
            )
        after = await repo.get_import(import_id)
        await uow.commit()
    assert after is not None
    return RecheckResult(after[0], changed, revoke, reversal, stacks_reversed)


async def _after_import_revocation(
    session: AsyncSession, repo: LicensureRepository, record: ImportRecord, now: datetime
) -> tuple[LedgerEntry | None, int]:
    """Take back the import's credits and reverse the stacks it no longer completes (the
    import is saved revoked already, so it no longer counts as held)."""
    stacks = 0
    if (
        record.recognition_status is RecognitionStatus.RECOGNIZED
        and record.equivalent_micro_credential_id
    ):
        stacks = await licensure.reverse_broken_stacks(
            session,
            repo,
            educator_id=record.educator_id,
            district_id=record.district_id,
            micro_credential_id=record.equivalent_micro_credential_id,
            credential_id=record.import_id,
            now=now,
        )
    reversal = await licensure.reverse_credits(
        session,
        repo,
        credential_id=record.import_id,
        posting_key=f"import-revocation:{record.import_id}",
        reason=CreditPostingReason.REVOCATION,
        now=now,
    )
    return reversal, stacks


async def recheck_due_imports(
    sessions: async_sessionmaker[Any],
    fetch: StatusListFetcher | None,
    urls: openbadges.PublicUrls,
    now: datetime,
    *,
    limit: int = 100,
) -> tuple[int, int]:
    """Recheck up to ``limit`` imports, least recently checked first, each in transactions of
    its own; ``(rechecked, revoked)``. Safe on several replicas: the import's row lock and
    its revoked mark make a revocation count once."""
    async with UnitOfWork(sessions) as uow:
        due = await LicensureRepository(uow.session).imports_to_recheck(limit)
    rechecked = revoked = 0
    for import_id in due:
        try:
            result = await recheck_import(
                UnitOfWork(sessions),
                import_id=import_id,
                fetch=fetch,
                urls=urls,
                actor=RECHECK_ACTOR,
                now=now,
            )
        except Exception:
            log.exception("rechecking import %s failed; the next pass tries again", import_id)
            continue
        rechecked += 1
        revoked += result.revoked_now
    return rechecked, revoked
