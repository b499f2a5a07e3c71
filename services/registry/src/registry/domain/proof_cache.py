"""Memos of the pure, CPU-heavy parts of verifying a credential, keyed by content.

A verifier portal checks the same credential again and again. Three results depend only on the
bytes of what is checked, never on time or on the registry's state:

- a proof that verified (RDFC-1.0 canonicalization, SHA-256, Ed25519: about 8 ms of CPU) stays
  verified for the same document, proof and public key;
- the 1EdTech JSON Schema result of a document (about 3 ms);
- the bits of a status list's ``encodedList`` (GZIP inflate of 16 KiB or more).

So each is memoised in a bounded LRU keyed by a SHA-256 over *canonical JSON*
(``json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)``) of what it is a
function of. Two JSON-equal documents serialize to the same bytes and give the same result;
any change (one character of a claim, a proof, another key) gives another key, so a memo can
never make an altered or re-keyed document pass. Only proofs that *verified* are remembered: a
failing one is checked in full every time. Values that are not plain JSON (never the case for a
parsed request body) are not memoised.

What is *not* memoised: anything that can change while the bytes stay the same. A status list
is read from its source on every verification, and only its decoding is memoised, keyed by the
``encodedList`` itself, so a revocation (a new ``encodedList``) is seen by the very next
verification. Key resolution also runs every time.

``REGISTRY_PROOF_CACHE_SIZE`` (the registry's settings, applied by :func:`configure` when the
service is built; default 65,536; 0 turns the memos off) bounds the proof and schema memos:
about 200 bytes per proof entry, a few hundred per schema entry.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from typing import Any, Generic, TypeVar

DEFAULT_SIZE = 65_536
LIST_MEMO_SIZE = 64
"""Decoded status lists kept (16 KiB each at the minimum list size)."""

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def canonical_json(value: Any) -> bytes | None:
    """The canonical JSON bytes of ``value``, or None if it is not plain JSON."""
    try:
        return json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        ).encode()
    except (TypeError, ValueError):
        return None


class Lru(Generic[K, V]):
    """A thread-safe bounded LRU map (verification runs in worker threads too)."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._items.get(key)
            if value is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: K, value: V) -> None:
        if self.maxsize <= 0:
            return
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._items)


VERIFIED_PROOFS: Lru[bytes, bool] = Lru(DEFAULT_SIZE)
"""Digests of (document, proof, public key) whose proof verified."""
SCHEMA_RESULTS: Lru[bytes, Any] = Lru(DEFAULT_SIZE)
"""Digest of a document -> its JSON Schema check."""
DECODED_LISTS: Lru[str, bytes] = Lru(LIST_MEMO_SIZE)
"""``encodedList`` -> its bits."""


def proof_digest(
    document: Mapping[str, Any], proof: Mapping[str, Any], public_key: bytes
) -> bytes | None:
    """What a proof verification is a function of: the whole document (its proofs included),
    the proof checked and the raw public key. None: not memoisable."""
    doc = canonical_json(document)
    one = canonical_json(proof)
    if doc is None or one is None:
        return None
    digest = hashlib.sha256()
    for part in (doc, one, public_key):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.digest()


def schema_result(document: Mapping[str, Any], check: Callable[[Mapping[str, Any]], V]) -> V:
    """``check(document)``, memoised by the document's canonical JSON."""
    raw = canonical_json(document) if SCHEMA_RESULTS.maxsize > 0 else None
    if raw is None:
        return check(document)
    key = hashlib.sha256(raw).digest()
    found = SCHEMA_RESULTS.get(key)
    if found is not None:
        return found  # type: ignore[no-any-return]
    result = check(document)
    SCHEMA_RESULTS.put(key, result)
    return result


def decoded_list(encoded: str, decode: Callable[[str], bytes]) -> bytes:
    """``decode(encoded)``, memoised by the encoded list itself (a changed list is another
    key, so a status change is never hidden)."""
    found = DECODED_LISTS.get(encoded)
    if found is not None:
        return found
    bits = decode(encoded)
    DECODED_LISTS.put(encoded, bits)
    return bits


def clear() -> None:
    for memo in (VERIFIED_PROOFS, SCHEMA_RESULTS, DECODED_LISTS):
        memo.clear()


def configure(size: int) -> None:
    """Resize (0: off) and empty the memos."""
    VERIFIED_PROOFS.maxsize = SCHEMA_RESULTS.maxsize = size
    DECODED_LISTS.maxsize = LIST_MEMO_SIZE if size else 0
    clear()
