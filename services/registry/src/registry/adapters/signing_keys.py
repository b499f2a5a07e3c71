"""The issuer's Ed25519 signing keys, kept in the registry database.

Private keys are stored encrypted at rest (AES-256-GCM, the key id as associated data) under a
key-encryption key (KEK) that is not in the database: it comes from configuration
(``REGISTRY_SIGNING_KEK``, or a secret file ``REGISTRY_SIGNING_KEK_FILE``; 32 bytes,
base64). A database dump alone therefore cannot sign. Each row records which KEK sealed it
(``kek_id``: a fingerprint, not the key), so a misconfigured KEK is a clear error, not a
garbled key. When a key is rotated out its private key is erased (it never signs again) and
its public key stays, so every credential it signed still verifies.

Without a configured KEK the registry uses a fixed, publicly known development KEK and logs a
warning: fine for ``make run`` and tests, never for production.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from mc_events.db import execute_core
from registry.adapters.tables import signing_keys
from registry.domain import proofs

log = logging.getLogger(__name__)

_DEVELOPMENT_KEK = hashlib.sha256(
    b"mc-registry development KEK: public, never for production"
).digest()


# Advisory lock id of the signing keys (arbitrary, fixed): "mc-keys" as an integer.
_KEYS_LOCK = int.from_bytes(b"mc-keys", "big")


class KeyConfigurationError(Exception):
    """The key-encryption key is missing, malformed, or not the one that sealed a key."""


class KeyVault:
    """Seals and unseals private keys with the KEK; caches unsealed keys in memory."""

    def __init__(self, kek: bytes, *, development: bool = False) -> None:
        if len(kek) != 32:
            raise KeyConfigurationError("the signing KEK must be 32 bytes (base64 in settings)")
        self._aead = AESGCM(kek)
        self.kek_id = "kek-" + hashlib.sha256(b"kek-id:" + kek).hexdigest()[:16]
        self.development = development
        self._cache: dict[str, Ed25519PrivateKey] = {}

    @classmethod
    def development_vault(cls) -> KeyVault:
        return cls(_DEVELOPMENT_KEK, development=True)

    @classmethod
    def from_settings(cls, kek: str | None, kek_file: str | None) -> KeyVault:
        """From base64 text, or a file holding it; neither: the development KEK (warned)."""
        text = kek
        if text is None and kek_file:
            try:
                text = Path(kek_file).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise KeyConfigurationError(f"cannot read the signing KEK file: {exc}") from exc
        if text is None:
            log.warning(
                "no REGISTRY_SIGNING_KEK(_FILE): signing keys are sealed with the public "
                "development KEK (never do this in production)"
            )
            return cls.development_vault()
        try:
            raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=False)
        except ValueError as exc:
            raise KeyConfigurationError("the signing KEK is not base64") from exc
        return cls(raw)

    def seal(self, key_id: str, key: Ed25519PrivateKey) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, key.private_bytes_raw(), key_id.encode())

    def unseal(self, key_id: str, kek_id: str, sealed: bytes) -> Ed25519PrivateKey:
        cached = self._cache.get(key_id)
        if cached is not None:
            return cached
        if kek_id != self.kek_id:
            raise KeyConfigurationError(
                f"signing key {key_id} was sealed with {kek_id}, but the configured KEK is "
                f"{self.kek_id}"
            )
        raw = self._aead.decrypt(sealed[:12], sealed[12:], key_id.encode())
        key = Ed25519PrivateKey.from_private_bytes(raw)
        self._cache[key_id] = key
        return key


@dataclass(frozen=True)
class SigningKey:
    key_id: str
    number: int
    public_key_multibase: str
    current: bool
    created_at: datetime
    retired_at: datetime | None

    @property
    def public_key(self) -> Ed25519PublicKey:
        return proofs.public_key_from_multibase(self.public_key_multibase)


@dataclass(frozen=True)
class SealedKey:
    """The current key with its private key as stored: sealed under ``kek_id``."""

    key: SigningKey
    kek_id: str
    sealed: bytes


@dataclass(frozen=True)
class Signer:
    """The current key, unsealed: signs documents as the issuer."""

    key: SigningKey
    private_key: Ed25519PrivateKey
    verification_method: str

    def sign(self, document: dict[str, Any], created: datetime) -> dict[str, Any]:
        return proofs.sign(document, self.private_key, self.verification_method, created)


def _key(row: sa.Row[Any]) -> SigningKey:
    return SigningKey(
        key_id=row.key_id,
        number=row.number,
        public_key_multibase=row.public_key_multibase,
        current=row.current,
        created_at=row.created_at,
        retired_at=row.retired_at,
    )


class SigningKeysRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock(self) -> None:
        """Serialize key creation and rotation (transaction-scoped advisory lock)."""
        await execute_core(self.session, sa.select(sa.func.pg_advisory_xact_lock(_KEYS_LOCK)))

    async def all(self) -> list[SigningKey]:
        rows = await execute_core(
            self.session, sa.select(signing_keys).order_by(signing_keys.c.number)
        )
        return [_key(row) for row in rows]

    async def get(self, key_id: str) -> SigningKey | None:
        row = (
            await execute_core(
                self.session, sa.select(signing_keys).where(signing_keys.c.key_id == key_id)
            )
        ).first()
        return _key(row) if row else None

    async def current_sealed(self, *, for_update: bool = False) -> SealedKey | None:
        query = sa.select(signing_keys).where(signing_keys.c.current)
        if for_update:
            query = query.with_for_update()
        row = (await execute_core(self.session, query)).first()
        if row is None:
            return None
        return SealedKey(_key(row), row.kek_id, bytes(row.private_key_encrypted))

    async def insert_current(
        self, vault: KeyVault, *, number: int, actor: str, now: datetime
    ) -> bool:
        """Add key number ``number`` as the current key; False if another transaction did
        first (the unique number or the one-current index), after waiting for it."""
        key_id = f"key-{number}"
        private = Ed25519PrivateKey.generate()
        result = await execute_core(
            self.session,
            pg_insert(signing_keys)
            .values(
                key_id=key_id,
                number=number,
                public_key_multibase=proofs.public_key_multibase(private.public_key()),
                private_key_encrypted=vault.seal(key_id, private),
                kek_id=vault.kek_id,
                current=True,
                created_at=now,
                created_by=actor,
            )
            .on_conflict_do_nothing()
            .returning(signing_keys.c.key_id),
        )
        return result.first() is not None

    async def retire(self, key_id: str, now: datetime) -> None:
        """Never signs again: not current, private key erased; the public key stays."""
        await execute_core(
            self.session,
            sa.update(signing_keys)
            .where(signing_keys.c.key_id == key_id)
            .values(current=False, retired_at=now, private_key_encrypted=None),
        )

    async def next_number(self) -> int:
        value = (
            await execute_core(
                self.session, sa.select(sa.func.coalesce(sa.func.max(signing_keys.c.number), 0))
            )
        ).scalar_one()
        return int(value) + 1
