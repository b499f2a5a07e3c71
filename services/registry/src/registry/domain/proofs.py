"""Data Integrity proofs with the ``eddsa-rdfc-2022`` cryptosuite (W3C VC Data Integrity EdDSA
Cryptosuites v1.0, section 3.3), and Ed25519 ``Multikey`` encodings.

Signing (3.3.1-3.3.6): the document without ``proof`` and the proof options (with the
document's ``@context``) are each canonicalized with RDF Dataset Canonicalization (RDFC-1.0,
pyld's ``URDNA2015``) to N-Quads and hashed with SHA-256; the signature is Ed25519 over
``sha256(proof options) || sha256(document)``, written as multibase base58btc (``z...``).
Verification recomputes the same bytes and checks the signature with the public key the
``verificationMethod`` names. A proof that verified is remembered (bounded LRU, keyed by the
SHA-256 of the canonical JSON of the document and proof plus the public key: see
:mod:`registry.domain.proof_cache`), so re-checking the same credential skips the
canonicalization; a failing proof is always checked in full.

JSON-LD contexts come from pinned local copies only (``registry/standards/contexts``): a
context that is not pinned is an error, never a network fetch. Canonicalization runs in "safe
mode": a property that no context defines would be silently dropped from the RDF (and so could
be added or changed without breaking the signature), so it is an error instead.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import base58
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pyld import jsonld  # type: ignore[import-untyped]
from pyld.documentloader.frozen import (  # type: ignore[import-untyped]
    BUNDLED_CONTEXTS,
    FrozenDocumentLoader,
)

from registry.domain import proof_cache

PROOF_TYPE = "DataIntegrityProof"
CRYPTOSUITE = "eddsa-rdfc-2022"
MULTIKEY_CONTEXT = "https://w3id.org/security/multikey/v1"
DID_V1_CONTEXT = "https://www.w3.org/ns/did/v1"  # served from pyld's bundled copy
DATA_INTEGRITY_CONTEXT = "https://w3id.org/security/data-integrity/v2"
# Multicodec ``ed25519-pub`` (0xed) as an unsigned varint.
ED25519_PUB_PREFIX = b"\xed\x01"

# Context URL -> pinned file (provenance and sha256 in standards/contexts/README.md).
PINNED_CONTEXTS: Mapping[str, str] = {
    "https://www.w3.org/ns/credentials/v2": "credentials-v2.jsonld",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json": "ob-context-3.0.3.json",
    "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json": "ob-extensions.json",
    MULTIKEY_CONTEXT: "multikey-v1.jsonld",
    DATA_INTEGRITY_CONTEXT: "data-integrity-v2.jsonld",
}


# pyld keeps resolved contexts in a process-wide cache that is not thread-safe; verification
# runs canonicalization in worker threads, so one canonicalization at a time (the GIL
# serializes this CPU-bound work anyway).
_PYLD_LOCK = threading.Lock()


class ProofError(Exception):
    """The proof is missing, malformed, or does not verify (the message says which)."""


class CanonicalizationError(ProofError):
    """The document cannot be canonicalized safely (unknown context, undefined term...)."""


def contexts_dir() -> Path:
    return Path(str(resources.files("registry.standards").joinpath("contexts")))


class _PinnedLoader(FrozenDocumentLoader):  # type: ignore[misc]
    """Marks every document ``static``: pinned contexts never change, so pyld may keep them
    resolved in its shared cache instead of processing them again for every document
    (about twice as fast)."""

    def __call__(self, url: str, options: dict[str, Any]) -> Any:
        remote = dict(super().__call__(url, options))
        remote["tag"] = "static"
        return remote


@cache
def document_loader() -> Any:
    """pyld document loader serving only the pinned contexts (and pyld's own bundled W3C
    contexts); anything else raises, so nothing is ever fetched."""
    documents: dict[str, Any] = dict(BUNDLED_CONTEXTS)
    base = contexts_dir()
    for url, name in PINNED_CONTEXTS.items():
        documents[url] = base / name
    return _PinnedLoader(documents=documents)


def canonicalize(document: Mapping[str, Any]) -> str:
    """RDFC-1.0 canonical N-Quads of ``document`` (safe mode: undefined terms are errors)."""
    dropped: list[str | None] = []
    processor = jsonld.JsonLdProcessor(on_property_dropped=dropped.append)
    try:
        with _PYLD_LOCK:
            nquads: str = processor.normalize(
                dict(document),
                {
                    "algorithm": "URDNA2015",
                    "format": "application/n-quads",
                    "documentLoader": document_loader(),
                },
            )
    except jsonld.JsonLdError as exc:
        raise CanonicalizationError(f"JSON-LD processing failed: {_cause(exc)}") from exc
    if dropped:
        raise CanonicalizationError(
            f"properties not defined by any context: {sorted(str(d) for d in dropped)}"
        )
    return nquads


def _cause(exc: BaseException) -> str:
    while exc.__cause__ is not None:
        exc = exc.__cause__
    details = getattr(exc, "details", None)
    url = details.get("url") if isinstance(details, dict) else None
    return f"{exc} ({url})" if url else str(exc).splitlines()[0]


# -- keys ------------------------------------------------------------------------------------


def public_key_multibase(key: Ed25519PublicKey) -> str:
    """``publicKeyMultibase`` of an Ed25519 Multikey: ``z`` + base58btc(0xed01 + 32 bytes)."""
    return "z" + base58.b58encode(ED25519_PUB_PREFIX + key.public_bytes_raw()).decode()


def public_key_from_multibase(value: str) -> Ed25519PublicKey:
    if not value.startswith("z"):
        raise ProofError("publicKeyMultibase must be base58btc ('z' prefix)")
    try:
        raw = base58.b58decode(value[1:])
    except ValueError as exc:
        raise ProofError("publicKeyMultibase is not base58btc") from exc
    if len(raw) != 34 or raw[:2] != ED25519_PUB_PREFIX:
        raise ProofError("publicKeyMultibase is not an Ed25519 public key (0xed01 + 32 bytes)")
    return Ed25519PublicKey.from_public_bytes(raw[2:])


# -- proofs ----------------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _hash_data(unsecured: Mapping[str, Any], proof_config: Mapping[str, Any]) -> bytes:
    config = {"@context": unsecured.get("@context"), **proof_config}
    config.pop("proofValue", None)
    document_hash = hashlib.sha256(canonicalize(unsecured).encode()).digest()
    config_hash = hashlib.sha256(canonicalize(config).encode()).digest()
    return config_hash + document_hash


def unsecured(document: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k != "proof"}


def sign(
    document: Mapping[str, Any],
    key: Ed25519PrivateKey,
    verification_method: str,
    created: datetime,
) -> dict[str, Any]:
    """``document`` with one more ``DataIntegrityProof`` (``proof`` is always an array, as
    the OB 3.0 JSON Schema wants)."""
    options: dict[str, Any] = {
        "type": PROOF_TYPE,
        "cryptosuite": CRYPTOSUITE,
        "created": _iso(created),
        "verificationMethod": verification_method,
        "proofPurpose": "assertionMethod",
    }
    body = unsecured(document)
    signature = key.sign(_hash_data(body, options))
    proof = {**options, "proofValue": "z" + base58.b58encode(signature).decode()}
    existing = document.get("proof")
    proofs = (
        [] if existing is None else list(existing if isinstance(existing, list) else [existing])
    )
    return {**body, "proof": [*proofs, proof]}


@dataclass(frozen=True)
class ProofCheck:
    verification_method: str
    created: str | None


def proofs_of(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    raw = document.get("proof")
    if raw is None:
        raise ProofError("the document has no proof")
    items = raw if isinstance(raw, list) else [raw]
    if not items or not all(isinstance(p, dict) for p in items):
        raise ProofError("proof must be an object or a non-empty array of objects")
    return list(items)


def check_proof_shape(proof: Mapping[str, Any]) -> str:
    """The proof's verification method, once its shape is that of an eddsa-rdfc-2022 proof
    for assertions (else :class:`ProofError`)."""
    if proof.get("type") != PROOF_TYPE or proof.get("cryptosuite") != CRYPTOSUITE:
        raise ProofError(
            f"unsupported proof: type {proof.get('type')!r}, cryptosuite "
            f"{proof.get('cryptosuite')!r} (expected {PROOF_TYPE} / {CRYPTOSUITE})"
        )
    if proof.get("proofPurpose") != "assertionMethod":
        raise ProofError("proofPurpose must be assertionMethod")
    method = proof.get("verificationMethod")
    if not isinstance(method, str) or not method:
        raise ProofError("the proof names no verificationMethod")
    return method


def _digest(
    document: Mapping[str, Any], proof: Mapping[str, Any], public_key: Ed25519PublicKey
) -> bytes | None:
    if proof_cache.VERIFIED_PROOFS.maxsize <= 0:
        return None
    return proof_cache.proof_digest(document, proof, public_key.public_bytes_raw())


def verified_before(
    document: Mapping[str, Any], proof: Mapping[str, Any], public_key: Ed25519PublicKey
) -> bool:
    """True when this very proof of this very document (JSON-equal) already verified with
    ``public_key`` in this process: :func:`verify` would pass without any work."""
    digest = _digest(document, proof, public_key)
    return digest is not None and proof_cache.VERIFIED_PROOFS.get(digest) is not None


def verify(
    document: Mapping[str, Any], proof: Mapping[str, Any], public_key: Ed25519PublicKey
) -> None:
    """Raise :class:`ProofError` unless ``proof`` is a valid signature of ``document`` (with all
    its proofs removed, as for a proof set) by ``public_key``."""
    digest = _digest(document, proof, public_key)
    if digest is not None and proof_cache.VERIFIED_PROOFS.get(digest) is not None:
        return
    _verify(document, proof, public_key)
    if digest is not None:
        proof_cache.VERIFIED_PROOFS.put(digest, True)


def _verify(
    document: Mapping[str, Any], proof: Mapping[str, Any], public_key: Ed25519PublicKey
) -> None:
    check_proof_shape(proof)
    value = proof.get("proofValue")
    if not isinstance(value, str) or not value.startswith("z"):
        raise ProofError("proofValue must be multibase base58btc ('z' prefix)")
    try:
        signature = base58.b58decode(value[1:])
    except ValueError as exc:
        raise ProofError("proofValue is not base58btc") from exc
    if len(signature) != 64:
        raise ProofError("proofValue is not a 64-byte Ed25519 signature")
    config = {k: v for k, v in proof.items() if k != "proofValue"}
    if "@context" in config and config["@context"] != document.get("@context"):
        raise ProofError("the proof's @context differs from the document's")
    config.pop("@context", None)
    try:
        public_key.verify(signature, _hash_data(unsecured(document), config))
    except InvalidSignature as exc:
        raise ProofError(
            "the signature does not match the document (altered or wrong key)"
        ) from exc
