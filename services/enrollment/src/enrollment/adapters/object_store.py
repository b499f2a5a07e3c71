"""The private evidence store: a local filesystem folder by default, or a bucket of an
S3-compatible object store when configured. Both keep the same interface (:class:`ObjectStore`):

- ``put`` streams an upload in while computing its SHA-256 and stops at the size limit
  (:class:`TooLarge`, a 413 refusal); a refused or failed upload leaves nothing behind;
- ``read`` streams an object back; ``delete`` removes one (the orphan of a failed command).

Objects are named by a key (``<enrollment id>/<artifact id>``) and referred to by the storage-
neutral URI ``evidence://<key>``, which is what artifact rows and events carry.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from enrollment.domain.evidence import TooLarge as TooLarge

log = logging.getLogger(__name__)

URI_SCHEME = "evidence://"
READ_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class StoredObject:
    key: str
    uri: str
    size_bytes: int
    sha256: str


def key_of(uri: str) -> str:
    return uri.removeprefix(URI_SCHEME)


def _checked_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"object key escapes the store: {key!r}")
    return key


class ObjectStore(Protocol):
    async def put(
        self, key: str, chunks: AsyncIterator[bytes], *, max_bytes: int
    ) -> StoredObject: ...

    async def put_bytes(self, key: str, data: bytes) -> StoredObject: ...

    async def read(self, key: str) -> AsyncIterator[bytes]:
        """Open ``key`` (errors such as a missing object raise here, before any byte is
        sent) and return its content as a stream of chunks."""
        ...

    async def delete(self, key: str) -> None: ...

    async def exists(self, key: str) -> bool: ...


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


class LocalObjectStore:
    """Uploads are streamed to a temporary file and only moved into place when complete and
    within the size limit."""

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
        return StoredObject(key, f"{URI_SCHEME}{key}", size, digest.hexdigest())

    async def put_bytes(self, key: str, data: bytes) -> StoredObject:
        return await self.put(key, _one(data), max_bytes=len(data))

    async def read(self, key: str) -> AsyncIterator[bytes]:
        handle = await asyncio.to_thread(self._path(key).open, "rb")

        async def chunks() -> AsyncIterator[bytes]:
            try:
                while chunk := await asyncio.to_thread(handle.read, READ_CHUNK):
                    yield chunk
            finally:
                handle.close()

        return chunks()

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self._path(key).exists)

    key_of = staticmethod(key_of)


MIN_PART_BYTES = 5 * 1024 * 1024
"""S3's smallest part of a multipart upload (all but the last)."""


