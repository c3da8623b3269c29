"""Client for shipkey licenses: activate online, then verify the signed license file offline."""

from shipkey_client.client import (
    ActivationResult,
    LicenseClient,
    LicenseInfo,
    ValidationResult,
    __version__,
    normalize_key,
    now_utc,
)
from shipkey_client.errors import (
    BadSignatureError,
    ClockTamperedError,
    FileExpiredError,
    LicenseError,
    LicenseExpiredError,
    LicenseFileError,
    MalformedLicenseFileError,
    NoLicenseFileError,
    ProductMismatchError,
    ServerError,
    ShipkeyError,
    UnknownKeyError,
    WrongMachineError,
)
from shipkey_client.fingerprint import machine_fingerprint
from shipkey_client.license_file import (
    LicenseFilePayload,
    LicenseVerifier,
    parse_license_file,
)
from shipkey_client.updates import Update, UpdateError, UpdateFile

__all__ = [
    "ActivationResult",
    "BadSignatureError",
    "ClockTamperedError",
    "FileExpiredError",
    "LicenseClient",
    "LicenseError",
    "LicenseExpiredError",
    "LicenseFileError",
    "LicenseFilePayload",
    "LicenseInfo",
    "LicenseVerifier",
    "MalformedLicenseFileError",
    "NoLicenseFileError",
    "ProductMismatchError",
    "ServerError",
    "ShipkeyError",
    "UnknownKeyError",
    "Update",
    "UpdateError",
    "UpdateFile",
    "ValidationResult",
    "WrongMachineError",
    "__version__",
    "machine_fingerprint",
    "normalize_key",
    "now_utc",
    "parse_license_file",
]
