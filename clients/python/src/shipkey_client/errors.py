"""The exceptions of the client, each with a machine-readable ``code``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from shipkey_client.license_file import LicenseFilePayload


class ShipkeyError(Exception):
    """Base class of every error raised by this package."""


class ServerError(ShipkeyError):
    """The server could not be reached, failed (5xx), or answered outside the API.

    The license itself may be fine: fall back to the offline license file.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class LicenseError(ShipkeyError):
    """The server refused the request: ``{"error": message, "code": code}`` with ``status``.

    ``data`` is the whole JSON answer (``TOO_MANY_ACTIVATIONS`` adds ``maxActivations`` and
    ``currentActivations``); ``retry_after`` is set, in seconds, on rate limits.
    """

    def __init__(
        self,
        code: str,
        message: str,
        status: int,
        data: Mapping[str, Any] | None = None,
        *,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.data: dict[str, Any] = dict(data or {})
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return f"LicenseError(code={self.code!r}, message={self.message!r}, status={self.status})"


class LicenseFileError(ShipkeyError):
    """The offline license file cannot be used; ``code`` says why.

    ``payload`` is the file's content when it was genuine (its signature was good) but is not
    valid here and now, so the application can, for instance, renew it online with
    ``payload.license_key``.
    """

    code: ClassVar[str] = "MALFORMED"

    def __init__(self, message: str, payload: LicenseFilePayload | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.payload = payload


class MalformedLicenseFileError(LicenseFileError):
    """Not a license file: bad armour, base64, JSON, fields or algorithm."""

    code = "MALFORMED"


class NoLicenseFileError(LicenseFileError):
    """No license file was given and none is cached: activate first."""

    code = "NO_LICENSE_FILE"


class UnknownKeyError(LicenseFileError):
    """The file was signed by a key this client does not know (or no longer trusts)."""

    code = "UNKNOWN_KEY"


class BadSignatureError(LicenseFileError):
    """The signature does not match: the file was altered or forged."""

    code = "BAD_SIGNATURE"


class WrongMachineError(LicenseFileError):
    """The file was issued to another machine."""

    code = "WRONG_MACHINE"


class ProductMismatchError(LicenseFileError):
    """The file is a license of another product than the one the client was made for."""

    code = "PRODUCT_MISMATCH"


class FileExpiredError(LicenseFileError):
    """The file must be renewed online (activate again on this machine; no seat is used)."""

    code = "FILE_EXPIRED"


class LicenseExpiredError(LicenseFileError):
    """The license itself has run out."""

    code = "LICENSE_EXPIRED"


class ClockTamperedError(LicenseFileError):
    """The system clock is behind the file's issue time or went back since the last check."""

    code = "CLOCK_TAMPERED"
