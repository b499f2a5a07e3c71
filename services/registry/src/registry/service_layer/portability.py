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
from datetime import datetime
from typing import Any

from mc_events.contracts.registry import CreditPostingReason
from mc_platform.refusals import Conflict, Invalid, NotFound
from registry.adapters.licensure_repository import ImportRecord
from registry.domain import proofs, verification
from registry.domain.ids import event_id
from registry.domain.licensure import LedgerEntry
from registry.domain.portability import (
    ImportRefused,
    IssuerStatus,
    ProofStatus,
    RecognitionRule,
    RecognitionStatus,
    did_key_controller,
    earned_on,
    external_credential,
    find_rule,
    names_recipient,
    recognition,
)
from registry.service_layer import licensure
from registry.service_layer.issuing import Issuance, KeyResolver, issuer_status
from registry.service_layer.unit_of_work import UnitOfWork

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
    uow: UnitOfWork, document: Mapping[str, Any], issuance: Issuance, now: datetime
) -> tuple[IssuerStatus, str]:
    """What the credential's issuer says of it now, and why (``status_unknown`` whenever the
    list cannot be read, verified or decoded)."""
    if document.get("credentialStatus") is None:
        return IssuerStatus.NONE, "the credential declares no status"
    resolve_key = KeyResolver(uow, issuance)
    check = await issuer_status(document, issuance.status_fetcher, resolve_key, now)
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


