"""Verifying an Open Badges 3.0 credential (1EdTech OB 3.0 "Verification" steps), check by
check: schema, proof, status, validity window.

The checks that need the outside world (resolving a verification method, fetching a status
list credential) go through the two resolvers the caller passes in, so the rules here stay
the same whoever resolves. A status list that cannot be read, or does not verify, makes the
status *unknown*, never valid.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import cache
from typing import Any

import jsonschema
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from registry.domain import proof_cache, proofs, status_list
from registry.standards import ob3_achievement_credential_schema


class Result(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    UNKNOWN = "unknown"
    REVOKED = "revoked"
    SUSPENDED = "suspended"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"


class Outcome(StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    REVOKED = "revoked"
    SUSPENDED = "suspended"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    STATUS_UNKNOWN = "status_unknown"


@dataclass(frozen=True)
class Check:
    check: str
    result: Result
    detail: str = ""


@dataclass(frozen=True)
class Report:
    checks: tuple[Check, ...]
    outcome: Outcome = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "outcome", _outcome(self.checks))

    @property
    def verified(self) -> bool:
        return self.outcome is Outcome.VALID


def _outcome(checks: tuple[Check, ...]) -> Outcome:
    results = {c.check: c.result for c in checks}
    if results.get("schema") is not Result.PASSED or results.get("proof") is not Result.PASSED:
        return Outcome.INVALID
    status = results.get("status")
    if status is Result.REVOKED:
        return Outcome.REVOKED
    if status is Result.SUSPENDED:
        return Outcome.SUSPENDED
    validity = results.get("validity")
    if validity is Result.EXPIRED:
        return Outcome.EXPIRED
    if validity is Result.NOT_YET_VALID:
        return Outcome.NOT_YET_VALID
    if validity is not Result.PASSED:
        return Outcome.INVALID
    if status is not Result.PASSED:
        return Outcome.STATUS_UNKNOWN
    return Outcome.VALID


@dataclass(frozen=True)
class ResolvedKey:
    public_key: Ed25519PublicKey
    controller: str


_verified_lists: set[bytes] = set()
"""Digests of status list credentials whose proof verified (keys are never withdrawn, so a
document that verified once verifies again)."""

KeyResolver = Callable[[str], Awaitable[ResolvedKey | None]]
"""verificationMethod URL -> its key and controller, or None if it cannot be resolved."""
ListFetcher = Callable[[str], Awaitable[Mapping[str, Any] | None]]
"""statusListCredential URL -> the status list credential, or None if it cannot be read."""
SuspensionListFor = Callable[[str], str | None]
"""A revocation list URL -> the URL of its parallel suspension list (this issuer's scheme),
or None when there is none."""
BitReader = Callable[[str, int, str], Awaitable[bool | str]]
"""(list URL, index, purpose) -> the bit, or why it cannot be known: a status list read
straight from the records of the issuer that keeps it (the verifier *is* that issuer, so
there is no list credential to fetch and check)."""


def did_key(method: str) -> ResolvedKey | None:
    """An Ed25519 ``did:key`` verification method resolves by itself, offline:
    ``did:key:z6Mk...#z6Mk...`` names its own public key, and the DID is its controller."""
    if not method.startswith("did:key:z"):
        return None
    did, _, fragment = method.partition("#")
    encoded = did.removeprefix("did:key:")
    if fragment and fragment != encoded:
        return None
    try:
        return ResolvedKey(public_key=proofs.public_key_from_multibase(encoded), controller=did)
    except proofs.ProofError:
        return None


def issuer_id(document: Mapping[str, Any]) -> str | None:
    issuer = document.get("issuer")
    if isinstance(issuer, str):
        return issuer
    if isinstance(issuer, Mapping) and isinstance(issuer.get("id"), str):
        return str(issuer["id"])
    return None


@cache
def _schema_validator() -> jsonschema.Draft201909Validator:
    return jsonschema.Draft201909Validator(ob3_achievement_credential_schema())


def check_schema(document: Mapping[str, Any]) -> Check:
    """Against the official 1EdTech AchievementCredential JSON Schema (draft 2019-09); the
    result is memoised by content (:mod:`registry.domain.proof_cache`)."""
    return proof_cache.schema_result(document, _check_schema)


def _check_schema(document: Mapping[str, Any]) -> Check:
    validator = _schema_validator()
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    if not errors:
        return Check("schema", Result.PASSED, "OB 3.0 AchievementCredential JSON Schema")
    shown = "; ".join(
        f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message[:200]}" for e in errors[:5]
    )
    return Check("schema", Result.FAILED, f"{len(errors)} schema error(s): {shown}")


