"""Ed25519 keys that sign license files, kept as PEM files in one directory.

Layout::

    <dir>/<kid>.pem          PKCS8 PEM private key (mode 0600), published
    <dir>/current            the kid that signs new files
    <dir>/retired/<kid>.pem  no longer published

A kid is ``YYYYMMDD-`` followed by 8 lowercase hex digits. Files are never rewritten in place:
each one is written to a temporary file and then linked or renamed into place, so several
processes may share the directory (the first one to need a key creates it, exactly once).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # cryptography maps several MiB: loaded when a key is first used, not with the app.
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

ALGORITHM = "Ed25519"
CURRENT_FILE = "current"
RETIRED_DIR = "retired"
SIGNING_KEYS_DIR = "signing-keys"
"""Where an installation keeps its signing keys, inside its data directory."""
KID_RE = re.compile(r"[0-9]{8}-[0-9a-f]{8}")


class SigningKeyError(RuntimeError):
    """The key directory is inconsistent (e.g. ``current`` names a missing key)."""


def public_key_b64(key: Ed25519PublicKey) -> str:
    """Base64 of the raw 32 bytes of ``key``: the form the public-keys endpoint publishes."""
    from cryptography.hazmat.primitives import serialization

    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def decode_public_key(text: str) -> Ed25519PublicKey:
    """An Ed25519 public key from the base64 of its raw 32 bytes; ValueError otherwise."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("a public key must be base64") from exc
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key has 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def parse_trusted_key(spec: str) -> tuple[str, Ed25519PublicKey]:
    """``KID=BASE64`` (as given on the command line) as a kid and its public key."""
    kid, sep, value = spec.partition("=")
    if not sep or not kid.strip():
        raise ValueError(f"expected KID=BASE64, got {spec[:40]!r}")
    try:
        return kid.strip(), decode_public_key(value)
    except ValueError as exc:
        raise ValueError(f"{kid.strip()}: {exc}") from exc


@dataclass(frozen=True)
class PublicSigningKey:
    """The published half of a signing key."""

    kid: str
    public_key: Ed25519PublicKey

    def to_json_dict(self) -> dict[str, Any]:
        """``{kid, alg, publicKey}`` as served by ``GET /api/licenses/public-keys``."""
        return {"kid": self.kid, "alg": ALGORITHM, "publicKey": public_key_b64(self.public_key)}


@dataclass(frozen=True)
class SigningKey:
    """A private signing key and its kid."""

    kid: str
    private_key: Ed25519PrivateKey

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    def public(self) -> PublicSigningKey:
        return PublicSigningKey(kid=self.kid, public_key=self.public_key)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def is_valid_kid(kid: str) -> bool:
    """Whether ``kid`` has the ``YYYYMMDD-xxxxxxxx`` form (and so is a safe file name)."""
    return isinstance(kid, str) and KID_RE.fullmatch(kid) is not None


