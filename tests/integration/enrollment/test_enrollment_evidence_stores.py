"""Both evidence stores keep one interface: the local folder and an S3-compatible bucket, the
latter against a real S3 HTTP server on loopback (moto's server, in-process), never a mock of
the client. Streamed uploads with the SHA-256, the size limit, nothing left of a refused or
failed upload (no object, no pending multipart parts), reading back, deleting; and the
service configured for S3 end to end."""

from __future__ import annotations

import hashlib
import uuid

import boto3
import pytest
from enrollment_test_support import (
    catalog_has,
    educator,
    new_ids,
    post_enroll,
    published,
    register,
    send,
)
from moto.server import ThreadedMotoServer

from enrollment.adapters.object_store import (
    MIN_PART_BYTES,
    LocalObjectStore,
    S3ObjectStore,
    TooLarge,
)
from mc_events.contracts.common import EvidenceKind, EvidenceRequirement

MIB = 1024 * 1024
CREDENTIALS = {"aws_access_key_id": "evidence", "aws_secret_access_key": "evidence-secret"}


@pytest.fixture(scope="module")
def s3_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def s3_client(endpoint: str):
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **CREDENTIALS)


def new_bucket(endpoint: str) -> str:
    bucket = f"evidence-{uuid.uuid4().hex[:12]}"
    s3_client(endpoint).create_bucket(Bucket=bucket)
    return bucket


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path, s3_endpoint):
    if request.param == "local":
        return LocalObjectStore(tmp_path / "evidence")
    return S3ObjectStore(
        new_bucket(s3_endpoint),
        endpoint_url=s3_endpoint,
        access_key_id=CREDENTIALS["aws_access_key_id"],
        secret_access_key=CREDENTIALS["aws_secret_access_key"],
        part_size=MIN_PART_BYTES,
    )


def leftovers(store) -> list[str]:
    """Everything the store holds, finished or not (objects, pending multipart uploads, temp
    files)."""
    if isinstance(store, LocalObjectStore):
        root = store.root
        return [str(p) for p in root.rglob("*") if p.is_file()] if root.exists() else []
    client = store.client
    objects = client.list_objects_v2(Bucket=store.bucket).get("Contents", [])
    uploads = client.list_multipart_uploads(Bucket=store.bucket).get("Uploads", [])
    return [o["Key"] for o in objects] + [u["Key"] for u in uploads]


async def chunked(data: bytes, size: int = MIB):
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def read_all(store, key: str) -> bytes:
    return b"".join([chunk async for chunk in await store.read(key)])


