"""LocalStorage: round trips, ranges, atomic writes, key safety and flat memory."""

from __future__ import annotations

import hashlib
import os
import tracemalloc
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import anyio
import pytest

from shipkey.storage import (
    InvalidKey,
    ObjectNotFound,
    Storage,
    StorageError,
    StoredObject,
    open_storage,
    validate_key,
)
from shipkey.storage.local import LocalStorage

pytestmark = pytest.mark.anyio

MiB = 1 << 20
CONTENT = bytes(range(256)) * 40 + b"tail"  # 10,244 bytes, every byte value


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "files"


@pytest.fixture
def storage(root: Path) -> LocalStorage:
    return LocalStorage(root)


async def chunked(data: bytes, size: int) -> AsyncIterator[bytes]:
    for offset in range(0, len(data), size):
        yield data[offset : offset + size]


async def collect(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])


def leftovers(root: Path) -> list[Path]:
    return list((root / ".tmp").iterdir())


# --- writing and reading back ----------------------------------------------------------------


@pytest.mark.parametrize("chunk_size", [1, 7, 4096, 3 * MiB])
async def test_save_round_trip_and_hash(storage: LocalStorage, chunk_size: int) -> None:
    stored = await storage.save("products/p1/book.pdf", chunked(CONTENT, chunk_size))

    expected = hashlib.sha256(CONTENT).hexdigest()
    assert stored == StoredObject(key="products/p1/book.pdf", size=len(CONTENT), sha256=expected)
    assert storage.exists("products/p1/book.pdf")
    assert storage.size("products/p1/book.pdf") == len(CONTENT)
    assert await collect(storage.iter_bytes("products/p1/book.pdf")) == CONTENT
    assert storage.hash("products/p1/book.pdf") == stored
    assert leftovers(storage.root) == []


async def test_save_mixed_chunk_sizes(storage: LocalStorage) -> None:
    parts = [b"a" * 10, b"b" * (2 * MiB), b"c" * 5, b"d" * (MiB - 1), b"e" * 3, b"f" * MiB]
    data = b"".join(parts)

    async def mixed() -> AsyncIterator[bytes]:
        for part in parts:
            yield part

    stored = await storage.save("mixed.bin", mixed())

    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert await collect(storage.iter_bytes("mixed.bin")) == data


async def test_save_empty_object(storage: LocalStorage) -> None:
    stored = await storage.save("empty.bin", chunked(b"", 1))

    assert stored.size == 0
    assert stored.sha256 == hashlib.sha256(b"").hexdigest()
    assert await collect(storage.iter_bytes("empty.bin")) == b""


async def test_save_replaces_existing_object(storage: LocalStorage) -> None:
    await storage.save("a.txt", chunked(b"old content", 4))
    await storage.save("a.txt", chunked(b"new", 4))

    assert await collect(storage.iter_bytes("a.txt")) == b"new"


async def test_reader_keeps_old_content_while_object_is_replaced(storage: LocalStorage) -> None:
    old = b"o" * (3 * 1024)
    await storage.save("a.bin", chunked(old, 1024))
    reader = storage.iter_bytes("a.bin", chunk_size=1024)
    first = await reader.__anext__()

    await storage.save("a.bin", chunked(b"n" * 5000, 1024))
    rest = await collect(reader)

    assert first + rest == old
    assert await collect(storage.iter_bytes("a.bin")) == b"n" * 5000


