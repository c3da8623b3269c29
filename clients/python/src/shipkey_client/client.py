"""The license client: activate, deactivate and validate online; verify offline."""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import mmap
import os
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from shipkey_client.errors import (
    ClockTamperedError,
    FileExpiredError,
    LicenseError,
    LicenseExpiredError,
    LicenseFileError,
    NoLicenseFileError,
    ProductMismatchError,
    ServerError,
    UnknownKeyError,
    WrongMachineError,
)
from shipkey_client.fingerprint import machine_fingerprint
from shipkey_client.license_file import (
    LicenseFilePayload,
    LicenseVerifier,
    decode_public_key,
)
from shipkey_client.updates import (
    Digest,
    Update,
    UpdateError,
    UpdateFile,
    this_arch,
    this_platform,
)

__version__ = "0.1.0"

LICENSE_FILE_NAME = "license.lic"
PUBLIC_KEYS_FILE_NAME = "public-keys.json"
LAST_SEEN_FILE_NAME = "last-seen"
LAST_SEEN_WRITE_INTERVAL = timedelta(minutes=1)
"""The stored last-seen time is rewritten at most this often (checks may run many times a
second); the clock-tampering test is correspondingly lenient."""


def now_utc() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class LicenseInfo:
    """A license as the server describes it."""

    product_name: str
    license_type: str
    status: str
    expires_at: datetime | None
    features: tuple[str, ...]
    activations: int
    max_activations: int
    data: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    """The JSON object as received, with any fields added by newer servers."""

    @classmethod
    def from_json_dict(cls, data: Mapping[str, Any]) -> LicenseInfo:
        features = data.get("features")
        return cls(
            product_name=_str_or(data.get("productName"), ""),
            license_type=_str_or(data.get("licenseType"), ""),
            status=_str_or(data.get("status"), ""),
            expires_at=_time_or_none(data.get("expiresAt")),
            features=(
                tuple(f for f in features if isinstance(f, str))
                if isinstance(features, list)
                else ()
            ),
            activations=_int_or(data.get("activations"), 0),
            max_activations=_int_or(data.get("maxActivations"), 0),
            data=dict(data),
        )


@dataclass(frozen=True)
class ActivationResult:
    """The answer to :meth:`LicenseClient.activate`."""

    success: bool
    message: str
    license: LicenseInfo | None
    license_file: str | None
    """The signed license file for this machine, already verified and cached."""
    payload: LicenseFilePayload | None
    """The content of ``license_file``."""


@dataclass(frozen=True)
class ValidationResult:
    """The answer to :meth:`LicenseClient.validate`.

    ``code`` is one of ``VALID``, ``INVALID_FORMAT``, ``NOT_FOUND``, ``PRODUCT_MISMATCH``,
    ``SUSPENDED``, ``REVOKED``, ``EXPIRED`` or ``NOT_ACTIVATED``.
    """

    valid: bool
    code: str
    license: LicenseInfo | None


