"""Reading and verifying shipkey license files, without any network access.

::

    -----BEGIN SHIPKEY LICENSE FILE-----
    <base64 of {"enc": E, "sig": S, "alg": "base64+ed25519", "kid": K}, wrapped at 64>
    -----END SHIPKEY LICENSE FILE-----

``E`` is the base64 of the UTF-8 JSON payload and ``S`` the base64 Ed25519 signature over
the ASCII bytes ``"license/" + E`` by the server's key ``K``. Parsing is strict (canonical
base64, nothing but line breaks inside the armour), so an altered file never verifies.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from shipkey_client.errors import (
    BadSignatureError,
    MalformedLicenseFileError,
    UnknownKeyError,
)

BEGIN_MARKER = "-----BEGIN SHIPKEY LICENSE FILE-----"
END_MARKER = "-----END SHIPKEY LICENSE FILE-----"
ALGORITHM = "base64+ed25519"
SIGNING_PREFIX = b"license/"
MAX_FILE_LENGTH = 64 * 1024

_BASE64_LINE_RE = re.compile(r"[A-Za-z0-9+/=]+")


@dataclass(frozen=True)
class LicenseFilePayload:
    """What a genuine license file states. Times are aware UTC datetimes."""

    license_key: str
    product: str
    machine_id: str
    features: tuple[str, ...]
    license_expires_at: datetime | None
    """When the license itself ends; ``None`` for a perpetual license."""
    issued_at: datetime
    expires_at: datetime
    """When this file must be renewed online."""

    @classmethod
    def from_json_dict(cls, data: Mapping[str, Any]) -> LicenseFilePayload:
        """Parse the decoded JSON payload; :class:`MalformedLicenseFileError` if anything is off."""
        features = data.get("features")
        if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
            raise MalformedLicenseFileError("payload field 'features' must be a list of strings")
        license_expires_at = data.get("licenseExpiresAt")
        return cls(
            license_key=_require_str(data, "licenseKey"),
            product=_require_str(data, "product"),
            machine_id=_require_str(data, "machineId"),
            features=tuple(features),
            license_expires_at=(
                None
                if license_expires_at is None
                else _parse_time(_require_str(data, "licenseExpiresAt"))
            ),
            issued_at=_parse_time(_require_str(data, "issuedAt")),
            expires_at=_parse_time(_require_str(data, "expiresAt")),
        )

    def has_feature(self, name: str) -> bool:
        return name in self.features


@dataclass(frozen=True)
class LicenseFileEnvelope:
    """The outer JSON of a license file, before its signature is checked."""

    enc: str
    sig: str
    alg: str
    kid: str

    def signed_message(self) -> bytes:
        return SIGNING_PREFIX + self.enc.encode("ascii")


def decode_public_key(value: str) -> Ed25519PublicKey:
    """A public key from the base64 of its raw 32 bytes; :class:`ValueError` if it is not one."""
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise ValueError("public key is not valid base64") from exc
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key has 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def parse_license_file(text: str) -> LicenseFileEnvelope:
    """Read the armour and the outer JSON; :class:`MalformedLicenseFileError` on any flaw."""
    if not isinstance(text, str):
        raise MalformedLicenseFileError("a license file is text")
    if len(text) > MAX_FILE_LENGTH:
        raise MalformedLicenseFileError("license file is too large")
    lines = text.strip().replace("\r\n", "\n").split("\n")
    if len(lines) < 3 or lines[0] != BEGIN_MARKER or lines[-1] != END_MARKER:
        raise MalformedLicenseFileError("missing the SHIPKEY LICENSE FILE armour lines")
    body_lines = lines[1:-1]
    if not all(_BASE64_LINE_RE.fullmatch(line) for line in body_lines):
        raise MalformedLicenseFileError("license file body has characters outside base64")
    outer = _load_json_object(_b64decode("".join(body_lines), "license file body"), "file")
    envelope = LicenseFileEnvelope(
        enc=_require_str(outer, "enc"),
        sig=_require_str(outer, "sig"),
        alg=_require_str(outer, "alg"),
        kid=_require_str(outer, "kid"),
    )
    if not envelope.enc.isascii():
        raise MalformedLicenseFileError("field 'enc' is not base64")
    return envelope


class LicenseVerifier:
    """Checks license file signatures against a fixed set of public keys.

    Key objects are decoded once. The outcome for the last few distinct texts is remembered,
    so checking the same file again costs a dictionary lookup instead of a signature check;
    any other text, however similar, is verified in full.
    """

    CACHE_SIZE = 16

    def __init__(self, public_keys: Mapping[str, str]) -> None:
        """``public_keys`` maps kid to the base64 raw key; :class:`ValueError` for a bad key."""
        self._keys: dict[str, Ed25519PublicKey] = {
            kid: decode_public_key(value) for kid, value in public_keys.items()
        }
        self._verified: OrderedDict[str, LicenseFilePayload] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def kids(self) -> frozenset[str]:
        return frozenset(self._keys)

    def public_key(self, kid: str) -> Ed25519PublicKey | None:
        """The trusted key ``kid`` (release files are signed with the same keys)."""
        return self._keys.get(kid)

    def verify(self, text: str) -> LicenseFilePayload:
        """The payload of a genuine file signed by one of the keys.

        Raises :class:`MalformedLicenseFileError`, :class:`UnknownKeyError` or
        :class:`BadSignatureError`.
        """
        with self._lock:
            cached = self._verified.get(text)
            if cached is not None:
                self._verified.move_to_end(text)
                return cached
        payload = self._verify_uncached(text)
        with self._lock:
            self._verified[text] = payload
            while len(self._verified) > self.CACHE_SIZE:
                self._verified.popitem(last=False)
        return payload

    def _verify_uncached(self, text: str) -> LicenseFilePayload:
        envelope = parse_license_file(text)
        if envelope.alg != ALGORITHM:
            raise MalformedLicenseFileError(f"unsupported algorithm {envelope.alg[:40]!r}")
        public_key = self._keys.get(envelope.kid)
        if public_key is None:
            raise UnknownKeyError(f"license file signed by unknown key {envelope.kid[:40]!r}")
        signature = _b64decode(envelope.sig, "signature")
        try:
            public_key.verify(signature, envelope.signed_message())
        except InvalidSignature as exc:
            raise BadSignatureError("license file signature is not valid") from exc
        payload = _load_json_object(_b64decode(envelope.enc, "payload"), "payload")
        return LicenseFilePayload.from_json_dict(payload)


def _require_str(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str):
        raise MalformedLicenseFileError(f"field {name!r} must be a string")
    return value


def _parse_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise MalformedLicenseFileError(f"not an ISO 8601 time: {text[:40]!r}") from exc
    if moment.tzinfo is None:
        raise MalformedLicenseFileError(f"time without a UTC offset: {text[:40]!r}")
    try:
        return moment.astimezone(UTC)
    except OverflowError as exc:
        raise MalformedLicenseFileError(f"time out of range: {text[:40]!r}") from exc


def _b64decode(text: str, what: str) -> bytes:
    """Decode padded base64, accepting only its one canonical spelling."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedLicenseFileError(f"{what} is not valid base64") from exc
    if base64.b64encode(raw).decode("ascii") != text:
        raise MalformedLicenseFileError(f"{what} is not canonical base64")
    return raw


def _load_json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise MalformedLicenseFileError(f"{what} is not valid UTF-8 JSON") from exc
    if not isinstance(value, dict):
        raise MalformedLicenseFileError(f"{what} must be a JSON object")
    return value