class SigningKeyStore:
    """The license signing keys of one installation."""

    def __init__(self, directory: Path, *, clock: Callable[[], datetime] = _utc_now) -> None:
        self.directory = Path(directory)
        self._clock = clock
        self._loaded: dict[str, SigningKey] = {}
        self._lock = threading.Lock()

    # -- public API --------------------------------------------------------------------------

    def has_keys(self) -> bool:
        """Whether a current key exists (without creating one)."""
        return (self.directory / CURRENT_FILE).exists()

    def current(self) -> SigningKey:
        """The key that signs new license files, created on first use."""
        kid = self._read_current_kid()
        if kid is None:
            kid = self._create_first_key()
        return self._load(kid)

    def rotate(self) -> SigningKey:
        """Make a new key current. Older keys stay published until retired."""
        key = self._write_new_key()
        self._write_file_atomically(self.directory / CURRENT_FILE, key.kid + "\n", mode=0o644)
        return key

    def retire(self, kid: str) -> None:
        """Stop publishing ``kid``; files it signed no longer verify.

        Raises :class:`KeyError` for a kid that is not published and :class:`ValueError` for
        the current key (rotate first).
        """
        if not is_valid_kid(kid) or not self._key_path(kid).exists():
            raise KeyError(kid)
        if kid == self._read_current_kid():
            raise ValueError(f"signing key {kid} is current; rotate before retiring it")
        retired = self.directory / RETIRED_DIR
        retired.mkdir(mode=0o700, exist_ok=True)
        os.replace(self._key_path(kid), retired / f"{kid}.pem")
        with self._lock:
            self._loaded.pop(kid, None)

    def published(self) -> list[PublicSigningKey]:
        """Every key whose signatures are accepted, oldest first (creating one if none)."""
        self.current()
        kids = sorted(path.stem for path in self.directory.glob("*.pem") if is_valid_kid(path.stem))
        keys: list[PublicSigningKey] = []
        for kid in kids:
            with contextlib.suppress(FileNotFoundError):  # retired meanwhile
                keys.append(self._load(kid).public())
        return keys

    def public_keys(self) -> dict[str, Ed25519PublicKey]:
        """The published keys by kid, as ``verify_license_file`` takes them."""
        return {key.kid: key.public_key for key in self.published()}

    # -- storage -----------------------------------------------------------------------------

    def _key_path(self, kid: str) -> Path:
        return self.directory / f"{kid}.pem"

    def _new_kid(self) -> str:
        return f"{self._clock().astimezone(UTC):%Y%m%d}-{secrets.token_hex(4)}"

    def _read_current_kid(self) -> str | None:
        try:
            kid = (self.directory / CURRENT_FILE).read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return None
        if not is_valid_kid(kid):
            raise SigningKeyError(f"{self.directory / CURRENT_FILE} does not name a valid kid")
        return kid

    def _create_first_key(self) -> str:
        """Create the first key; if another process wins the race, use its key instead."""
        key = self._write_new_key()
        try:
            self._link_new_file(self.directory / CURRENT_FILE, key.kid + "\n", mode=0o644)
        except FileExistsError:
            self._key_path(key.kid).unlink(missing_ok=True)  # never current, never used
            with self._lock:
                self._loaded.pop(key.kid, None)
            kid = self._read_current_kid()
            if kid is None:
                raise SigningKeyError("the current signing key vanished while reading") from None
            return kid
        return key.kid

    def _write_new_key(self) -> SigningKey:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        private_key = Ed25519PrivateKey.generate()
        pem = private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii")
        while True:
            kid = self._new_kid()
            try:
                self._link_new_file(self._key_path(kid), pem, mode=0o600)
            except FileExistsError:
                continue  # a kid collision: draw another
            break
        key = SigningKey(kid=kid, private_key=private_key)
        with self._lock:
            self._loaded[kid] = key
        return key

    def _load(self, kid: str) -> SigningKey:
        with self._lock:
            cached = self._loaded.get(kid)
        if cached is not None:
            return cached
        try:
            data = self._key_path(kid).read_bytes()
        except FileNotFoundError:
            if kid == self._read_current_kid():
                raise SigningKeyError(f"the current signing key {kid} is missing") from None
            raise
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        private_key = serialization.load_pem_private_key(data, password=None)
        if not isinstance(private_key, Ed25519PrivateKey):
            raise SigningKeyError(f"{self._key_path(kid)} is not an Ed25519 private key")
        key = SigningKey(kid=kid, private_key=private_key)
        with self._lock:
            self._loaded[kid] = key
        return key

    def _write_temp(self, target: Path, content: str, mode: int) -> Path:
        temp = target.with_name(f".{target.name}.{secrets.token_hex(8)}.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return temp

    def _link_new_file(self, target: Path, content: str, mode: int) -> None:
        """Create ``target`` with ``content``, complete or not at all; FileExistsError if taken."""
        temp = self._write_temp(target, content, mode)
        try:
            os.link(temp, target)
        finally:
            temp.unlink(missing_ok=True)

    def _write_file_atomically(self, target: Path, content: str, mode: int) -> None:
        """Replace ``target`` with ``content`` in one step."""
        temp = self._write_temp(target, content, mode)
        try:
            os.replace(temp, target)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise


def signing_key_store(data_dir: Path) -> SigningKeyStore:
    """The signing keys of the installation whose data directory is ``data_dir``."""
    return SigningKeyStore(data_dir / SIGNING_KEYS_DIR)