async def test_an_upload_is_streamed_checksummed_and_read_back(store):
    data = b"classroom video " * 1000
    stored = await store.put("en-1/a-1", chunked(data, 4096), max_bytes=len(data))
    assert (stored.size_bytes, stored.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert stored.uri == "evidence://en-1/a-1"
    assert await store.exists("en-1/a-1")
    assert await read_all(store, store.key_of(stored.uri)) == data


async def test_an_upload_larger_than_a_part_goes_up_in_parts_and_reads_back_whole(store):
    data = bytes(range(256)) * (11 * MIB // 256)  # 11 MiB: three parts of at least 5 MiB
    stored = await store.put("en-1/big", chunked(data), max_bytes=20 * MIB)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert await read_all(store, "en-1/big") == data
    if isinstance(store, S3ObjectStore):
        assert await store.metadata_sha256("en-1/big") == stored.sha256


async def test_an_upload_past_the_limit_is_refused_and_leaves_nothing(store):
    # Past one whole part first, so the S3 store has parts stored that it must abort.
    with pytest.raises(TooLarge):
        await store.put("en-1/too-big", chunked(b"x" * 8 * MIB), max_bytes=7 * MIB)
    assert not await store.exists("en-1/too-big")
    assert leftovers(store) == []


async def test_an_upload_cut_off_midway_leaves_nothing(store):
    async def broken():
        yield b"y" * 6 * MIB
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await store.put("en-1/cut", broken(), max_bytes=100 * MIB)
    assert leftovers(store) == []


async def test_delete_removes_an_object_and_a_missing_one_is_no_error(store):
    await store.put_bytes("en-1/orphan", b"left over")
    await store.delete("en-1/orphan")
    assert not await store.exists("en-1/orphan")
    await store.delete("en-1/never-there")
    assert leftovers(store) == []


@pytest.mark.parametrize("key", ["../outside", "/abs", "en-1/../../x", ""])
async def test_keys_cannot_escape_the_store(store, key):
    with pytest.raises(ValueError, match="escapes"):
        await store.put_bytes(key, b"x")


def test_the_s3_store_refuses_parts_smaller_than_s3_allows():
    with pytest.raises(ValueError, match="part_size"):
        S3ObjectStore("b", part_size=MIB, client=object())


# -- the service on S3 -------------------------------------------------------------------------

VIDEO_ONLY = (
    EvidenceRequirement(id="video", kind=EvidenceKind.VIDEO, prompt="Film it", required=True),
)


@pytest.fixture
def svc_settings(s3_endpoint):
    """The service of this module (conftest.py's ``svc``) keeps evidence in a fresh bucket; its
    local evidence folder stays unused."""
    return {
        "evidence_max_bytes": 64 * 1024,
        "evidence_s3_bucket": new_bucket(s3_endpoint),
        "evidence_s3_endpoint_url": s3_endpoint,
        "evidence_s3_access_key_id": CREDENTIALS["aws_access_key_id"],
        "evidence_s3_secret_access_key": CREDENTIALS["aws_secret_access_key"],
    }


def bucket_keys(endpoint: str, bucket: str) -> list[str]:
    client = s3_client(endpoint)
    objects = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    uploads = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    return [o["Key"] for o in objects] + [u["Key"] for u in uploads]


async def test_the_service_keeps_evidence_in_the_bucket_when_configured(svc, infra, s3_endpoint):
    bucket = svc.definition.settings.evidence_s3_bucket
    mc, ed = new_ids()
    await register(svc, ed)
    await send(infra, published(mc, evidence_requirements=VIDEO_ONLY))
    assert await catalog_has(svc, mc)
    en = (await post_enroll(svc, ed, mc)).json()["enrollment_id"]
    url = f"/uploads/enrollments/{en}/evidence/video"
    headers = {**educator(svc, ed), "Content-Type": "video/mp4"}
    video = b"\x00mp4" * 4000
    r = await svc.client.post(url, content=video, headers=headers)
    assert r.status_code == 201, r.text
    artifact = r.json()
    assert artifact["sha256"] == hashlib.sha256(video).hexdigest()
    assert bucket_keys(s3_endpoint, bucket) == [f"evidence/{en}/{artifact['artifact_id']}"]
    assert not svc.evidence_dir.exists()
    back = await svc.client.get(
        f"/artifacts/{artifact['artifact_id']}/content", headers=educator(svc, ed)
    )
    assert (back.status_code, back.content) == (200, video)
    assert back.headers["content-type"] == "video/mp4"

    too_large = await svc.client.post(url, content=b"x" * (64 * 1024 + 1), headers=headers)
    assert too_large.status_code == 413

    async def withdrawn_while_streaming():
        yield b"first half "
        # The educator withdraws in another request while this upload is still streaming.
        w = await svc.client.post(f"/enrollments/{en}/withdraw", headers=educator(svc, ed))
        assert w.status_code == 200
        yield b"second half"

    late = await svc.client.post(url, content=withdrawn_while_streaming(), headers=headers)
    assert (late.status_code, late.json()["reason"]) == (409, "not_allowed_now")
    # Only the first artifact: the refused uploads left no object and no parts behind.
    assert bucket_keys(s3_endpoint, bucket) == [f"evidence/{en}/{artifact['artifact_id']}"]