def test_save_file_round_trip(storage: LocalStorage, tmp_path: Path) -> None:
    source = tmp_path / "source.pdf"
    data = os.urandom(MiB + 123)
    source.write_bytes(data)

    stored = storage.save_file("demo/source.pdf", source)

    assert stored.size == len(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    path = storage.local_path("demo/source.pdf")
    assert path == storage.root / "demo" / "source.pdf"
    assert path.read_bytes() == data
    assert leftovers(storage.root) == []


def test_save_file_missing_source_leaves_nothing(storage: LocalStorage, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        storage.save_file("a.bin", tmp_path / "missing.bin")

    assert not storage.exists("a.bin")
    assert leftovers(storage.root) == []


def test_storage_is_the_interface(storage: LocalStorage) -> None:
    assert isinstance(storage, Storage)


# --- ranges ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end"),
    [
        pytest.param(0, 0, id="first byte"),
        pytest.param(len(CONTENT) - 1, len(CONTENT) - 1, id="last byte"),
        pytest.param(100, 5000, id="middle"),
        pytest.param(0, len(CONTENT) - 1, id="whole, explicit"),
        pytest.param(0, None, id="whole, open"),
        pytest.param(9000, None, id="open-ended tail"),
        pytest.param(10, len(CONTENT) + 500, id="end past the object"),
    ],
)
@pytest.mark.parametrize("chunk_size", [1000, MiB])
async def test_iter_bytes_ranges(
    storage: LocalStorage, start: int, end: int | None, chunk_size: int
) -> None:
    await storage.save("r.bin", chunked(CONTENT, 333))

    got = await collect(storage.iter_bytes("r.bin", start, end, chunk_size=chunk_size))

    assert got == CONTENT[start : None if end is None else end + 1]


async def test_iter_bytes_respects_chunk_size(storage: LocalStorage) -> None:
    await storage.save("r.bin", chunked(CONTENT, 4096))

    sizes = [len(chunk) async for chunk in storage.iter_bytes("r.bin", 4, 3003, chunk_size=1000)]

    assert sizes == [1000, 1000, 1000]


@pytest.mark.parametrize(("start", "end", "chunk_size"), [(-1, None, 10), (5, 4, 10), (0, None, 0)])
async def test_iter_bytes_refuses_bad_arguments(
    storage: LocalStorage, start: int, end: int | None, chunk_size: int
) -> None:
    await storage.save("r.bin", chunked(CONTENT, 4096))

    with pytest.raises(ValueError, match="invalid byte range"):
        await collect(storage.iter_bytes("r.bin", start, end, chunk_size))


# --- missing objects -------------------------------------------------------------------------


async def test_missing_object(storage: LocalStorage) -> None:
    assert not storage.exists("nope.bin")
    with pytest.raises(ObjectNotFound):
        storage.size("nope.bin")
    with pytest.raises(ObjectNotFound):
        storage.hash("nope.bin")
    with pytest.raises(ObjectNotFound):
        storage.local_path("nope.bin")
    with pytest.raises(ObjectNotFound):
        await collect(storage.iter_bytes("nope.bin"))
    storage.delete("nope.bin")
    storage.delete("no/such/folder.bin")


async def test_a_folder_is_not_an_object(storage: LocalStorage) -> None:
    await storage.save("folder/a.bin", chunked(b"x", 1))

    assert not storage.exists("folder")
    with pytest.raises(ObjectNotFound):
        storage.size("folder")
    with pytest.raises(ObjectNotFound):
        await collect(storage.iter_bytes("folder"))
    with pytest.raises(ObjectNotFound):
        storage.size("folder/a.bin/below")


async def test_delete(storage: LocalStorage) -> None:
    await storage.save("d/a.bin", chunked(b"x", 1))

    storage.delete("d/a.bin")

    assert not storage.exists("d/a.bin")
    storage.delete("d/a.bin")
    storage.delete("d")
    assert (storage.root / "d").is_dir()


# --- atomicity -------------------------------------------------------------------------------


class ClientGone(Exception):
    pass


async def test_failed_upload_leaves_nothing(storage: LocalStorage) -> None:
    async def disconnects() -> AsyncIterator[bytes]:
        yield b"a" * (2 * MiB)
        yield b"b" * 100
        assert not storage.exists("up/file.bin"), "visible before the upload completed"
        assert len(leftovers(storage.root)) == 1
        raise ClientGone

    with pytest.raises(ClientGone):
        await storage.save("up/file.bin", disconnects())

    assert not storage.exists("up/file.bin")
    assert leftovers(storage.root) == []


async def test_failed_upload_keeps_the_previous_object(storage: LocalStorage) -> None:
    await storage.save("f.bin", chunked(b"previous", 3))

    async def disconnects() -> AsyncIterator[bytes]:
        yield b"partial"
        raise ClientGone

    with pytest.raises(ClientGone):
        await storage.save("f.bin", disconnects())

    assert await collect(storage.iter_bytes("f.bin")) == b"previous"
    assert leftovers(storage.root) == []


async def test_cancelled_upload_leaves_nothing(storage: LocalStorage) -> None:
    with anyio.CancelScope() as scope:

        async def cancelled_midway() -> AsyncIterator[bytes]:
            yield b"a" * (MiB + 1)
            scope.cancel()
            await anyio.sleep(0)
            yield b"never stored"

        await storage.save("c.bin", cancelled_midway())

    assert scope.cancelled_caught
    assert not storage.exists("c.bin")
    assert leftovers(storage.root) == []


# --- key safety ------------------------------------------------------------------------------

BAD_KEYS = [
    "",
    "/etc/passwd",
    "../outside.bin",
    "a/../../outside.bin",
    "a/./b.bin",
    ".",
    "..",
    "a//b.bin",
    "a/",
    "a\\..\\b.bin",
    "a\x00b",
    "a\nb",
    "caf\u00e9.pdf",
    "with space.pdf",
    "x" * 513,
]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_validate_key_refuses(key: str) -> None:
    with pytest.raises(InvalidKey):
        validate_key(key)


@pytest.mark.parametrize("key", ["a", "a.b", "products/p_1/v-2/Book.Final.pdf", "x" * 512, ".env"])
def test_validate_key_accepts(key: str) -> None:
    assert validate_key(key) == key


def test_invalid_key_is_a_value_error() -> None:
    assert issubclass(InvalidKey, ValueError)
    assert issubclass(InvalidKey, StorageError)


@pytest.mark.parametrize("key", [*BAD_KEYS, ".tmp/x.part"])
async def test_storage_refuses_bad_keys(storage: LocalStorage, key: str, tmp_path: Path) -> None:
    source = tmp_path / "s.bin"
    source.write_bytes(b"x")
    with pytest.raises(InvalidKey):
        await storage.save(key, chunked(b"x", 1))
    with pytest.raises(InvalidKey):
        storage.save_file(key, source)
    with pytest.raises(InvalidKey):
        await collect(storage.iter_bytes(key))
    for method in (storage.size, storage.exists, storage.delete, storage.local_path, storage.hash):
        with pytest.raises(InvalidKey):
            method(key)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.txt").write_bytes(b"secret")
    return folder


def symlink_cases(root: Path, outside: Path) -> Iterable[str]:
    (root / "linked-dir").symlink_to(outside, target_is_directory=True)
    (root / "linked-file.txt").symlink_to(outside / "secret.txt")
    (root / "loop").symlink_to(root / "loop")
    return ["linked-dir/secret.txt", "linked-dir/new.bin", "linked-file.txt", "loop/x.bin"]


async def test_symlinks_out_of_the_root_are_refused(
    storage: LocalStorage, outside: Path, tmp_path: Path
) -> None:
    source = tmp_path / "s.bin"
    source.write_bytes(b"x")
    for key in symlink_cases(storage.root, outside):
        with pytest.raises(InvalidKey):
            storage.size(key)
        with pytest.raises(InvalidKey):
            storage.exists(key)
        with pytest.raises(InvalidKey):
            storage.local_path(key)
        with pytest.raises(InvalidKey):
            await collect(storage.iter_bytes(key))
        with pytest.raises(InvalidKey):
            await storage.save(key, chunked(b"overwritten", 4))
        with pytest.raises(InvalidKey):
            storage.save_file(key, source)
        with pytest.raises(InvalidKey):
            storage.delete(key)

    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert (outside / "secret.txt").read_bytes() == b"secret"


async def test_symlinks_inside_the_root_are_followed(storage: LocalStorage) -> None:
    await storage.save("real/a.bin", chunked(b"inside", 2))
    (storage.root / "alias").symlink_to(storage.root / "real", target_is_directory=True)

    assert await collect(storage.iter_bytes("alias/a.bin")) == b"inside"


def test_root_behind_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real, target_is_directory=True)

    storage = LocalStorage(tmp_path / "link")
    storage.save_file("a.bin", Path(__file__))

    assert storage.root == real.resolve()
    assert (real / "a.bin").is_file()


