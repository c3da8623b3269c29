"""Configuration: environment variables (prefix ``SHIPKEY_``), also read from ``.env``.

Settings are read once at start-up and passed in (``create_app(settings)``); nothing reads the
environment at import time. Names and defaults are part of the public contract.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import secrets
import unicodedata
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shipkey import locations
from shipkey.locations import DEFAULT_DATA_DIR, ENV_FILE, ENV_FILE_ENCODING, ENV_PREFIX

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

SECRET_KEY_FILE = "secret_key"  # noqa: S105 - a file name
LICENSE_CHECKSUM_LABEL = b"shipkey/license-key-checksum"
"""What the secret of key checksums is derived from the secret key with (HMAC-SHA256)."""


class Settings(BaseSettings):
    """Every knob shipkey has. See the README's configuration table."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=ENV_FILE,
        env_file_encoding=ENV_FILE_ENCODING,
        extra="ignore",
    )

    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str | None = None
    base_url: str = "http://127.0.0.1:8000"
    secret_key: SecretStr | None = None
    license_secret: SecretStr | None = None
    admin_token: SecretStr | None = None
    smtp_url: SecretStr | None = None
    mail_from: str = "shipkey <noreply@localhost>"
    admin_email: str | None = None
    support_email: str | None = Field(
        default=None,
        description="Where buyers write with questions; unset: SHIPKEY_ADMIN_EMAIL, else none.",
    )
    default_locale: Literal["en", "de"] = "en"
    stripe_secret_key: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = None
    stripe_api_base: str | None = Field(
        default=None,
        description="Another origin for Stripe's API (stripe-mock, a test double); unset: Stripe.",
    )
    storage_url: str | None = None
    s3_endpoint_url: str | None = None
    download_mode: Literal["stream", "redirect", "x-accel"] = "stream"
    rate_limits: Literal["on", "off"] = "on"
    rate_limit_storage: str = Field(
        default="memory://",
        description="Where the license API's rate limits count: memory:// (each process on its "
        "own) or redis://host:port/db, shared by every process and machine.",
    )
    x_accel_prefix: str = "/_protected/"
    trusted_proxies: str | None = Field(
        default=None, description="Comma-separated CIDRs whose X-Forwarded-For is believed."
    )
    max_upload_bytes: int = Field(
        default=20 * 1024**3,
        gt=0,
        description="The largest product file an upload may bring (bytes); larger ones get 413.",
    )
    metrics_allow: str = Field(
        default="127.0.0.0/8,::1/128",
        description="Comma-separated CIDRs that may read /metrics without an admin token.",
    )
    give_up_hours: float = Field(
        default=24,
        gt=0,
        description="Hours a background job (an e-mail) is retried before it fails.",
    )
    keep_done_days: int = Field(
        default=30,
        ge=1,
        le=36500,
        description="Days finished jobs, sent e-mails' bodies, applied webhook events and spent "
        "sign-in links are kept before the daily clean-up removes them.",
    )
    webhook_timeout: float = Field(
        default=15,
        gt=0,
        le=300,
        description="Seconds a seller webhook delivery may take before it counts as failed.",
    )
    release_link_seconds: int = Field(
        default=900,
        ge=10,
        le=7 * 24 * 3600,
        description="How long the download links an update check hands out can be used.",
    )
    smtp_ca_file: Path | None = Field(
        default=None, description="CA bundle the SMTP server's certificate is checked against."
    )
    risk_action: Literal["flag", "suspend"] = Field(
        default="flag",
        description="What a risk rule's hit does besides recording it and telling the seller: "
        "flag only, or suspend the license and refuse new download links until cleared.",
    )
    risk_download_networks: int = Field(
        default=3,
        ge=1,
        description="A purchase's links fetched from more networks than this in 24 h is a hit.",
    )
    risk_validation_networks: int = Field(
        default=5,
        ge=1,
        description="A license validated from more networks than this in 24 h is a hit.",
    )
    risk_activation_churn: int = Field(
        default=5,
        ge=1,
        description="A license activated and deactivated more times than this in 30 days is a hit.",
    )
    risk_sign_in_networks: int = Field(
        default=3,
        ge=1,
        description="A buyer signed in to the purchase portal from more networks than this in "
        "24 h is a hit.",
    )
    risk_refunds: int = Field(
        default=2,
        ge=1,
        description="A buyer with at least this many refunded or disputed purchases buying again "
        "is a hit.",
    )
    refund_on_fraud_warning: Literal["on", "off"] = Field(
        default="off",
        description="on: a payment Stripe sends an early fraud warning for is refunded at once.",
    )
    withdrawal_waiver: Literal["on", "off"] = Field(
        default="off",
        description="on: buyers agree, before paying, that delivery starts at once and their "
        "right of withdrawal ends with it (section 356 (5) BGB).",
    )
    seller_imprint: str | None = Field(
        default=None,
        description="The seller's legal name and address, printed in every e-mail and page footer.",
    )
    stripe_automatic_tax: Literal["on", "off"] = Field(
        default="off",
        description="on: Checkout computes tax, collects tax ids and makes an invoice.",
    )
    ip_retention_days: int = Field(
        default=30,
        ge=1,
        le=3650,
        description="Days after which stored IPs are cut to /24 or /48 and user agents dropped.",
    )
    shutdown_grace: int = Field(
        default=30,
        ge=1,
        le=86_400,
        description="Seconds a stopping server lets running requests (downloads) finish before "
        "it ends them; an interrupted download can be resumed with Range.",
    )

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("mail_from", "support_email")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        if value is not None and any(
            c.isspace() and c != " " or unicodedata.category(c) == "Cc" for c in value
        ):
            raise ValueError("must be one line without control characters")
        return value

    @field_validator("trusted_proxies", "metrics_allow")
    @classmethod
    def _check_networks(cls, value: str | None) -> str | None:
        if value:
            _parse_networks(value)
        return value

    @field_validator("rate_limit_storage")
    @classmethod
    def _check_limit_storage(cls, value: str) -> str:
        if value.split("://", 1)[0] not in ("memory", "redis", "rediss"):
            raise ValueError("must be memory:// or a redis:// or rediss:// URL")
        return value

    @field_validator("x_accel_prefix")
    @classmethod
    def _check_prefix(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must start with '/'")
        return value if value.endswith("/") else value + "/"

    # --- resolved values ----------------------------------------------------------------

    @property
    def support_address(self) -> str | None:
        """Where buyers write: ``SHIPKEY_SUPPORT_EMAIL``, else ``SHIPKEY_ADMIN_EMAIL``, else
        None (and no page or e-mail offers an address: never the no-reply sender)."""
        return self.support_email or self.admin_email or None

    @cached_property
    def resolved_data_dir(self) -> Path:
        return locations.resolve_data_dir(self.data_dir)

    @cached_property
    def resolved_database_url(self) -> str:
        return locations.database_url(self.database_url, self.resolved_data_dir)

    @cached_property
    def resolved_storage_url(self) -> str:
        if self.storage_url:
            return self.storage_url
        return (self.resolved_data_dir / "files").as_uri()

    @cached_property
    def secret(self) -> bytes:
        """The HMAC key for signed URLs, sessions and key checksums."""
        if self.secret_key is not None and self.secret_key.get_secret_value():
            return self.secret_key.get_secret_value().encode()
        return _load_or_create_secret(self.resolved_data_dir / SECRET_KEY_FILE).encode()

    @cached_property
    def license_key_secret(self) -> str:
        """The secret in the checksums of new license keys.

        ``SHIPKEY_LICENSE_SECRET`` when set (the seed's formula, for keys made elsewhere).
        Otherwise derived from the secret key by HMAC with a label, so that the keys buyers hold
        give nothing to test guesses of the secret key against (it also signs sessions and URLs).
        """
        if self._own_license_secret is not None:
            return self._own_license_secret
        return hmac.new(self.secret, LICENSE_CHECKSUM_LABEL, hashlib.sha256).hexdigest()

    @cached_property
    def license_key_secrets(self) -> tuple[str, ...]:
        """The secrets a key's checksum may match: :attr:`license_key_secret` and, without an
        own license secret, the secret key itself, which made the checksums of keys issued
        before the derived secret (they are in the database and keep working)."""
        if self._own_license_secret is not None:
            return (self._own_license_secret,)
        return (self.license_key_secret, self.secret.decode())

    @property
    def _own_license_secret(self) -> str | None:
        if self.license_secret is not None and self.license_secret.get_secret_value():
            return self.license_secret.get_secret_value()
        return None

    @cached_property
    def trusted_networks(self) -> tuple[IPNetwork, ...]:
        return _parse_networks(self.trusted_proxies or "")

    @cached_property
    def metrics_networks(self) -> tuple[IPNetwork, ...]:
        return _parse_networks(self.metrics_allow)

    @property
    def waiver_required(self) -> bool:
        return self.withdrawal_waiver == "on"

    @property
    def automatic_tax(self) -> bool:
        return self.stripe_automatic_tax == "on"

    @property
    def rate_limits_enabled(self) -> bool:
        return self.rate_limits == "on"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")


def _parse_networks(value: str) -> tuple[IPNetwork, ...]:
    networks = []
    for part in value.split(","):
        part = part.strip()
        if part:
            networks.append(ipaddress.ip_network(part, strict=False))
    return tuple(networks)


def _load_or_create_secret(path: Path) -> str:
    """Read the generated secret, creating it once (race-safe between processes).

    The value is written to a private temporary file and hard-linked into place, so a reader
    never sees a half-written file and the first process to link wins.
    """
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(48) + "\n")
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_text().strip()
