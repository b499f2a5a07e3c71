"""Signing as the issuer: the current key (made on first use), rotation, the public key
documents verifiers resolve, and the signed status list credentials."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.ext.asyncio import AsyncSession

from mc_events import audit
from registry.adapters.awards_repository import AwardsRepository
from registry.adapters.signing_keys import KeyVault, Signer, SigningKey, SigningKeysRepository
from registry.domain import openbadges, proofs, status_list
from registry.service_layer.unit_of_work import UnitOfWork

KEYS_CHAIN = "issuer-keys"
SUSPENSION = status_list.StatusPurpose.SUSPENSION.value
SUSPENSION_PREFIX = f"{SUSPENSION}-"
REVOCATION_PREFIX = f"{status_list.StatusPurpose.REVOCATION.value}-"


@dataclass(frozen=True)
class Issuance:
    """How the registry issues credentials: the key vault, and how long a credential is valid
    (``validUntil``; None: no expiry)."""

    vault: KeyVault = field(default_factory=KeyVault.development_vault)
    validity: timedelta | None = None
    _status_cache: dict[tuple[str, str, str], dict[str, Any]] = field(
        default_factory=dict, compare=False, repr=False
    )
    public_keys: dict[str, Ed25519PublicKey] = field(
        default_factory=dict, compare=False, repr=False
    )
    """This registry's public keys by key id, as read: a key id never changes its key (rotation
    adds keys, and every key stays resolvable), so verification reads each one once."""


def key_url(urls: openbadges.PublicUrls, key_id: str) -> str:
    """Where a key's Multikey document is published (the proofs' ``verificationMethod``)."""
    return f"{urls.issuer}/keys/{key_id}"


def key_id_of(urls: openbadges.PublicUrls, verification_method: str) -> str | None:
    """The key id if ``verification_method`` names one of this registry's keys, else None."""
    prefix = f"{urls.issuer}/keys/"
    if not verification_method.startswith(prefix):
        return None
    key_id = verification_method.removeprefix(prefix)
    return key_id if key_id and "/" not in key_id and "#" not in key_id else None


def multikey(urls: openbadges.PublicUrls, key: SigningKey) -> dict[str, Any]:
    """The key's verification method document (Controlled Identifiers ``Multikey``)."""
    return {
        "@context": [proofs.MULTIKEY_CONTEXT],
        "id": key_url(urls, key.key_id),
        "type": "Multikey",
        "controller": urls.issuer,
        "publicKeyMultibase": key.public_key_multibase,
    }


def issuer_profile(urls: openbadges.PublicUrls, keys: list[SigningKey]) -> dict[str, Any]:
    """The issuer's OB 3.0 ``Profile``, also its controller document: every key it ever
    signed with, current or rotated out, is an ``assertionMethod``."""
    methods = [{k: v for k, v in multikey(urls, key).items() if k != "@context"} for key in keys]
    return {
        # The DID v1 context defines assertionMethod / verificationMethod / controller, which
        # verifiers read from a controller document in JSON-LD safe mode.
        "@context": [
            openbadges.VC_V2_CONTEXT,
            openbadges.OB_V3_CONTEXT,
            proofs.DID_V1_CONTEXT,
            proofs.MULTIKEY_CONTEXT,
        ],
        "id": urls.issuer,
        "type": ["Profile"],
        "name": urls.issuer_name,
        "verificationMethod": methods,
        "assertionMethod": [m["id"] for m in methods],
    }


async def current_signer(
    session: AsyncSession, issuance: Issuance, urls: openbadges.PublicUrls, now: datetime
) -> Signer:
    """The key that signs now; the first one is generated on first use (concurrent first
    uses agree on one key)."""
    repo = SigningKeysRepository(session)
    found = await repo.current_sealed()
    if found is None:
        await repo.lock()
        found = await repo.current_sealed()
    if found is None:
        number = await repo.next_number()
        if await repo.insert_current(issuance.vault, number=number, actor="registry", now=now):
            await audit.append(
                session,
                actor="registry",
                action="signing_key.created",
                object_type="signing_key",
                object_id=f"key-{number}",
                chain=KEYS_CHAIN,
                at=now,
            )
        found = await repo.current_sealed()
        if found is None:  # pragma: no cover - the other transaction rolled back mid-way
            raise RuntimeError("no current signing key could be established")
    key, kek_id, sealed = found
    private = issuance.vault.unseal(key.key_id, kek_id, sealed)
    return Signer(key=key, private_key=private, verification_method=key_url(urls, key.key_id))


