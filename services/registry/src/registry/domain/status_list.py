"""Bitstring Status List (W3C VC Bitstring Status List v1.0): one bit per credential.

Index 0 is the left-most bit of the first byte. A list holds at least 131,072 bits (16 KiB) so
that a single credential's status reveals little about who is being checked (herd privacy).
"""

from __future__ import annotations

import base64
import gzip
import zlib
from enum import StrEnum

MIN_BITS = 131_072
LIST_BYTES = MIN_BITS // 8
MAX_DECODED_BYTES = 2 * 1024 * 1024
"""The largest list :func:`decode` expands (16.7 million entries): a list read from elsewhere
is a few KiB of GZIP that could otherwise inflate to gigabytes."""


class StatusPurpose(StrEnum):
    REVOCATION = "revocation"
    SUSPENSION = "suspension"


REVOCATION_PREFIX = f"{StatusPurpose.REVOCATION.value}-"
SUSPENSION_PREFIX = f"{StatusPurpose.SUSPENSION.value}-"
"""This registry's lists are ``revocation-N`` and, in parallel (same indexes),
``suspension-N``: a credential names its revocation entry, and its suspension bit is the same
index of the parallel list (the OB 3.0 schema allows one ``credentialStatus``)."""


def parallel_lists(list_id: str) -> tuple[str | None, str | None]:
    """A list's revocation list and its parallel suspension list (ids; None if not that kind)."""
    if list_id.startswith(REVOCATION_PREFIX):
        return list_id, SUSPENSION_PREFIX + list_id.removeprefix(REVOCATION_PREFIX)
    if list_id.startswith(SUSPENSION_PREFIX):
        return REVOCATION_PREFIX + list_id.removeprefix(SUSPENSION_PREFIX), list_id
    return None, list_id


def empty_list() -> bytes:
    return bytes(LIST_BYTES)


def _locate(bits: bytes, index: int) -> tuple[int, int]:
    if not 0 <= index < len(bits) * 8:
        raise IndexError(f"status list index {index} is outside the list")
    return index // 8, 0x80 >> (index % 8)


def get_bit(bits: bytes, index: int) -> bool:
    byte, mask = _locate(bits, index)
    return bool(bits[byte] & mask)


def set_bit(bits: bytes, index: int, value: bool = True) -> bytes:
    byte, mask = _locate(bits, index)
    out = bytearray(bits)
    out[byte] = out[byte] | mask if value else out[byte] & ~mask
    return bytes(out)


def encode(bits: bytes) -> str:
    """``encodedList``: multibase base64url (``u`` prefix, no padding) of the GZIP'd bits."""
    packed = gzip.compress(bits, mtime=0)
    return "u" + base64.urlsafe_b64encode(packed).decode().rstrip("=")


def decode(encoded: str, max_bytes: int = MAX_DECODED_BYTES) -> bytes:
    """The bits of an ``encodedList``; :class:`ValueError` when it is not multibase base64url
    GZIP, or expands to more than ``max_bytes``."""
    if not encoded.startswith("u"):
        raise ValueError("encodedList must be multibase base64url ('u' prefix)")
    body = encoded[1:]
    packed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # GZIP framing
    try:
        bits = inflater.decompress(packed, max_bytes)
    except zlib.error as exc:
        raise ValueError(f"encodedList is not GZIP: {exc}") from exc
    if inflater.unconsumed_tail:
        raise ValueError(f"encodedList expands to more than {max_bytes} bytes")
    if not inflater.eof:
        raise ValueError("encodedList is truncated GZIP")
    return bits
