"""POST /credentials/verify: the domain's checks with this registry's resolvers.

Keys are resolved without the network: a verification method under this registry's public URL
is read from the registry's own records (the same documents its public URLs serve); an Ed25519
``did:key`` resolves by itself; anything else cannot be resolved here, so another issuer's
HTTP key fails the proof.

Status lists: one under this registry's public URL is read from its own records (with the
parallel suspension list): the one byte holding the credential's bit in each list, both in one
statement, on every verification (a revocation shows on the very next one). Another issuer's
``statusListCredential`` is fetched over HTTP(S)
(:class:`~registry.adapters.status_fetch.StatusListFetcher`: bounded time and size, optional
host allowlist), and only for a credential whose proof verified. The status list credential
must be issued by the credential's issuer, and its own proof must verify with a key of that
issuer resolved as above (a ``did:key``, or this registry's keys). A list that cannot be
fetched, is expired, does not verify or cannot be decoded leaves the status *unknown*, never
valid. No database transaction is held open while a list is fetched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from registry.adapters.status_bits import ListByte, status_list_bytes
from registry.adapters.status_fetch import StatusListFetcher
from registry.domain import openbadges, status_list, verification
from registry.service_layer.signing import (
    REVOCATION_PREFIX,
    SUSPENSION,
    SUSPENSION_PREFIX,
    Issuance,
    key_id_of,
    public_key,
)
from registry.service_layer.unit_of_work import UnitOfWork


def suspension_list_for(urls: openbadges.PublicUrls, revocation_url: str) -> str | None:
    prefix = urls.status_list("")
    list_id = revocation_url.removeprefix(prefix)
    if not revocation_url.startswith(prefix) or not list_id.startswith(REVOCATION_PREFIX):
        return None
    return urls.status_list(SUSPENSION_PREFIX + list_id.removeprefix(REVOCATION_PREFIX))


def foreign_status_url(document: Mapping[str, Any], urls: openbadges.PublicUrls) -> str | None:
    """The ``statusListCredential`` of ``document`` when it is not one of this registry's
    lists (None: no status entry, or one of ours)."""
    entry = document.get("credentialStatus")
    if not isinstance(entry, Mapping):
        return None
    url = entry.get("statusListCredential")
    if not isinstance(url, str) or url.startswith(urls.status_list("")):
        return None
    return url


class OwnStatusBits:
    """The bits of this registry's own status lists, from its records: the byte holding the
    bit, of the list and of its parallel list, in one statement (then from memory for the rest
    of this verification). A suspension list nobody was suspended from yet exists only as its
    revocation list's parallel: all zeros."""

    def __init__(self, session: AsyncSession, urls: openbadges.PublicUrls) -> None:
        self.session = session
        self.urls = urls
        self._read: dict[tuple[str, int], ListByte | None] = {}

    async def __call__(self, url: str, index: int, purpose: str) -> bool | str:
        prefix = self.urls.status_list("")
        list_id = url.removeprefix(prefix)
        if not url.startswith(prefix) or not list_id or "/" in list_id:
            return f"the {purpose} status list {url} cannot be read"
        if index < 0:
            return _undecodable(purpose, index)
        offset, mask = divmod(index, 8)
        found = await self._byte(list_id, offset)
        if found is None:
            return f"the {purpose} status list {url} cannot be read"
        if found.purpose != purpose:
            return f"{url} is not a {purpose} status list"
        if found.value is None:
            return _undecodable(purpose, index)
        return bool(found.value & (0x80 >> mask))

    async def _byte(self, list_id: str, offset: int) -> ListByte | None:
        if (list_id, offset) not in self._read:
            revocation, suspension = _pair(list_id)
            wanted = [i for i in (revocation, suspension) if i is not None]
            read = await status_list_bytes(self.session, wanted, offset)
            for wanted_id in wanted:
                self._read[wanted_id, offset] = read.get(wanted_id)
            if suspension is not None and revocation in read and suspension not in read:
                within = offset < status_list.LIST_BYTES
                self._read[suspension, offset] = ListByte(SUSPENSION, 0 if within else None)
        return self._read[list_id, offset]


