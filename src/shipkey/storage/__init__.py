"""Where product files live: the local disk now, S3-compatible object stores later.

``open_storage(settings.resolved_storage_url)`` gives the backend named by
``SHIPKEY_STORAGE_URL``; everything else talks to the :class:`Storage` interface.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from shipkey.storage.base import (
    InvalidKey,
    ObjectNotFound,
    Storage,
    StorageError,
    StoredObject,
    validate_key,
)
from shipkey.storage.local import LocalStorage

__all__ = [
    "InvalidKey",
    "LocalStorage",
    "ObjectNotFound",
    "Storage",
    "StorageError",
    "StoredObject",
    "open_storage",
    "validate_key",
]


def open_storage(url: str) -> Storage:
    """Return the backend for a storage URL.

    - ``file:///absolute/path`` (or ``file://localhost/…``): :class:`LocalStorage` there.
      ``file:relative/path`` and ``file://./relative/path`` are taken relative to the working
      directory. The directory is created when missing.
    - ``s3://bucket/prefix``: not available yet, raises :class:`StorageError`.

    Anything else raises :class:`StorageError`.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme == "file":
        return LocalStorage(_file_url_path(url, parts.netloc, parts.path))
    if scheme == "s3":
        raise StorageError("S3 storage is not available yet")
    raise StorageError(
        f"unsupported storage URL {url!r}: use file:///absolute/path (or s3://bucket/prefix)"
    )


def _file_url_path(url: str, netloc: str, path: str) -> Path:
    if netloc in {"", "localhost"}:
        raw = path
    elif netloc in {".", ".."}:
        raw = netloc + path
    else:
        raise StorageError(f"storage URL {url!r} names a remote host; file URLs must be local")
    if not raw:
        raise StorageError(f"storage URL {url!r} has no path")
    return Path(unquote(raw))
