"""S3Storage against a real S3 endpoint (the moto server): multipart, ranges, presigned URLs."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import httpx
import pytest

from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.http.files import content_disposition
from shipkey.storage import ObjectNotFound, StorageError, open_storage, storage_for
from shipkey.storage import s3 as s3_module
from shipkey.storage.s3 import S3Storage
from tests.s3_server import S3Bucket

pytestmark = pytest.mark.anyio

MiB = 1 << 20


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def chunked(data: bytes, size: int) -> AsyncIterator[bytes]:
    for offset in range(0, len(data), size):
        yield data[offset : offset + size]


async def collect(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])


def pending_uploads(storage: S3Storage) -> list[object]:
    return list(storage.client.list_multipart_uploads(Bucket=storage.bucket).get("Uploads", []))


async def test_small_object_round_trip(s3_storage: S3Storage) -> None:
    data = os.urandom(10_000)
    stored = await s3_storage.save("products/p1/book.pdf", chunked(data, 777))
    assert stored.size == len(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert await collect(s3_storage.iter_bytes("products/p1/book.pdf")) == data
    assert s3_storage.size("products/p1/book.pdf") == len(data)
    assert s3_storage.exists("products/p1/book.pdf")
    assert s3_storage.local_path("products/p1/book.pdf") is None
    head = s3_storage.head("products/p1/book.pdf")
    assert head is not None
    assert head.size == len(data)
    assert head.etag is not None
    assert head.etag.startswith('"')
    listed = s3_storage.client.list_objects_v2(Bucket=s3_storage.bucket)["Contents"]
    assert [item["Key"] for item in listed] == ["files/products/p1/book.pdf"]


async def test_multipart_upload_with_growing_parts(
    s3_storage: S3Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(s3_module, "PART_SIZE", 5 * MiB)
    monkeypatch.setattr(s3_module, "PARTS_PER_STEP", 1)  # parts of 5, 10, then the rest
    data = os.urandom(17 * MiB + 5)
    stored = await s3_storage.save("big.bin", chunked(data, 300_000))
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    answer = s3_storage.client.head_object(Bucket=s3_storage.bucket, Key="files/big.bin")
    assert answer["ETag"].endswith('-3"')  # three parts
    assert await collect(s3_storage.iter_bytes("big.bin", chunk_size=MiB)) == data
    assert s3_storage.hash("big.bin") == stored
    assert pending_uploads(s3_storage) == []


async def test_ranges(s3_storage: S3Storage) -> None:
    data = bytes(range(256)) * 100
    await s3_storage.save("r.bin", chunked(data, 4096))
    assert await collect(s3_storage.iter_bytes("r.bin", 10, 19)) == data[10:20]
    assert await collect(s3_storage.iter_bytes("r.bin", 25_000)) == data[25_000:]
    assert await collect(s3_storage.iter_bytes("r.bin", 0, 0)) == data[:1]
    assert await collect(s3_storage.iter_bytes("r.bin", 100, None, 7)) == data[100:]
    with pytest.raises(ValueError, match="invalid byte range"):
        await collect(s3_storage.iter_bytes("r.bin", 5, 4))


async def test_a_failing_stream_leaves_nothing(
    s3_storage: S3Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(s3_module, "PART_SIZE", 5 * MiB)

    async def broken() -> AsyncIterator[bytes]:
        yield os.urandom(6 * MiB)  # one part is sent
        yield b"more"
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await s3_storage.save("gone.bin", broken())
    assert not s3_storage.exists("gone.bin")
    assert pending_uploads(s3_storage) == []


async def test_a_cancelled_upload_is_aborted(
    s3_storage: S3Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(s3_module, "PART_SIZE", 5 * MiB)
    started = anyio.Event()

    async def stalls() -> AsyncIterator[bytes]:
        yield os.urandom(6 * MiB)
        started.set()
        await anyio.sleep(60)
        yield b"never"

    async with anyio.create_task_group() as group:
        group.start_soon(s3_storage.save, "stalled.bin", stalls())
        await started.wait()
        await anyio.sleep(0.5)
        group.cancel_scope.cancel()
    assert not s3_storage.exists("stalled.bin")
    assert pending_uploads(s3_storage) == []


async def test_replacing_an_object(s3_storage: S3Storage) -> None:
    await s3_storage.save("k.bin", chunked(b"old", 3))
    await s3_storage.save("k.bin", chunked(b"new content", 3))
    assert await collect(s3_storage.iter_bytes("k.bin")) == b"new content"


async def test_missing_objects(s3_storage: S3Storage) -> None:
    assert not s3_storage.exists("nope")
    assert s3_storage.head("nope") is None
    with pytest.raises(ObjectNotFound):
        s3_storage.size("nope")
    with pytest.raises(ObjectNotFound):
        await collect(s3_storage.iter_bytes("nope"))
    with pytest.raises(ObjectNotFound):
        s3_storage.hash("nope")
    s3_storage.delete("nope")  # not an error


async def test_delete(s3_storage: S3Storage) -> None:
    await s3_storage.save("d.bin", chunked(b"x", 1))
    s3_storage.delete("d.bin")
    assert not s3_storage.exists("d.bin")


def test_save_file_and_fetch_file(
    s3_storage: S3Storage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(s3_module, "PART_SIZE", 5 * MiB)
    data = os.urandom(11 * MiB + 1)
    source = tmp_path / "in.bin"
    source.write_bytes(data)
    stored = s3_storage.save_file("f/in.bin", source)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    target = tmp_path / "out.bin"
    s3_storage.fetch_file("f/in.bin", target)
    assert target.read_bytes() == data


def test_invalid_keys_are_refused(s3_storage: S3Storage) -> None:
    for key in ["", "../x", "/abs", "a//b", "a\\b"]:
        with pytest.raises(StorageError):
            s3_storage.exists(key)


async def test_presigned_get_carries_the_filename_pair(s3_storage: S3Storage) -> None:
    data = os.urandom(5000)
    await s3_storage.save("p/book.pdf", chunked(data, 5000))
    header = content_disposition("Büch – 1.pdf")
    url = s3_storage.presigned_get(
        "p/book.pdf", filename_header=header, content_type="application/pdf", expires_in=60
    )
    response = httpx.get(url)
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-disposition"] == header
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["cache-control"] == "no-store"
    ranged = httpx.get(url, headers={"Range": "bytes=100-199"})
    assert ranged.status_code == 206
    assert ranged.content == data[100:200]


def test_open_storage_for_s3(s3_bucket: S3Bucket, tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path,
        storage_url=f"s3://{s3_bucket.bucket}/some/prefix",
        s3_endpoint_url=s3_bucket.endpoint_url,
    )
    storage = storage_for(settings)
    assert isinstance(storage, S3Storage)
    assert storage.bucket == s3_bucket.bucket
    assert storage.prefix == "some/prefix"
    assert not storage.exists("x")
    with pytest.raises(StorageError):
        open_storage("s3:///no-bucket")


def test_an_unreachable_bucket_is_a_clear_503(
    s3_bucket: S3Bucket, settings: Settings, db: Database
) -> None:
    from fastapi.testclient import TestClient

    from shipkey.app import create_app
    from tests.conftest import ADMIN_TOKEN
    from tests.factories import create_product

    broken = settings.model_copy(
        update={"storage_url": "s3://no-such-bucket/x", "s3_endpoint_url": s3_bucket.endpoint_url}
    )
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with TestClient(create_app(broken, db=db), headers=auth) as admin:
        create_product(admin)
        response = admin.put("/api/admin/products/test-book/file?filename=a.pdf", content=b"x")
    assert response.status_code == 503
    assert response.json()["code"] == "STORAGE_UNAVAILABLE"
