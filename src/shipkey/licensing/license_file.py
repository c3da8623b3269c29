"""Offline license files: a signed, armoured JSON document any language can verify.

::

    -----BEGIN SHIPKEY LICENSE FILE-----
    <base64 of {"enc": E, "sig": S, "alg": "base64+ed25519", "kid": K}, wrapped at 64>
    -----END SHIPKEY LICENSE FILE-----

``E`` is the base64 of the UTF-8 JSON payload, ``S`` the base64 Ed25519 signature over the
ASCII bytes ``"license/" + E``, made with the signing key named ``K``.

Reading is strict: base64 must be canonical, lines are separated by ``\\n`` (or ``\\r\\n``) only,
so no change to the armoured text other than surrounding whitespace yields a file that still
verifies.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shipkey.licensing.models import License
from shipkey.licensing.signing_keys import SigningKeyStore

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

BEGIN_MARKER = "-----BEGIN SHIPKEY LICENSE FILE-----"
END_MARKER = "-----END SHIPKEY LICENSE FILE-----"
ALGORITHM = "base64+ed25519"
SIGNING_PREFIX = b"license/"
LINE_WIDTH = 64
MAX_FILE_LENGTH = 64 * 1024
"""Larger input is refused unread; real license files are well under 2 KB."""

_BASE64_LINE_RE = re.compile(r"[A-Za-z0-9+/=]+")
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
DEFAULT_FILE_DAYS = 7
"""A license file must be renewed online this many days after it was issued, unless its
product says otherwise (``license_file_days``), and sooner if the license itself ends sooner.
Short, because a file stays valid offline after its machine is deactivated."""


class LicenseFileError(ValueError):
    """A license file that is malformed, not genuine, or not valid here and now.

    ``code`` tells programs why: ``MALFORMED``, ``UNSUPPORTED_ALGORITHM``, ``UNKNOWN_KEY``,
    ``BAD_SIGNATURE``, ``WRONG_MACHINE``, ``FILE_EXPIRED`` or ``LICENSE_EXPIRED``.
    """

    def __init__(self, message: str, code: str = "MALFORMED") -> None:
        super().__init__(message)
        self.code = code


def format_time(moment: datetime) -> str:
    """``moment`` as an ISO 8601 UTC string with second precision (``2026-11-28T10:00:00Z``)."""
    return moment.astimezone(UTC).strftime(_TIME_FORMAT)


def parse_time(text: str) -> datetime:
    """An ISO 8601 time with an explicit offset, as an aware UTC datetime."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise LicenseFileError(f"not an ISO 8601 time: {text[:40]!r}") from exc
    if moment.tzinfo is None:
        raise LicenseFileError(f"time without a UTC offset: {text[:40]!r}")
    try:
        return moment.astimezone(UTC)
    except OverflowError as exc:
        raise LicenseFileError(f"time out of range: {text[:40]!r}") from exc