def test_root_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")

    with pytest.raises(StorageError, match="storage root"):
        LocalStorage(tmp_path / "file")


# --- memory ----------------------------------------------------------------------------------

BIG = 64 * MiB
MEMORY_LIMIT = 8 * MiB


async def test_large_save_and_read_keep_memory_flat(storage: LocalStorage) -> None:
    block = hashlib.sha256(b"seed").digest() * 2048  # 64 KiB, made once
    expected = hashlib.sha256()

    async def generated() -> AsyncIterator[bytes]:
        sent = 0
        sizes = (65_536, 100_003, 1, 250_000)
        index = 0
        while sent < BIG:
            size = min(sizes[index % len(sizes)], BIG - sent)
            index += 1
            chunk = (block * 4)[:size] if size > len(block) else block[:size]
            expected.update(chunk)
            sent += size
            yield chunk

    tracemalloc.start()
    try:
        stored = await storage.save("big/blob.bin", generated())
        _, save_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        reader = hashlib.sha256()
        read = 0
        async for chunk in storage.iter_bytes("big/blob.bin"):
            reader.update(chunk)
            read += len(chunk)
        _, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert stored.size == read == BIG
    assert stored.sha256 == expected.hexdigest() == reader.hexdigest()
    assert save_peak < MEMORY_LIMIT, f"save peaked at {save_peak / MiB:.1f} MiB"
    assert read_peak < MEMORY_LIMIT, f"read peaked at {read_peak / MiB:.1f} MiB"


# --- open_storage ----------------------------------------------------------------------------


def test_open_storage_file_url(tmp_path: Path) -> None:
    folder = tmp_path / "with space" / "files"

    storage = open_storage(folder.as_uri())

    assert isinstance(storage, LocalStorage)
    assert storage.root == folder.resolve()
    assert folder.is_dir()


def test_open_storage_localhost_file_url(tmp_path: Path) -> None:
    storage = open_storage(f"file://localhost{tmp_path}/x")

    assert isinstance(storage, LocalStorage)
    assert storage.root == (tmp_path / "x").resolve()


@pytest.mark.parametrize("url", ["file:rel/files", "file://./rel/files"])
def test_open_storage_relative_file_url(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    storage = open_storage(url)

    assert isinstance(storage, LocalStorage)
    assert storage.root == (tmp_path / "rel" / "files").resolve()


@pytest.mark.parametrize(
    "url", ["", "/var/files", "http://example.com/files", "file://otherhost/files", "file://"]
)
def test_open_storage_refuses(url: str) -> None:
    with pytest.raises(StorageError):
        open_storage(url)
