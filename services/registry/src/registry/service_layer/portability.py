"""Importing an Open Badges 3.0 credential issued elsewhere and recognising it by the state's
rules (the rules and their order: :mod:`registry.domain.portability`).

The checks that need no database run first; then one transaction records the import (once
per educator and external credential id: a repeated import returns the first record and posts
nothing), and, when recognised, posts its renewal credits under the posting key
``import:<import id>`` (``renewal_credits_posted`` with ``credential_id`` = the import id) and
counts as its equivalent state micro-credential towards stacks (a ``stack_completed`` may then
name the import id among its member credentials).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mc_events import audit
from mc_events.contracts.registry import CreditPostingReason
from registry.adapters.licensure_repository import ImportRecord, LicensureRepository
from registry.domain import openbadges, proofs, verification
from registry.domain.portability import (
    ImportRefused,
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
from registry.service_layer.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class ImportResult:
    record: ImportRecord
    created: bool
    """False when the educator had already imported this credential (nothing changed)."""


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
        status = recognition(proof, rule)
        record = ImportRecord(
            import_id=event_id("credential_import", educator_id, external.credential_id),
            educator_id=educator_id,
            district_id=(roster[0] if roster else None) or district_id or "unassigned",
            external=external,
            proof_status=proof,
            recognition_status=status,
            rule_id=rule.rule_id if rule else None,
            equivalent_micro_credential_id=rule.equivalent_micro_credential_id if rule else None,
            credits=rule.credits if rule and status is RecognitionStatus.RECOGNIZED else None,
            imported_at=now,
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
        if status is RecognitionStatus.RECOGNIZED and record.equivalent_micro_credential_id:
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
                "recognition": status.value,
                "rule": record.rule_id,
            },
            chain=f"educator:{educator_id}",
            at=now,
        )
        await uow.commit()
    return ImportResult(record, created=True)
