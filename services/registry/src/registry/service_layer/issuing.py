"""How the registry issues and checks credentials, shared by the capabilities that hand out or
read signed documents (credentials and their status, the CLR, imports):

- :class:`Issuance`: its public URLs, its key vault, how long credentials are valid, and how
  it reads other issuers' status lists (built once by the composition root);
- :func:`current_signer` and :func:`sign_awaiting`: the key that signs now (made on first
  use), and the proofs added to credentials recorded without one;
- :class:`KeyResolver` and :func:`issuer_status`: resolving a verification method without
  the network, and reading another issuer's status list.

Everything here runs in a unit of work someone else entered (or, for the key resolver, in a
short one of its own).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from registry.adapters.signing_keys import KeyVault, Signer
from registry.adapters.status_fetch import StatusListFetcher
from registry.domain import openbadges, verification
from registry.service_layer.unit_of_work import UnitOfWork

KEYS_CHAIN = "issuer-keys"
"""The audit chain of the signing keys (made, rotated)."""


@dataclass(frozen=True)
class Issuance:
    """How the registry issues credentials: its public URLs, the key vault, how long a
    credential is valid (``validUntil``; None: no expiry), and the reader of other issuers'
    status lists (None: they are not read, their status is unknown)."""

    urls: openbadges.PublicUrls
    vault: KeyVault = field(default_factory=KeyVault.development_vault)
    validity: timedelta | None = None
    status_fetcher: StatusListFetcher | None = None
    status_cache: dict[tuple[str, str, str], dict[str, Any]] = field(
        default_factory=dict, compare=False, repr=False
    )
    """Signed status list credentials, by ``(list id, digest of its bits, key id)``."""
    public_keys: dict[str, Ed25519PublicKey] = field(
        default_factory=dict, compare=False, repr=False
    )
    """This registry's public keys by key id, as read: a key id never changes its key (rotation
    adds keys, and every key stays resolvable), so verification reads each one once."""


async def current_signer(uow: UnitOfWork, issuance: Issuance, now: datetime) -> Signer:
    """The key that signs now; the first one is generated on first use (concurrent first
    uses agree on one key)."""
    found = await uow.keys.current_sealed()
    if found is None:
        await uow.keys.lock()
        found = await uow.keys.current_sealed()
    if found is None:
        number = await uow.keys.next_number()
        if await uow.keys.insert_current(issuance.vault, number=number, actor="registry", now=now):
            uow.audit(
                actor="registry",
                action="signing_key.created",
                object_type="signing_key",
                object_id=f"key-{number}",
                chain=KEYS_CHAIN,
                at=now,
            )
        found = await uow.keys.current_sealed()
        if found is None:  # pragma: no cover - the other transaction rolled back mid-way
            raise RuntimeError("no current signing key could be established")
    private = issuance.vault.unseal(found.key.key_id, found.kek_id, found.sealed)
    return Signer(
        key=found.key,
        private_key=private,
        verification_method=openbadges.key_url(issuance.urls, found.key.key_id),
    )


async def sign_awaiting(
    uow: UnitOfWork,
    issuance: Issuance,
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
    pending = await uow.awards.awaiting_signature(
        limit, credential_id=credential_id, educator_id=educator_id, wait=wait
    )
    if not pending:
        return 0
    signer = await current_signer(uow, issuance, now)
    for unsigned in pending:
        # Canonicalization is CPU work: in a thread, so the event loop keeps serving meanwhile.
        signed = await asyncio.to_thread(signer.sign, unsigned.document, now)
        await uow.awards.store_signature(unsigned.credential_id, signed, signer.key.key_id, now)
    return len(pending)


class KeyResolver:
    """``did:key`` by itself; this registry's keys from its records: in the caller's unit of
    work while :attr:`inside` it, else in a short transaction of its own (so none stays open
    across a network fetch)."""

    def __init__(self, uow: UnitOfWork, issuance: Issuance) -> None:
        self.uow = uow
        self.urls = issuance.urls
        self.inside = False
        self.known = issuance.public_keys

    async def __call__(self, method: str) -> verification.ResolvedKey | None:
        if (self_resolving := verification.did_key(method)) is not None:
            return self_resolving
        key_id = openbadges.key_id_of(self.urls, method)
        if key_id is None:
            return None
        found = self.known.get(key_id)
        if found is None:
            if self.inside:
                key = await self.uow.keys.get(key_id)
            else:
                async with self.uow:
                    key = await self.uow.keys.get(key_id)
            if key is None:
                return None  # not remembered: a key made later under this id must resolve
            found = self.known[key_id] = key.public_key
        return verification.ResolvedKey(public_key=found, controller=self.urls.issuer)


def _listing_in_force(
    fetch: StatusListFetcher, issuer: str | None, now: datetime, refused: dict[str, str]
) -> verification.ListFetcher:
    """``fetch``, with a status list credential of another issuer than the credential's (its
    proof would prove nothing about this credential), or an expired one, unreadable."""

    async def fetch_in_force(url: str) -> Mapping[str, Any] | None:
        listing = await fetch(url)
        if listing is None:
            refused[url] = fetch.last_failure.get(url, "it cannot be fetched")
            return None
        if issuer is None or verification.issuer_id(listing) != issuer:
            refused[url] = (
                f"the status list is issued by {verification.issuer_id(listing)!r:.200}, "
                f"not by the credential's issuer {issuer!r:.200}"
            )
            return None
        until = listing.get("validUntil")
        if until is not None:
            check = verification.check_validity({"validFrom": now.isoformat(), **listing}, now)
            if check.result is not verification.Result.PASSED:
                refused[url] = f"the status list credential is {check.result.value} ({until})"
                return None
        return listing

    return fetch_in_force


async def issuer_status(
    document: Mapping[str, Any],
    fetch: StatusListFetcher | None,
    resolve_key: verification.KeyResolver,
    now: datetime,
) -> verification.Check:
    """The ``status`` check of a credential issued elsewhere, from its issuer's status list."""
    entry = document.get("credentialStatus")
    if entry is not None and fetch is None:
        return verification.Check(
            "status",
            verification.Result.UNKNOWN,
            "this registry does not read other issuers' status lists",
        )
    refused: dict[str, str] = {}
    check = await verification.check_status(
        document,
        (
            _listing_in_force(fetch, verification.issuer_id(document), now, refused)
            if fetch
            else nothing
        ),
        resolve_key,
        lambda _url: None,  # another issuer's lists have no parallel list we know of
    )
    if check.result is verification.Result.UNKNOWN and refused:
        reasons = "; ".join(refused.values())
        return verification.Check("status", check.result, f"{check.detail}: {reasons}")
    return check


async def nothing(_url: str) -> Mapping[str, Any] | None:
    """A status list fetcher that reads nothing (this registry's own lists are read from its
    records instead)."""
    return None
