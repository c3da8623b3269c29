"""Updates: what a license may download next, and a download that is checked before use."""

from __future__ import annotations

import hashlib
import platform as _platform
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shipkey_client.errors import ShipkeyError

_ARCH_ALIASES = {"amd64": "x86_64", "x64": "x86_64", "aarch64": "arm64", "i686": "x86"}


class UpdateError(ShipkeyError):
    """A downloaded update failed a check and was deleted; ``code`` says which:
    ``SIZE_MISMATCH``, ``SHA256_MISMATCH``, ``UNKNOWN_KEY``, ``BAD_SIGNATURE``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class UpdateFile:
    """One file of a release, for a platform and an architecture (``any``: all)."""

    file_name: str
    size: int
    sha256: str
    platform: str
    arch: str
    url: str
    """A short-lived link: download soon after the check."""
    signature: str
    """Base64 Ed25519 signature over the file's bytes."""
    kid: str


@dataclass(frozen=True)
class Update:
    """The newest release the license may download."""

    version: str
    channel: str
    notes: str
    published_at: datetime | None
    files: tuple[UpdateFile, ...]

    @classmethod
    def from_json_dict(cls, data: Mapping[str, Any]) -> Update:
        files = []
        for item in data.get("artifacts") or ():
            if not isinstance(item, dict):
                continue
            try:
                files.append(
                    UpdateFile(
                        file_name=str(item["fileName"]),
                        size=int(item["size"]),
                        sha256=str(item["sha256"]).lower(),
                        platform=str(item.get("platform", "any")),
                        arch=str(item.get("arch", "any")),
                        url=str(item["url"]),
                        signature=str(item["signature"]),
                        kid=str(item["kid"]),
                    )
                )
            except (KeyError, TypeError, ValueError):
                continue
        published = data.get("publishedAt")
        moment: datetime | None = None
        if isinstance(published, str):
            try:
                moment = datetime.fromisoformat(published)
                moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
            except ValueError:
                moment = None
        return cls(
            version=str(data.get("version", "")),
            channel=str(data.get("channel", "")),
            notes=str(data.get("notes", "")),
            published_at=moment,
            files=tuple(files),
        )


def this_platform() -> str:
    """``linux``, ``macos``, ``windows`` or the lower-case ``sys.platform``."""
    if sys.platform.startswith("linux"):
        return "linux"
    if sys.platform == "darwin":
        return "macos"
    if sys.platform in ("win32", "cygwin"):
        return "windows"
    return "".join(c for c in sys.platform.lower() if c.isalnum() or c == "_")[:32] or "any"


def this_arch() -> str:
    """``x86_64``, ``arm64``, … of this machine (``any`` when unknown)."""
    machine = _platform.machine().lower()
    machine = _ARCH_ALIASES.get(machine, machine)
    return "".join(c for c in machine if c.isalnum() or c == "_")[:32] or "any"


class Digest:
    """Size and SHA-256 of bytes as they arrive."""

    def __init__(self) -> None:
        self.size = 0
        self._sha256 = hashlib.sha256()

    def update(self, chunk: bytes) -> None:
        self.size += len(chunk)
        self._sha256.update(chunk)

    @property
    def hexdigest(self) -> str:
        return self._sha256.hexdigest()