def _to_second_utc(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return moment.astimezone(UTC).replace(microsecond=0)


@dataclass(frozen=True)
class LicenseFilePayload:
    """What a license file states. Times are aware UTC datetimes, kept to the second."""

    license_key: str
    product: str
    machine_id: str
    features: tuple[str, ...]
    license_expires_at: datetime | None
    issued_at: datetime
    expires_at: datetime
    """When the file itself must be renewed online."""

    def __post_init__(self) -> None:
        # Normalise so that a payload equals what is read back from its own file.
        object.__setattr__(self, "features", tuple(self.features))
        object.__setattr__(self, "issued_at", _to_second_utc(self.issued_at, "issued_at"))
        object.__setattr__(self, "expires_at", _to_second_utc(self.expires_at, "expires_at"))
        if self.license_expires_at is not None:
            object.__setattr__(
                self,
                "license_expires_at",
                _to_second_utc(self.license_expires_at, "license_expires_at"),
            )

    def to_json_dict(self) -> dict[str, Any]:
        """The payload with the contract's camelCase names and ISO 8601 UTC times."""
        return {
            "licenseKey": self.license_key,
            "product": self.product,
            "machineId": self.machine_id,
            "features": list(self.features),
            "licenseExpiresAt": (
                None if self.license_expires_at is None else format_time(self.license_expires_at)
            ),
            "issuedAt": format_time(self.issued_at),
            "expiresAt": format_time(self.expires_at),
        }

    @classmethod
    def from_json_dict(cls, data: Mapping[str, Any]) -> LicenseFilePayload:
        """Parse a decoded JSON payload; :class:`LicenseFileError` when anything is off."""
        features = data.get("features")
        if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
            raise LicenseFileError("payload field 'features' must be a list of strings")
        license_expires_at = data.get("licenseExpiresAt")
        return cls(
            license_key=_require_str(data, "licenseKey"),
            product=_require_str(data, "product"),
            machine_id=_require_str(data, "machineId"),
            features=tuple(features),
            license_expires_at=(
                None
                if license_expires_at is None
                else parse_time(_require_str(data, "licenseExpiresAt"))
            ),
            issued_at=parse_time(_require_str(data, "issuedAt")),
            expires_at=parse_time(_require_str(data, "expiresAt")),
        )


@dataclass(frozen=True)
class LicenseFileEnvelope:
    """The outer JSON of a license file, before its signature is checked."""

    enc: str
    sig: str
    alg: str
    kid: str

    def signed_message(self) -> bytes:
        """The bytes the signature covers: ``license/`` followed by ``enc``."""
        return _signed_message(self.enc)

    def to_json_dict(self) -> dict[str, str]:
        return {"enc": self.enc, "sig": self.sig, "alg": self.alg, "kid": self.kid}


def _signed_message(enc: str) -> bytes:
    return SIGNING_PREFIX + enc.encode("ascii")


def _require_str(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str):
        raise LicenseFileError(f"field {name!r} must be a string")
    return value


def _b64decode_canonical(text: str, what: str) -> bytes:
    """Decode standard padded base64, refusing any but the one canonical spelling."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise LicenseFileError(f"{what} is not valid base64") from exc
    if base64.b64encode(raw).decode("ascii") != text:
        raise LicenseFileError(f"{what} is not canonical base64")
    return raw


def _b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _load_json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise LicenseFileError(f"{what} is not valid UTF-8 JSON") from exc
    if not isinstance(value, dict):
        raise LicenseFileError(f"{what} must be a JSON object")
    return value


def _dump_json(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _armour(body: str) -> str:
    lines = [body[i : i + LINE_WIDTH] for i in range(0, len(body), LINE_WIDTH)]
    return "\n".join((BEGIN_MARKER, *lines, END_MARKER)) + "\n"


def _unarmour(text: str) -> str:
    lines = text.strip().replace("\r\n", "\n").split("\n")
    if len(lines) < 3 or lines[0] != BEGIN_MARKER or lines[-1] != END_MARKER:
        raise LicenseFileError("missing the SHIPKEY LICENSE FILE armour lines")
    body_lines = lines[1:-1]
    if not all(_BASE64_LINE_RE.fullmatch(line) for line in body_lines):
        raise LicenseFileError("license file body has characters outside base64")
    return "".join(body_lines)


def sign_license_file(payload: LicenseFilePayload, private_key: Ed25519PrivateKey, kid: str) -> str:
    """The armoured license file for ``payload``, signed with ``private_key`` named ``kid``."""
    enc = _b64encode(_dump_json(payload.to_json_dict()))
    sig = _b64encode(private_key.sign(_signed_message(enc)))
    envelope = LicenseFileEnvelope(enc=enc, sig=sig, alg=ALGORITHM, kid=kid)
    return _armour(_b64encode(_dump_json(envelope.to_json_dict())))


def read_license_file(text: str) -> LicenseFileEnvelope:
    """Parse the armour and outer JSON of a license file, without checking the signature.

    Raises :class:`LicenseFileError` (code ``MALFORMED``) on any malformed input.
    """
    if not isinstance(text, str):
        raise LicenseFileError("a license file is text")
    if len(text) > MAX_FILE_LENGTH:
        raise LicenseFileError("license file is too large")
    body = _unarmour(text)
    outer = _load_json_object(_b64decode_canonical(body, "license file body"), "license file")
    envelope = LicenseFileEnvelope(
        enc=_require_str(outer, "enc"),
        sig=_require_str(outer, "sig"),
        alg=_require_str(outer, "alg"),
        kid=_require_str(outer, "kid"),
    )
    if not envelope.enc.isascii():
        raise LicenseFileError("field 'enc' is not base64")
    return envelope


def verify_license_file(
    text: str, public_keys: Mapping[str, Ed25519PublicKey]
) -> LicenseFilePayload:
    """The payload of a genuine license file.

    Checks the algorithm, that the signing key is one of ``public_keys`` (by kid) and the
    signature; it does not check machine or expiry (see :func:`check_payload`).
    """
    envelope = read_license_file(text)
    if envelope.alg != ALGORITHM:
        raise LicenseFileError(
            f"unsupported algorithm {envelope.alg[:40]!r}", code="UNSUPPORTED_ALGORITHM"
        )
    public_key = public_keys.get(envelope.kid)
    if public_key is None:
        raise LicenseFileError(f"unknown signing key {envelope.kid[:40]!r}", code="UNKNOWN_KEY")
    signature = _b64decode_canonical(envelope.sig, "signature")
    from cryptography.exceptions import InvalidSignature

    try:
        public_key.verify(signature, envelope.signed_message())
    except InvalidSignature as exc:
        raise LicenseFileError("license file signature is not valid", code="BAD_SIGNATURE") from exc
    payload = _load_json_object(_b64decode_canonical(envelope.enc, "payload"), "payload")
    return LicenseFilePayload.from_json_dict(payload)


def check_payload(payload: LicenseFilePayload, machine_id: str, now: datetime) -> None:
    """Refuse a payload for another machine, an expired file or an expired license.

    ``now`` must be timezone-aware.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    if payload.machine_id != machine_id:
        raise LicenseFileError("license file is for another machine", code="WRONG_MACHINE")
    if payload.license_expires_at is not None and now >= payload.license_expires_at:
        raise LicenseFileError("license has expired", code="LICENSE_EXPIRED")
    if now >= payload.expires_at:
        raise LicenseFileError("license file has expired; renew it online", code="FILE_EXPIRED")


# --- a license's file, as the server issues it ----------------------------------------------


def file_expiry(lic: License, now: datetime) -> datetime:
    """When a file issued ``now`` must be renewed: the product's ``license_file_days`` on
    (:data:`DEFAULT_FILE_DAYS` when unset), never after the license ends."""
    expires = now + timedelta(days=lic.product.license_file_days or DEFAULT_FILE_DAYS)
    if lic.expires_at is not None and lic.expires_at < expires:
        return lic.expires_at
    return expires


def issue_file(signing_keys: SigningKeyStore, lic: License, machine_id: str, now: datetime) -> str:
    """A signed license file for ``lic`` on ``machine_id``, issued ``now``."""
    payload = LicenseFilePayload(
        license_key=lic.key,
        product=lic.product.slug,
        machine_id=machine_id,
        features=tuple(lic.features),
        license_expires_at=lic.expires_at,
        issued_at=now,
        expires_at=file_expiry(lic, now),
    )
    key = signing_keys.current()
    return sign_license_file(payload, key.private_key, key.kid)
