"""The private evidence store: a local filesystem folder (S3-compatible storage would implement
the same two methods). Uploads are streamed to a temporary file while their SHA-256 is computed,
and only moved into place when complete and within the size limit: a refused upload leaves
nothing behind."""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path


class TooLarge(Exception):
    """The upload went past the size limit (nothing was stored)."""


@dataclass(frozen=True)
class StoredObject:
    key: str
    uri: str
    size_bytes: int
    sha256: str


class LocalObjectStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"object key escapes the store: {key!r}")
        return path

    async def put(self, key: str, chunks: AsyncIterator[bytes], *, max_bytes: int) -> StoredObject:
        """Stream ``chunks`` into ``key``; raises :class:`TooLarge` past ``max_bytes``."""
        final = self._path(key)
        tmp = self.root / ".incoming" / uuid.uuid4().hex
        await asyncio.to_thread(tmp.parent.mkdir, parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        handle = await asyncio.to_thread(tmp.open, "wb")
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise TooLarge(f"larger than {max_bytes} bytes")
                digest.update(chunk)
                await asyncio.to_thread(handle.write, chunk)
            await asyncio.to_thread(handle.flush)
            await asyncio.to_thread(os.fsync, handle.fileno())
        except BaseException:
            handle.close()
            tmp.unlink(missing_ok=True)
            raise
        handle.close()
        await asyncio.to_thread(final.parent.mkdir, parents=True, exist_ok=True)
        await asyncio.to_thread(tmp.replace, final)
        return StoredObject(key, f"evidence://{key}", size, digest.hexdigest())

    async def put_bytes(self, key: str, data: bytes) -> StoredObject:
        async def one() -> AsyncIterator[bytes]:
            yield data

        return await self.put(key, one(), max_bytes=len(data))

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)

    def path(self, key: str) -> Path:
        """Where ``key`` lives on disk (the API streams it from there)."""
        return self._path(key)

    @staticmethod
    def key_of(uri: str) -> str:
        return uri.removeprefix("evidence://")

    def exists(self, key: str) -> bool:
        return self._path(key).exists()