class LicenseClient:
    """Talks to a shipkey server for one application on one machine.

    ``public_keys`` (kid to base64 raw Ed25519 key, as ``GET /api/licenses/public-keys``
    lists them) pins the keys that license files must be signed with; ship them inside your
    application. Without them, the keys are fetched from the server when first needed and
    cached in ``cache_dir``.

    ``cache_dir`` holds the license file from the last activation and the last time a check
    succeeded. Without it nothing is written to disk.

    ``product`` (the product's slug) makes the client accept keys and license files of that
    product only: the server refuses other products' keys with ``PRODUCT_MISMATCH``, and
    :meth:`verify_offline` refuses their files with :class:`ProductMismatchError`. Set it:
    all of a seller's products are signed with the same keys.
    """

    def __init__(
        self,
        base_url: str,
        *,
        public_keys: Mapping[str, str] | None = None,
        cache_dir: Path | None = None,
        http: httpx.Client | None = None,
        clock: Callable[[], datetime] = now_utc,
        max_clock_skew: timedelta = timedelta(minutes=5),
        machine_id: str | None = None,
        app_salt: str = "",
        timeout: float = 10.0,
        product: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.product = product
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.max_clock_skew = max_clock_skew
        self._clock = clock
        self._pinned = public_keys is not None
        self._owns_http = http is None
        self._http = http or httpx.Client(
            timeout=timeout, headers={"User-Agent": f"shipkey-client/{__version__}"}
        )
        self._machine_id = machine_id
        self._app_salt = app_salt
        self._lock = threading.Lock()
        self._last_seen: datetime | None = None
        self._last_seen_written: datetime | None = None
        self._last_seen_loaded = False
        keys = dict(public_keys) if public_keys is not None else self._read_cached_public_keys()
        self._verifier = LicenseVerifier(keys)

    # -- lifecycle -----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the HTTP client if this object created it."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> LicenseClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- properties ----------------------------------------------------------------------------

    @property
    def machine_id(self) -> str:
        """This machine's fingerprint (or the ``machine_id`` given to the constructor)."""
        if self._machine_id is None:
            self._machine_id = machine_fingerprint(self._app_salt)
        return self._machine_id

    @property
    def known_kids(self) -> frozenset[str]:
        """The kids of the keys license files are checked against."""
        return self._verifier.kids

    def now(self) -> datetime:
        """The client's clock, as an aware UTC datetime."""
        moment = self._clock()
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError("the clock must return timezone-aware datetimes")
        return moment.astimezone(UTC)

    # -- online --------------------------------------------------------------------------------

    def activate(
        self, key: str, machine_id: str | None = None, machine_name: str | None = None
    ) -> ActivationResult:
        """Activate ``key`` on this machine (or ``machine_id``) and cache its license file.

        Activating again on the same machine uses no seat and renews the license file.
        Raises :class:`LicenseError` when the server refuses, :class:`ServerError` when it
        cannot be reached, :class:`LicenseFileError` when the returned file does not verify.
        """
        machine = machine_id or self.machine_id
        body: dict[str, Any] = {"licenseKey": normalize_key(key), "machineId": machine}
        if machine_name is not None:
            body["machineName"] = machine_name
        if self.product is not None:
            body["product"] = self.product
        data = self._request("POST", "/api/licenses/activate", json=body)
        license_file = data.get("licenseFile")
        payload: LicenseFilePayload | None = None
        if isinstance(license_file, str):
            payload = self._verify_fresh_file(license_file, machine)
            if machine_id is None or machine_id == self.machine_id:
                self._store_license_file(license_file)
                # The server stamped the file: its time also repairs a clock that had run ahead.
                self._reset_last_seen(payload.issued_at)
        else:
            license_file = None
        return ActivationResult(
            success=bool(data.get("success", True)),
            message=_str_or(data.get("message"), ""),
            license=_license_or_none(data.get("license")),
            license_file=license_file,
            payload=payload,
        )

    def deactivate(self, key: str, machine_id: str | None = None) -> str:
        """Free this machine's seat (or ``machine_id``'s); returns the server's message.

        The cached license file is removed when it belongs to that key and machine.
        """
        machine = machine_id or self.machine_id
        normalized = normalize_key(key)
        data = self._request(
            "DELETE",
            "/api/licenses/activate",
            params={"key": normalized, "machineId": machine},
        )
        self._forget_license_file(normalized, machine)
        return _str_or(data.get("message"), "")

    def validate(self, key: str, machine_id: str | None = None) -> ValidationResult:
        """Ask the server whether ``key`` is valid and active on this machine (or ``machine_id``).

        ``valid`` is false with ``code`` ``NOT_ACTIVATED`` when the license is fine but holds
        no activation for the machine: it was deactivated (from another machine, the buyer's
        page or by the seller), so its cached license file is removed too and offline checks
        answer ``NO_LICENSE_FILE`` until it is activated again.
        """
        normalized, machine = normalize_key(key), machine_id or self.machine_id
        body = {"licenseKey": normalized, "machineId": machine}
        if self.product is not None:
            body["product"] = self.product
        data = self._request("POST", "/api/licenses/validate", json=body)
        valid = data.get("valid")
        code = data.get("code")
        if not isinstance(valid, bool) or not isinstance(code, str):
            raise ServerError("validate answer lacks 'valid' or 'code'", 200)
        if code == "NOT_ACTIVATED":
            self._forget_license_file(normalized, machine)
        return ValidationResult(
            valid=valid, code=code, license=_license_or_none(data.get("license"))
        )

    def fetch_public_keys(self) -> dict[str, str]:
        """The server's published Ed25519 keys, kid to base64 raw key.

        Unless keys were pinned in the constructor, they replace the known keys and are cached.
        """
        data = self._request("GET", "/api/licenses/public-keys")
        entries = data.get("keys")
        if not isinstance(entries, list):
            raise ServerError("public-keys answer lacks 'keys'", 200)
        keys: dict[str, str] = {}
        for entry in entries:
            if not isinstance(entry, dict) or entry.get("alg") != "Ed25519":
                continue
            kid, value = entry.get("kid"), entry.get("publicKey")
            if not isinstance(kid, str) or not isinstance(value, str):
                continue
            try:
                decode_public_key(value)
            except ValueError:
                continue
            keys[kid] = value
        if not self._pinned:
            self._verifier = LicenseVerifier(keys)
            self._write_cache_file(PUBLIC_KEYS_FILE_NAME, json.dumps(keys, indent=2) + "\n")
        return keys

    # -- updates -----------------------------------------------------------------------------

    def check_for_update(
        self,
        current_version: str | None,
        channel: str = "stable",
        *,
        key: str | None = None,
        platform: str | None = None,
        arch: str | None = None,
    ) -> Update | None:
        """The newest release this license may download on ``channel`` (or a more stable one)
        for this platform, or None when ``current_version`` is already the newest.

        ``key`` defaults to the one in the cached license file; ``platform`` and ``arch`` to
        this machine's. Needs ``product``. Raises :class:`LicenseError` (``SUSPENDED``,
        ``REVOKED``, ``EXPIRED``, …) when the server refuses, :class:`ServerError` when it
        cannot be reached.
        """
        if self.product is None:
            raise ValueError("check_for_update needs the client's product")
        license_key = normalize_key(key) if key is not None else self._cached_key()
        params = {
            "channel": channel,
            "platform": platform or this_platform(),
            "arch": arch or this_arch(),
        }
        if current_version is not None:
            params["currentVersion"] = current_version
        try:
            response = self._http.get(
                f"{self.base_url}/api/releases/{self.product}/latest",
                params=params,
                headers={"Authorization": f"License {license_key}"},
            )
        except httpx.HTTPError as exc:
            raise ServerError(f"cannot reach the license server: {exc}") from exc
        if response.status_code == 204:
            return None
        return Update.from_json_dict(self._json(response))

    def download_update(
        self, update: Update, directory: Path, file: UpdateFile | None = None
    ) -> Path:
        """Download a file of ``update`` (the first unless ``file`` is given) into
        ``directory`` and return its path, once its size, SHA-256 and Ed25519 signature (by a
        key the client trusts) are right.

        A file that fails a check is deleted and :class:`UpdateError` raised with its
        ``code``; nothing half-written is ever left at the returned path.
        """
        chosen = file or (update.files[0] if update.files else None)
        if chosen is None:
            raise UpdateError("NO_FILE", f"update {update.version} has no file to download")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / Path(chosen.file_name).name
        temp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.part")
        try:
            digest = self._fetch(chosen.url, temp)
            if digest.size != chosen.size:
                raise UpdateError(
                    "SIZE_MISMATCH", f"got {digest.size} bytes, expected {chosen.size}"
                )
            if digest.hexdigest != chosen.sha256:
                raise UpdateError("SHA256_MISMATCH", "the file's SHA-256 is not the published one")
            self._check_signature(chosen, temp)
            os.replace(temp, target)
        finally:
            temp.unlink(missing_ok=True)
        return target

    def _fetch(self, url: str, temp: Path) -> Digest:
        digest = Digest()
        try:
            with (
                self._http.stream("GET", url, follow_redirects=True) as response,
                temp.open("wb") as out,
            ):
                if not response.is_success:
                    response.read()
                    self._json(response)
                for chunk in response.iter_bytes():
                    digest.update(chunk)
                    out.write(chunk)
        except httpx.HTTPError as exc:
            raise ServerError(f"cannot download the update: {exc}") from exc
        return digest

    def _check_signature(self, file: UpdateFile, path: Path) -> None:
        if file.kid not in self._verifier.kids and not self._pinned:
            self.fetch_public_keys()
        public_key = self._verifier.public_key(file.kid)
        if public_key is None:
            raise UpdateError("UNKNOWN_KEY", f"the update is signed by unknown key {file.kid!r}")
        try:
            signature = base64.b64decode(file.signature, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise UpdateError("BAD_SIGNATURE", "the update's signature is not base64") from exc
        try:
            _verify_file(public_key, signature, path)
        except InvalidSignature as exc:
            raise UpdateError("BAD_SIGNATURE", "the update's signature is not valid") from exc

    def _cached_key(self) -> str:
        text = self.cached_license_file()
        if text is None:
            raise NoLicenseFileError("no license file: activate this machine first")
        return self._verifier.verify(text).license_key

    # -- offline -------------------------------------------------------------------------------

    def verify_offline(
        self, license_file_text: str | None = None, machine_id: str | None = None
    ) -> LicenseFilePayload:
        """Check a license file without the network and return what it grants.

        Uses the cached file from the last activation unless ``license_file_text`` is given.
        Checks, in order: format and signature, machine, the clock (not behind the file's
        issue time, not turned back since the last successful check), the license's and the
        file's expiry. Raises a :class:`LicenseFileError` subclass whose ``code`` says which
        failed.
        """
        text = license_file_text if license_file_text is not None else self.cached_license_file()
        if text is None:
            raise NoLicenseFileError("no license file: activate this machine first")
        payload = self._verifier.verify(text)
        now = self.now()
        self._check_payload(payload, machine_id or self.machine_id, now)
        self._remember_check(now)
        return payload

    def cached_license_file(self) -> str | None:
        """The license file stored by the last activation, if any."""
        if self.cache_dir is None:
            return None
        try:
            return (self.cache_dir / LICENSE_FILE_NAME).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    # -- checks --------------------------------------------------------------------------------

    def _check_payload(self, payload: LicenseFilePayload, machine_id: str, now: datetime) -> None:
        self._check_product(payload)
        if payload.machine_id != machine_id:
            raise WrongMachineError("license file was issued to another machine", payload)
        if payload.issued_at > now + self.max_clock_skew:
            raise ClockTamperedError(
                "the system clock is behind the license file's issue time", payload
            )
        last_seen = self._load_last_seen()
        if last_seen is not None and now < last_seen - self.max_clock_skew:
            raise ClockTamperedError("the system clock was turned back", payload)
        if payload.license_expires_at is not None and now >= payload.license_expires_at:
            raise LicenseExpiredError("the license has expired", payload)
        if now >= payload.expires_at:
            raise FileExpiredError("the license file has expired: renew it online", payload)

    def _verify_fresh_file(self, text: str, machine_id: str) -> LicenseFilePayload:
        """Verify a file just received, fetching the server's keys once if they are needed."""
        try:
            payload = self._verifier.verify(text)
        except UnknownKeyError:
            if self._pinned:
                raise
            self.fetch_public_keys()
            payload = self._verifier.verify(text)
        if payload.machine_id != machine_id:
            raise WrongMachineError("the server issued a license file for another machine")
        self._check_product(payload)
        return payload

    def _check_product(self, payload: LicenseFilePayload) -> None:
        if self.product is not None and payload.product != self.product:
            raise ProductMismatchError("license file is for another product", payload)

    # -- cache directory -------------------------------------------------------------------

    def _load_last_seen(self) -> datetime | None:
        with self._lock:
            if not self._last_seen_loaded:
                self._last_seen_loaded = True
                stored = self._read_last_seen_file()
                if stored is not None and (self._last_seen is None or stored > self._last_seen):
                    self._last_seen = stored
                self._last_seen_written = stored
            return self._last_seen

    def _remember_check(self, now: datetime) -> None:
        with self._lock:
            if self._last_seen is None or now > self._last_seen:
                self._last_seen = now
            written = self._last_seen_written
            if written is not None and self._last_seen - written < LAST_SEEN_WRITE_INTERVAL:
                return
            self._last_seen_written = self._last_seen
            moment = self._last_seen
        with contextlib.suppress(OSError):
            self._write_cache_file(LAST_SEEN_FILE_NAME, moment.isoformat() + "\n")

    def _reset_last_seen(self, moment: datetime) -> None:
        with self._lock:
            self._last_seen = moment
            self._last_seen_written = moment
            self._last_seen_loaded = True
        with contextlib.suppress(OSError):
            self._write_cache_file(LAST_SEEN_FILE_NAME, moment.isoformat() + "\n")

    def _read_last_seen_file(self) -> datetime | None:
        if self.cache_dir is None:
            return None
        try:
            text = (self.cache_dir / LAST_SEEN_FILE_NAME).read_text(encoding="ascii").strip()
            moment = datetime.fromisoformat(text)
        except (OSError, ValueError):
            return None
        if moment.tzinfo is None:
            return None
        return moment.astimezone(UTC)

    def _read_cached_public_keys(self) -> dict[str, str]:
        if self.cache_dir is None:
            return {}
        try:
            data = json.loads((self.cache_dir / PUBLIC_KEYS_FILE_NAME).read_text("utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict):
            return {}
        keys: dict[str, str] = {}
        for kid, value in data.items():
            if isinstance(kid, str) and isinstance(value, str):
                with contextlib.suppress(ValueError):
                    decode_public_key(value)
                    keys[kid] = value
        return keys

    def _store_license_file(self, text: str) -> None:
        self._write_cache_file(LICENSE_FILE_NAME, text)

    def _forget_license_file(self, key: str, machine_id: str) -> None:
        text = self.cached_license_file()
        if text is None or self.cache_dir is None:
            return
        try:
            payload = self._verifier.verify(text)
        except LicenseFileError:
            return
        if payload.license_key == key and payload.machine_id == machine_id:
            (self.cache_dir / LICENSE_FILE_NAME).unlink(missing_ok=True)

    def _write_cache_file(self, name: str, content: str) -> None:
        """Replace ``cache_dir/name`` in one step, so readers never see half a file."""
        if self.cache_dir is None:
            return
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        target = self.cache_dir / name
        temp = target.with_name(f".{name}.{secrets.token_hex(6)}.tmp")
        try:
            with temp.open("w", encoding="utf-8", newline="\n") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, target)
        finally:
            temp.unlink(missing_ok=True)

    # -- HTTP ----------------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self._http.request(method, self.base_url + path, **kwargs)
        except httpx.HTTPError as exc:
            raise ServerError(f"cannot reach the license server: {exc}") from exc
        return self._json(response)

    def _json(self, response: httpx.Response) -> dict[str, Any]:
        """The JSON object of a successful answer; the matching error otherwise."""
        if response.status_code >= 500:
            raise ServerError(
                f"license server error (HTTP {response.status_code})", response.status_code
            )
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.is_success:
            if not isinstance(data, dict):
                raise ServerError(
                    "license server answered without a JSON object", response.status_code
                )
            return data
        raise _license_error(response, data if isinstance(data, dict) else {})


def _verify_file(public_key: Ed25519PublicKey, signature: bytes, path: Path) -> None:
    """Ed25519 over a file's bytes, mapped into memory rather than read (an installer may be
    large; Ed25519 checks the whole message at once)."""
    with path.open("rb") as file:
        if os.fstat(file.fileno()).st_size == 0:
            public_key.verify(signature, b"")
            return
        with (
            mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as mapped,
            memoryview(mapped) as view,
        ):
            public_key.verify(signature, view)


def normalize_key(key: str) -> str:
    """A pasted license key as the server expects it: trimmed, upper case."""
    return key.strip().upper()


def _license_error(response: httpx.Response, data: dict[str, Any]) -> LicenseError:
    status = response.status_code
    code = data.get("code")
    message = data.get("error")
    return LicenseError(
        code if isinstance(code, str) else f"HTTP_{status}",
        message if isinstance(message, str) else f"license server refused (HTTP {status})",
        status,
        data,
        retry_after=_retry_after(response.headers.get("Retry-After")),
    )


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _license_or_none(value: object) -> LicenseInfo | None:
    return LicenseInfo.from_json_dict(value) if isinstance(value, dict) else None


def _str_or(value: object, default: str) -> str:
    return value if isinstance(value, str) else default


def _int_or(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _time_or_none(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        return None
