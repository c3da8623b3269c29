"""Settings resolved from the environment: the secrets derived from the secret key."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest
from pydantic import ValidationError

from shipkey.config import Settings

MASTER = "a-master-secret-that-signs-sessions-and-urls"


def _settings(tmp_path: Path, **fields: str) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path, secret_key=MASTER, **fields)  # type: ignore[arg-type]


def test_key_checksums_use_a_secret_derived_from_the_secret_key(tmp_path: Path) -> None:
    derived = hmac.new(MASTER.encode(), b"shipkey/license-key-checksum", hashlib.sha256).hexdigest()
    settings = _settings(tmp_path)
    assert settings.license_key_secret == derived
    assert MASTER not in settings.license_key_secret
    # keys issued before, with the secret key itself, are still recognised
    assert settings.license_key_secrets == (derived, MASTER)


def test_an_own_license_secret_is_used_as_it_is(tmp_path: Path) -> None:
    settings = _settings(tmp_path, license_secret="the-seed-license-secret")
    assert settings.license_key_secret == "the-seed-license-secret"
    assert settings.license_key_secrets == ("the-seed-license-secret",)


def test_the_support_address_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="one line"):
        _settings(tmp_path, support_email="help@shop.example\r\nBcc: x@evil.example")
    assert _settings(tmp_path, support_email="help@shop.example").support_address == (
        "help@shop.example"
    )
