"""The storage interface: product files behind one small set of methods.

A *key* names an object inside a backend, like ``products/prod_123/v2/book.pdf``. Keys are
relative POSIX paths made of plain segments, so that every backend (local disk, S3) can store
them as they are and none of them can be used to reach outside the backend's root.
"""

from __future__ import annotations

import abc
import errno
import re
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import Path

MAX_KEY_LENGTH = 512
"""The longest key accepted, in characters."""

DEFAULT_CHUNK_SIZE = 1 << 20
"""How much is read or written per hop between the event loop and a worker thread."""

_SEGMENT = re.compile(r"[A-Za-z0-9._-]+")


class StorageError(Exception):
    """A storage backend could not do what was asked."""


class StorageFull(StorageError):
    """The disk (or quota) has no room for what is being written; nothing of it was kept."""


DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


class ObjectNotFound(StorageError):
    """No object is stored under the key."""

    def __init__(self, key: str) -> None:
        super().__init__(f"no stored object at {key!r}")
        self.key = key


class InvalidKey(StorageError, ValueError):
    """The key is not a valid storage key, or it would lead outside the storage root."""


def validate_key(key: str) -> str:
    """Return ``key`` unchanged if it is a valid storage key, else raise :class:`InvalidKey`.

    A valid key is at most :data:`MAX_KEY_LENGTH` characters of ``/``-separated segments, each
    made only of ``A-Z a-z 0-9 . _ -`` and none of them empty, ``.`` or ``..``. This rules out
    absolute paths, backslashes, NUL and every other control character.
    """
    if not isinstance(key, str):
        raise InvalidKey(f"storage key must be a string, not {type(key).__name__}")
    if not key:
        raise InvalidKey("storage key is empty")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidKey(f"storage key is longer than {MAX_KEY_LENGTH} characters")
    for segment in key.split("/"):
        if segment in {".", ".."} or _SEGMENT.fullmatch(segment) is None:
            raise InvalidKey(
                f"invalid storage key {key[:80]!r}: use relative paths of segments made of "
                "letters, digits, '.', '_' and '-' (no empty, '.' or '..' segment)"
            )
    return key


@dataclass(frozen=True)
class StoredObject:
    """What a backend knows about a stored object once it is written or re-read."""

    key: str
    size: int
    sha256: str
    """Lower-case hex SHA-256 of the content."""


@dataclass(frozen=True)
class ObjectHead:
    """What a quick look at a stored object tells: its size and the backend's own entity tag."""

    size: int
    etag: str | None = None
    """The backend's quoted ETag (S3), or ``None`` when the backend has none (local disk)."""


class Storage(abc.ABC):
    """Where product files live.

    Synchronous methods may be called from worker threads (the CLI, the demo, request handlers
    run in a thread pool); asynchronous ones are meant for the event loop and keep blocking I/O
    off it.
    """

    @abc.abstractmethod
    async def save(self, key: str, chunks: AsyncIterable[bytes]) -> StoredObject:
        """Store the streamed ``chunks`` under ``key``, hashing them on the way.

        Atomic: nothing is visible at ``key`` until every chunk is stored, and an object already
        stored there is replaced in one step. If ``chunks`` raises (a client that disconnects)
        or the task is cancelled, nothing is left behind and the old object, if any, stays.
        """

    @abc.abstractmethod
    def save_file(self, key: str, source: Path) -> StoredObject:
        """Store the file at ``source`` under ``key``; streamed, with :meth:`save`'s guarantees."""

    @abc.abstractmethod
    def iter_bytes(
        self,
        key: str,
        start: int = 0,
        end: int | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> AsyncIterator[bytes]:
        """Yield the bytes ``start`` to ``end`` (inclusive; ``None``: to the end) of an object.

        An asynchronous generator: use it with ``async for``. Memory use stays at about one
        ``chunk_size`` whatever the size of the object. Raises :class:`ObjectNotFound` when it
        is first iterated if nothing is stored under ``key``.
        """

    @abc.abstractmethod
    def size(self, key: str) -> int:
        """Return the size in bytes of the object; raise :class:`ObjectNotFound` if missing."""

    @abc.abstractmethod
    def exists(self, key: str) -> bool:
        """Return whether an object is stored under ``key``."""

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object stored under ``key``; a missing object is not an error."""

    @abc.abstractmethod
    def local_path(self, key: str) -> Path | None:
        """Return the object's path on this machine's disk, or ``None`` for remote backends.

        Lets the app hand the file to the server (``sendfile``, ASGI ``pathsend``) or to nginx
        (``X-Accel-Redirect``) instead of copying the bytes itself.
        """

    @abc.abstractmethod
    def hash(self, key: str) -> StoredObject:
        """Read the stored object again (streamed) and return its size and SHA-256."""

    @abc.abstractmethod
    def head(self, key: str) -> ObjectHead | None:
        """Return the object's size and backend ETag, or ``None`` when nothing is stored."""

    @abc.abstractmethod
    def fetch_file(self, key: str, target: Path) -> None:
        """Copy the stored object to the local file ``target`` (streamed, constant memory)."""

    def presigned_get(
        self, key: str, *, filename_header: str, content_type: str, expires_in: int
    ) -> str | None:
        """A short-lived URL the buyer can fetch the object from directly, or ``None`` when the
        backend cannot make one (local disk). ``filename_header`` is the whole
        ``Content-Disposition`` value the answer must carry."""
        return None