def _pair(list_id: str) -> tuple[str | None, str | None]:
    """A list's revocation list and its parallel suspension list (ids; None if not that kind)."""
    if list_id.startswith(REVOCATION_PREFIX):
        return list_id, SUSPENSION_PREFIX + list_id.removeprefix(REVOCATION_PREFIX)
    if list_id.startswith(SUSPENSION_PREFIX):
        return REVOCATION_PREFIX + list_id.removeprefix(SUSPENSION_PREFIX), list_id
    return None, list_id


def _undecodable(purpose: str, index: int) -> str:
    problem = IndexError(f"status list index {index} is outside the list")
    return f"the {purpose} status list cannot be decoded: {problem!r:.200}"


class KeyResolver:
    """``did:key`` by itself; this registry's keys from its records: in the caller's open
    session when it sets :attr:`session`, else in a short transaction of its own (so none stays
    open across a network fetch)."""

    def __init__(
        self, uow: UnitOfWork, urls: openbadges.PublicUrls, issuance: Issuance | None = None
    ) -> None:
        self.uow = uow
        self.urls = urls
        self.session: AsyncSession | None = None
        self.known = issuance.public_keys if issuance is not None else {}

    async def __call__(self, method: str) -> verification.ResolvedKey | None:
        if (self_resolving := verification.did_key(method)) is not None:
            return self_resolving
        key_id = key_id_of(self.urls, method)
        if key_id is None:
            return None
        found = self.known.get(key_id)
        if found is None:
            if self.session is not None:
                key = await public_key(self.session, key_id)
            else:
                async with self.uow:
                    key = await public_key(self.uow.session, key_id)
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
            else _nothing
        ),
        resolve_key,
        lambda _url: None,  # another issuer's lists have no parallel list we know of
    )
    if check.result is verification.Result.UNKNOWN and refused:
        reasons = "; ".join(refused.values())
        return verification.Check("status", check.result, f"{check.detail}: {reasons}")
    return check


async def _nothing(_url: str) -> Mapping[str, Any] | None:
    return None


async def verify(
    uow: UnitOfWork,
    document: Mapping[str, Any],
    urls: openbadges.PublicUrls,
    issuance: Issuance,
    now: datetime,
    fetch_foreign: StatusListFetcher | None = None,
) -> verification.Report:
    return (await verify_many(uow, [document], urls, issuance, now, fetch_foreign))[0]


async def verify_many(
    uow: UnitOfWork,
    documents: Sequence[Mapping[str, Any]],
    urls: openbadges.PublicUrls,
    issuance: Issuance,
    now: datetime,
    fetch_foreign: StatusListFetcher | None = None,
) -> list[verification.Report]:
    """Each document's report, in order. This registry's own credentials (and those without a
    status) share one short transaction for their keys and status bits; another issuer's are
    checked after it, so no transaction is open while their lists are fetched."""
    resolve_key = KeyResolver(uow, urls, issuance)
    reports: dict[int, verification.Report] = {}
    own = [i for i, document in enumerate(documents) if foreign_status_url(document, urls) is None]
    if own:
        async with uow:
            resolve_key.session = uow.session
            read_bit = OwnStatusBits(uow.session, urls)
            for i in own:
                document = documents[i]
                reports[i] = verification.Report(
                    (
                        verification.check_schema(document),
                        await verification.check_proof(document, resolve_key),
                        await verification.check_status(
                            document,
                            _nothing,
                            resolve_key,
                            lambda url: suspension_list_for(urls, url),
                            read_bit=read_bit,
                        ),
                        verification.check_validity(document, now),
                    )
                )
            resolve_key.session = None
    for i, document in enumerate(documents):
        if i not in reports:
            reports[i] = await _verify_foreign(document, resolve_key, fetch_foreign, now)
    return [reports[i] for i in range(len(documents))]


async def _verify_foreign(
    document: Mapping[str, Any],
    resolve_key: KeyResolver,
    fetch_foreign: StatusListFetcher | None,
    now: datetime,
) -> verification.Report:
    schema = verification.check_schema(document)
    proof = await verification.check_proof(document, resolve_key)
    if proof.result is not verification.Result.PASSED:
        # Nothing is fetched for a credential whose issuer did not sign it (anyone can post a
        # document naming any URL).
        status = verification.Check(
            "status", verification.Result.UNKNOWN, "not read: the proof does not verify"
        )
    else:
        status = await issuer_status(document, fetch_foreign, resolve_key, now)
    return verification.Report((schema, proof, status, verification.check_validity(document, now)))