async def import_credential(
    uow: UnitOfWork,
    issuance: Issuance,
    *,
    educator_id: str,
    district_id: str | None,
    document: dict[str, Any],
    actor: str,
    now: datetime,
) -> ImportResult:
    """Import an OB 3.0 credential issued elsewhere for an educator, recognised by the state's
    rules (refused: :class:`~registry.domain.portability.ImportRefused`); an import of a
    credential the educator imported already changes nothing (``created`` False)."""
    schema = verification.check_schema(document)
    if schema.result is not verification.Result.PASSED:
        raise ImportRefused(f"schema: {schema.detail}")
    external = external_credential(document)
    if external.issuer_id == issuance.urls.issuer:
        raise ImportRefused("the credential was issued by this registry: it is already on record")
    validity = verification.check_validity(document, now)
    if validity.result is not verification.Result.PASSED:
        raise ImportRefused(f"validity: {validity.result.value} ({validity.detail})")
    proof = await check_proof(document)

    async with uow:
        existing = await uow.licensure.imports_for(educator_id, external.credential_id)
    if existing:
        return ImportResult(existing[0], created=False)
    status, status_detail = await read_issuer_status(uow, document, issuance, now)
    if status in (IssuerStatus.REVOKED, IssuerStatus.SUSPENDED):
        raise ImportRefused(f"status: {status.value} by its issuer ({status_detail})")

    async with uow:
        repo = uow.licensure
        await repo.lock_educator(educator_id)
        existing = await repo.imports_for(educator_id, external.credential_id)
        if existing:
            return ImportResult(existing[0], created=False)
        roster = await repo.roster_entry(educator_id)
        if not names_recipient(document, educator_id, roster.email if roster else None):
            raise ImportRefused(
                "the credential does not name this educator (state educator id or roster email)"
            )
        rule = find_rule(await repo.recognition_rules(external.issuer_id), external)
        recognized = recognition(proof, rule)
        record = ImportRecord(
            import_id=event_id("credential_import", educator_id, external.credential_id),
            educator_id=educator_id,
            district_id=(roster.district_id if roster else None) or district_id or "unassigned",
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
            document=document,
        )
        if not await repo.add_import(record, actor):
            raise RuntimeError("unreachable: the educator's lock serialises imports")
        if record.credits is not None:
            await licensure.post_credits(
                uow,
                posting_key=f"import:{record.import_id}",
                educator_id=educator_id,
                district_id=record.district_id,
                credential_id=record.import_id,
                credits=record.credits,
                earned_on=earned_on(document, now).date(),
                reason=CreditPostingReason.AWARD,
                now=now,
            )
        if recognized is RecognitionStatus.RECOGNIZED and record.equivalent_micro_credential_id:
            await licensure.complete_stacks(
                uow,
                licensure.NewCredential(
                    credential_id=record.import_id,
                    educator_id=educator_id,
                    district_id=record.district_id,
                    micro_credential_id=record.equivalent_micro_credential_id,
                    at=now,
                ),
                now,
            )
        uow.audit(
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
    uow: UnitOfWork, issuance: Issuance, *, import_id: str, actor: str, now: datetime
) -> RecheckResult:
    """Read the issuer's status of an import again and record it; a revocation found now
    revokes the import (once: a revoked import is not read again). Audited: every recheck
    asked for by a person, and every change found by the sweep."""
    async with uow:
        record = await uow.licensure.get_import(import_id)
    if record is None:
        raise NotFound(f"no import {import_id}")
    if record.revoked_at is not None:
        return RecheckResult(record, False, False, None, 0)
    status, detail = await read_issuer_status(uow, record.document, issuance, now)

    async with uow:
        repo = uow.licensure
        await repo.lock_educator(record.educator_id)
        before = await repo.get_import(import_id, for_update=True)
        assert before is not None, "imports are never deleted"
        if before.revoked_at is not None:  # another recheck revoked it meanwhile
            return RecheckResult(before, False, False, None, 0)
        revoke = status is IssuerStatus.REVOKED
        await repo.save_import_status(
            import_id, issuer_status=status, detail=detail, checked_at=now, revoked=revoke
        )
        reversal, stacks_reversed = None, 0
        if revoke:
            reversal, stacks_reversed = await _after_import_revocation(uow, before, now)
        changed = revoke or status is not before.issuer_status
        if changed or actor != RECHECK_ACTOR:
            uow.audit(
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
    return RecheckResult(after, changed, revoke, reversal, stacks_reversed)


async def _after_import_revocation(
    uow: UnitOfWork, record: ImportRecord, now: datetime
) -> tuple[LedgerEntry | None, int]:
    """Take back the import's credits and reverse the stacks it no longer completes (the
    import is saved revoked already, so it no longer counts as held)."""
    stacks = 0
    if (
        record.recognition_status is RecognitionStatus.RECOGNIZED
        and record.equivalent_micro_credential_id
    ):
        stacks = await licensure.reverse_broken_stacks(
            uow,
            educator_id=record.educator_id,
            district_id=record.district_id,
            micro_credential_id=record.equivalent_micro_credential_id,
            credential_id=record.import_id,
            now=now,
        )
    reversal = await licensure.reverse_credits(
        uow,
        credential_id=record.import_id,
        posting_key=f"import-revocation:{record.import_id}",
        reason=CreditPostingReason.REVOCATION,
        now=now,
    )
    return reversal, stacks


async def recheck_due_imports(
    uow: UnitOfWork, issuance: Issuance, now: datetime, *, limit: int = 100
) -> tuple[int, int]:
    """Recheck up to ``limit`` imports, least recently checked first, each in transactions of
    its own; ``(rechecked, revoked)``. Safe on several replicas: the import's row lock and
    its revoked mark make a revocation count once."""
    async with uow:
        due = await uow.licensure.imports_to_recheck(limit)
    rechecked = revoked = 0
    for import_id in due:
        try:
            result = await recheck_import(
                uow, issuance, import_id=import_id, actor=RECHECK_ACTOR, now=now
            )
        except Exception:
            log.exception("rechecking import %s failed; the next pass tries again", import_id)
            continue
        rechecked += 1
        revoked += result.revoked_now
    return rechecked, revoked


# -- the state's recognition rules -----------------------------------------------------------


class RuleExists(Conflict):
    """A recognition rule with this id exists (409)."""


async def add_recognition_rule(
    uow: UnitOfWork, rule: RecognitionRule, now: datetime
) -> RecognitionRule:
    """Add a rule recognising credentials issued elsewhere; its equivalent micro-credential,
    if it names one, must have an approved version in the state catalog."""
    async with uow:
        mc_id = rule.equivalent_micro_credential_id
        if mc_id is not None and not await uow.catalog.approved_mc_ids([mc_id]):
            raise Invalid(f"{mc_id} has no approved version in the state catalog")
        if not await uow.licensure.add_recognition_rule(rule, now):
            raise RuleExists(f"rule {rule.rule_id} already exists")
        await uow.commit()
    return rule


async def recognition_rules(uow: UnitOfWork) -> list[RecognitionRule]:
    async with uow:
        return await uow.licensure.recognition_rules()


async def imports_of(uow: UnitOfWork, educator_id: str) -> list[ImportRecord]:
    """The educator's imported credentials, oldest first."""
    async with uow:
        return await uow.licensure.imports_for(educator_id)