class S3ObjectStore:
    """A bucket of an S3-compatible store (AWS S3, MinIO, Ceph...), through boto3 in worker
    threads (its client is thread-safe; the event loop never blocks on the network).

    An upload is buffered up to ``part_size`` at a time: one that fits goes up in a single
    ``PutObject`` at the end; a larger one as a multipart upload, which S3 shows only once it
    is completed, so an upload refused past the size limit, cut off or failing is aborted and
    leaves no object (and no stored parts) behind. The SHA-256 is computed on the way through
    and kept as object metadata (``x-amz-meta-sha256``)."""

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "evidence/",
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        part_size: int = 8 * 1024 * 1024,
        client: Any = None,
    ) -> None:
        if part_size < MIN_PART_BYTES:
            raise ValueError(f"part_size must be at least {MIN_PART_BYTES} bytes (S3's minimum)")
        self.bucket = bucket
        self.prefix = prefix
        self.part_size = part_size
        if client is None:
            import boto3
            from botocore.config import Config

            client = boto3.session.Session().client(
                "s3",
                endpoint_url=endpoint_url,
                region_name=region,
                aws_access_key_id=access_key_id,
                aws_secret_access_key=secret_access_key,
                config=Config(
                    signature_version="s3v4",
                    retries={"max_attempts": 3, "mode": "standard"},
                    # Path-style works on every S3-compatible server, virtual hosts do not.
                    s3={"addressing_style": "path"},
                ),
            )
        self.client = client

    def _name(self, key: str) -> str:
        return self.prefix + _checked_key(key)

    async def _call(self, method: str, **kwargs: Any) -> Any:
        return await asyncio.to_thread(getattr(self.client, method), **kwargs)

    async def put(self, key: str, chunks: AsyncIterator[bytes], *, max_bytes: int) -> StoredObject:
        """Stream ``chunks`` into ``key``; raises :class:`TooLarge` past ``max_bytes``."""
        name = self._name(key)
        digest = hashlib.sha256()
        size = 0
        buffer = bytearray()
        upload_id: str | None = None
        completed = False
        parts: list[dict[str, Any]] = []

        async def send_part() -> None:
            nonlocal upload_id
            if upload_id is None:
                created = await self._call("create_multipart_upload", Bucket=self.bucket, Key=name)
                upload_id = created["UploadId"]
            answer = await self._call(
                "upload_part",
                Bucket=self.bucket,
                Key=name,
                UploadId=upload_id,
                PartNumber=len(parts) + 1,
                Body=bytes(buffer),
            )
            parts.append({"ETag": answer["ETag"], "PartNumber": len(parts) + 1})
            buffer.clear()

        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise TooLarge(f"larger than {max_bytes} bytes")
                digest.update(chunk)
                buffer += chunk
                if len(buffer) >= self.part_size:
                    await send_part()
            checksum = digest.hexdigest()
            if upload_id is None:
                await self._call(
                    "put_object",
                    Bucket=self.bucket,
                    Key=name,
                    Body=bytes(buffer),
                    Metadata={"sha256": checksum},
                )
            else:
                if buffer:
                    await send_part()
                await self._call(
                    "complete_multipart_upload",
                    Bucket=self.bucket,
                    Key=name,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},
                )
                completed = True
                # Multipart objects get their metadata at creation, before the checksum is
                # known: a metadata-only self-copy records it (server-side, no data moves).
                await self._call(
                    "copy_object",
                    Bucket=self.bucket,
                    Key=name,
                    CopySource={"Bucket": self.bucket, "Key": name},
                    Metadata={"sha256": checksum},
                    MetadataDirective="REPLACE",
                )
        except BaseException:
            await asyncio.shield(self._discard(name, upload_id, completed=completed))
            raise
        return StoredObject(key, f"{URI_SCHEME}{key}", size, checksum)

    async def _discard(self, name: str, upload_id: str | None, *, completed: bool) -> None:
        """Leave nothing of a failed upload; a failure here is logged, the upload's own error
        is what the caller gets (and a bucket lifecycle rule on incomplete multipart uploads
        is the backstop)."""
        try:
            if completed:
                await self._call("delete_object", Bucket=self.bucket, Key=name)
            elif upload_id is not None:
                await self._call(
                    "abort_multipart_upload", Bucket=self.bucket, Key=name, UploadId=upload_id
                )
        except Exception:
            log.exception("could not clean up the failed upload of %s", name)

    async def put_bytes(self, key: str, data: bytes) -> StoredObject:
        return await self.put(key, _one(data), max_bytes=len(data))

    async def read(self, key: str) -> AsyncIterator[bytes]:
        answer = await self._call("get_object", Bucket=self.bucket, Key=self._name(key))
        body = answer["Body"]

        async def chunks() -> AsyncIterator[bytes]:
            try:
                while chunk := await asyncio.to_thread(body.read, READ_CHUNK):
                    yield chunk
            finally:
                body.close()

        return chunks()

    async def delete(self, key: str) -> None:
        await self._call("delete_object", Bucket=self.bucket, Key=self._name(key))

    async def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            await self._call("head_object", Bucket=self.bucket, Key=self._name(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    async def metadata_sha256(self, key: str) -> str | None:
        """The SHA-256 recorded with the object (None if it has none)."""
        answer = await self._call("head_object", Bucket=self.bucket, Key=self._name(key))
        value: str | None = answer.get("Metadata", {}).get("sha256")
        return value

    key_of = staticmethod(key_of)