MAX_NODES = 2000
MAX_DEPTH = 40


def check_processable(document: Mapping[str, Any]) -> None:
    """Refuse (:class:`~registry.domain.proofs.ProofError`) documents whose canonicalization
    could be made arbitrarily expensive: RDFC-1.0 is exponential on crafted graphs of
    interlinked blank nodes, which need explicit ``_:`` identifiers; credentials do not use
    them. Also bounds the number of JSON objects and the nesting depth."""
    count = 0
    stack: list[tuple[Any, int]] = [(document, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise proofs.ProofError(f"the document nests deeper than {MAX_DEPTH} levels")
        if isinstance(value, Mapping):
            count += 1
            if count > MAX_NODES:
                raise proofs.ProofError(f"the document has more than {MAX_NODES} objects")
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
        elif isinstance(value, str) and value.startswith("_:"):
            raise proofs.ProofError(
                "explicit blank node identifiers ('_:...') are not accepted in credentials"
            )


async def check_proof(document: Mapping[str, Any], resolve_key: KeyResolver) -> Check:
    """Every proof verifies with a key the issuer controls. Canonicalization runs in a worker
    thread, so a verification does not stall the event loop."""
    try:
        items = proofs.proofs_of(document)
        methods = []
        for proof in items:
            method = proofs.check_proof_shape(proof)
            key = await resolve_key(method)
            if key is None:
                raise proofs.ProofError(f"verification method {method} cannot be resolved")
            if key.controller != issuer_id(document):
                raise proofs.ProofError(
                    f"the key {method} is controlled by {key.controller}, not by the issuer "
                    f"{issuer_id(document)}"
                )
            if not proofs.verified_before(document, proof, key.public_key):
                check_processable(document)  # before canonicalization (a memo hit needs none)
                await asyncio.to_thread(proofs.verify, document, proof, key.public_key)
            methods.append(method)
    except proofs.ProofError as exc:
        return Check("proof", Result.FAILED, str(exc))
    except Exception as exc:  # malformed JSON-LD the processor chokes on: not a valid proof
        return Check("proof", Result.FAILED, f"the document cannot be processed: {exc!r:.300}")
    return Check("proof", Result.PASSED, f"eddsa-rdfc-2022 signature by {', '.join(methods)}")


async def _read_bit(
    url: str, index: int, purpose: str, fetch: ListFetcher, resolve_key: KeyResolver
) -> bool | str:
    """The bit, or why it cannot be known."""
    listing = await fetch(url)
    if listing is None:
        return f"the {purpose} status list {url} cannot be read"
    # A list credential changes only when a bit does: verify each version (with the keys it
    # resolves to now) once.
    digest = hashlib.sha256(json.dumps(listing, sort_keys=True).encode())
    try:
        for proof_item in proofs.proofs_of(listing):
            key = await resolve_key(str(proof_item.get("verificationMethod")))
            if key is not None:
                digest.update(key.public_key.public_bytes_raw() + key.controller.encode())
    except proofs.ProofError:
        pass  # check_proof below says what is wrong
    if digest.digest() not in _verified_lists:
        proof = await check_proof(listing, resolve_key)
        if proof.result is not Result.PASSED:
            return f"the {purpose} status list does not verify: {proof.detail}"
        if len(_verified_lists) > 1024:
            _verified_lists.clear()
        _verified_lists.add(digest.digest())
    subject = listing.get("credentialSubject")
    if not isinstance(subject, Mapping) or subject.get("statusPurpose") != purpose:
        return f"{url} is not a {purpose} status list"
    try:
        bits = proof_cache.decoded_list(str(subject.get("encodedList", "")), status_list.decode)
        return status_list.get_bit(bits, index)
    except Exception as exc:  # bad base64, gzip, zlib, range: whatever it is, not readable
        return f"the {purpose} status list cannot be decoded: {exc!r:.200}"


async def check_status(
    document: Mapping[str, Any],
    fetch: ListFetcher,
    resolve_key: KeyResolver,
    suspension_list_for: SuspensionListFor,
    read_bit: BitReader | None = None,
) -> Check:
    """The credential's ``credentialStatus``: the bit of each list (and of the parallel
    suspension list of a revocation list), read with ``read_bit`` when given, else from the
    fetched, verified status list credential."""
    entry = document.get("credentialStatus")
    if entry is None:
        return Check("status", Result.PASSED, "the credential declares no status")
    if not isinstance(entry, Mapping) or entry.get("type") != "BitstringStatusListEntry":
        return Check(
            "status",
            Result.UNKNOWN,
            "unsupported credentialStatus (not a BitstringStatusListEntry)",
        )
    purpose = entry.get("statusPurpose")
    url = entry.get("statusListCredential")
    try:
        index = int(str(entry.get("statusListIndex")))
    except ValueError:
        return Check("status", Result.UNKNOWN, "statusListIndex is not an integer")
    if purpose not in ("revocation", "suspension") or not isinstance(url, str):
        return Check("status", Result.UNKNOWN, f"unsupported statusPurpose {purpose!r}")
    lists = [(purpose, url)]
    if purpose == "revocation" and (parallel := suspension_list_for(url)) is not None:
        lists.append(("suspension", parallel))
    for list_purpose, list_url in lists:
        bit = (
            await read_bit(list_url, index, list_purpose)
            if read_bit is not None
            else await _read_bit(list_url, index, list_purpose, fetch, resolve_key)
        )
        if isinstance(bit, str):
            return Check("status", Result.UNKNOWN, bit)
        if bit:
            result = Result.REVOKED if list_purpose == "revocation" else Result.SUSPENDED
            return Check("status", result, f"bit {index} of {list_url} is set")
    return Check(
        "status", Result.PASSED, f"not revoked or suspended ({', '.join(u for _, u in lists)})"
    )


def _instant(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("not a date-time string")
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError("a date-time needs a time zone")
    return moment


def check_validity(document: Mapping[str, Any], now: datetime) -> Check:
    try:
        valid_from = _instant(document.get("validFrom"))
        until_raw = document.get("validUntil")
        valid_until = None if until_raw is None else _instant(until_raw)
    except ValueError as exc:
        return Check("validity", Result.FAILED, f"validFrom/validUntil: {exc}")
    if now < valid_from:
        return Check("validity", Result.NOT_YET_VALID, f"valid from {valid_from.isoformat()}")
    if valid_until is not None and now >= valid_until:
        return Check("validity", Result.EXPIRED, f"expired at {valid_until.isoformat()}")
    window = f"from {valid_from.isoformat()}" + (
        f" until {valid_until.isoformat()}" if valid_until else " (no expiry)"
    )
    return Check("validity", Result.PASSED, window)


async def verify_credential(
    document: Mapping[str, Any],
    now: datetime,
    resolve_key: KeyResolver,
    fetch: ListFetcher,
    suspension_list_for: SuspensionListFor = lambda _url: None,
) -> Report:
    return Report(
        (
            check_schema(document),
            await check_proof(document, resolve_key),
            await check_status(document, fetch, resolve_key, suspension_list_for),
            check_validity(document, now),
        )
    )