async def sign_awaiting(
    session: AsyncSession,
    issuance: Issuance,
    urls: openbadges.PublicUrls,
    now: datetime,
    *,
    limit: int = 20,
    credential_id: str | None = None,
    educator_id: str | None = None,
    wait: bool = False,
) -> int:
    """Add the proof to credentials recorded without one (awards are signed after they commit,
    off the award's path): the oldest ``limit``, or one credential's, or one educator's. Each row
    is locked while signed, so a credential is signed once whoever gets there first (the
    ``credential-signer`` worker, or a reader asking for it with ``wait=True``). Returns how many
    were signed."""
    repo = AwardsRepository(session)
    pending = await repo.awaiting_signature(
        limit, credential_id=credential_id, educator_id=educator_id, wait=wait
    )
    if not pending:
        return 0
    signer = await current_signer(session, issuance, urls, now)
    for pending_id, document in pending:
        # Canonicalization is CPU work: in a thread, so the event loop keeps serving meanwhile.
        signed = await asyncio.to_thread(signer.sign, document, now)
        await repo.store_signature(pending_id, signed, signer.key.key_id, now)
    return len(pending)


async def rotate_key(
    uow: UnitOfWork, issuance: Issuance, urls: openbadges.PublicUrls, actor: str, now: datetime
) -> SigningKey:
    """A new key signs from now on; the old one is retired (private key erased, public key
    still published, so what it signed still verifies)."""
    async with uow:
        repo = SigningKeysRepository(uow.session)
        await repo.lock()  # one rotation (or first key) at a time
        old = await repo.current_sealed(for_update=True)
        if old is not None:
            await repo.retire(old[0].key_id, now)
        number = await repo.next_number()
        if not await repo.insert_current(issuance.vault, number=number, actor=actor, now=now):
            raise RuntimeError("another rotation is in progress; try again")
        await audit.append(
            uow.session,
            actor=actor,
            action="signing_key.rotated",
            object_type="signing_key",
            object_id=f"key-{number}",
            details={"retired": old[0].key_id if old else None},
            chain=KEYS_CHAIN,
            at=now,
        )
        key = await repo.get(f"key-{number}")
        await uow.commit()
    assert key is not None
    return key


async def public_key(session: AsyncSession, key_id: str) -> SigningKey | None:
    return await SigningKeysRepository(session).get(key_id)


async def signed_status_list(
    session: AsyncSession,
    issuance: Issuance,
    urls: openbadges.PublicUrls,
    list_id: str,
    now: datetime,
) -> dict[str, Any] | None:
    """The signed ``BitstringStatusListCredential`` of ``list_id`` (None: no such list).
    Signed once per change of the list (and per key), then served from memory."""
    repo = AwardsRepository(session)
    found = await repo.status_list(list_id)
    if found is None and list_id.startswith(SUSPENSION_PREFIX):
        # The parallel suspension list of a revocation list nobody was suspended from yet.
        parallel = await repo.status_list(
            REVOCATION_PREFIX + list_id.removeprefix(SUSPENSION_PREFIX)
        )
        if parallel is not None:
            found = (SUSPENSION, status_list.empty_list(), parallel[2])
    if found is None:
        return None
    purpose, bits, updated_at = found
    signer = await current_signer(session, issuance, urls, now)
    cache_key = (list_id, hashlib.sha256(bits).hexdigest(), signer.key.key_id)
    cached = issuance._status_cache.get(cache_key)
    if cached is not None:
        return cached
    document = openbadges.status_list_credential(urls, list_id, purpose, bits, updated_at)
    signed = signer.sign(document, updated_at)
    if len(issuance._status_cache) > 256:
        issuance._status_cache.clear()
    issuance._status_cache[cache_key] = signed
    return signed
