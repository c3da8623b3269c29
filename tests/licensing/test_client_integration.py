"""The shipkey_client package against a real server: online calls and offline files."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from shipkey_client import (
    FileExpiredError,
    LicenseClient,
    LicenseError,
    LicenseExpiredError,
    LicenseFileError,
    LicenseVerifier,
    ProductMismatchError,
    UnknownKeyError,
    WrongMachineError,
)

from shipkey.licensing.signing_keys import SigningKeyStore
from tests.licensing.helpers import buy, licensed_key, licensed_product

MACHINE = "machine-under-test"


def _client(base_url: str, tmp_path: Path) -> LicenseClient:
    return LicenseClient(base_url, machine_id=MACHINE, cache_dir=tmp_path / "cache")


def _flip(text: str) -> str:
    """The file with one character of its base64 body changed."""
    lines = text.splitlines()
    middle = lines[1]
    index = len(middle) // 2
    replacement = "A" if middle[index] != "A" else "B"
    lines[1] = middle[:index] + replacement + middle[index + 1 :]
    return "\n".join(lines) + "\n"


def _published(server: str) -> dict[str, str]:
    keys = httpx.get(f"{server}/api/licenses/public-keys").json()["keys"]
    return {entry["kid"]: entry["publicKey"] for entry in keys}


def test_activate_online_then_verify_offline(
    admin: TestClient, live_server: str, tmp_path: Path
) -> None:
    key = licensed_key(admin)
    with _client(live_server, tmp_path) as client:
        result = client.activate(key.lower(), machine_name="test box")
        assert result.success
        assert result.license is not None
        assert result.license.features == ("export", "sync")
        assert result.license.activations == 1
        assert result.payload is not None
        assert result.payload.machine_id == MACHINE
        lic = client.verify_offline()
        assert lic.license_key == key
        assert lic.has_feature("export")
        assert lic.license_expires_at is None
        assert client.validate(key).code == "VALID"
        assert client.activate(key).message == "Already activated"

    # Offline, with nothing but the published public key and the file.
    assert result.license_file is not None
    offline = LicenseClient(
        "http://127.0.0.1:9", public_keys=_published(live_server), machine_id=MACHINE
    )
    assert offline.verify_offline(result.license_file).license_key == key
    assert LicenseVerifier(_published(live_server)).verify(result.license_file).product == (
        "pixel-app"
    )


def test_tampered_foreign_and_expired_files_fail(
    admin: TestClient, live_server: str, tmp_path: Path
) -> None:
    key = licensed_key(admin)
    with _client(live_server, tmp_path) as client:
        text = client.activate(key).license_file
    assert text is not None
    keys = _published(live_server)
    payload = LicenseVerifier(keys).verify(text)

    def at(moment: datetime, machine: str = MACHINE) -> LicenseClient:
        return LicenseClient(
            "http://127.0.0.1:9", public_keys=keys, machine_id=machine, clock=lambda: moment
        )

    now = datetime.now(UTC)
    assert at(now).verify_offline(text).license_key == key
    with pytest.raises(LicenseFileError):
        at(now).verify_offline(_flip(text))
    with pytest.raises(WrongMachineError):
        at(now, "another-machine").verify_offline(text)
    with pytest.raises(FileExpiredError) as expired:
        at(payload.expires_at + timedelta(seconds=1)).verify_offline(text)
    assert expired.value.payload is not None
    assert at(payload.expires_at - timedelta(seconds=1)).verify_offline(text)


def test_a_trial_file_ends_with_the_license(
    admin: TestClient, live_server: str, tmp_path: Path
) -> None:
    key = licensed_key(admin, licenseType="TRIAL", licenseDays=2)
    with _client(live_server, tmp_path) as client:
        result = client.activate(key)
        payload, text = result.payload, result.license_file
        assert payload is not None
        assert text is not None
        assert payload.license_expires_at == payload.expires_at
        late = LicenseClient(
            live_server,
            public_keys=_published(live_server),
            machine_id=MACHINE,
            clock=lambda: payload.expires_at + timedelta(minutes=1),
        )
        with pytest.raises(LicenseExpiredError):
            late.verify_offline(text)


def test_server_refusals_reach_the_client_with_codes(
    admin: TestClient, live_server: str, tmp_path: Path
) -> None:
    key = licensed_key(admin, maxActivations=1)
    with _client(live_server, tmp_path) as client:
        client.activate(key)
        with pytest.raises(LicenseError) as too_many:
            client.activate(key, machine_id="second")
        assert too_many.value.code == "TOO_MANY_ACTIVATIONS"
        assert too_many.value.status == 403
        assert too_many.value.data["maxActivations"] == 1
        assert too_many.value.data["currentActivations"] == 1
        with pytest.raises(LicenseError) as malformed:
            client.activate("not-a-key")
        assert malformed.value.code == "INVALID_KEY_FORMAT"
        assert client.validate("not-a-key").code == "INVALID_FORMAT"
        client.deactivate(key)
        assert client.cached_license_file() is None
        assert client.validate(key).code == "NOT_ACTIVATED"
        assert client.activate(key, machine_id="second").success


def test_files_signed_before_a_rotation_verify_while_their_key_is_published(
    admin: TestClient, app: FastAPI, live_server: str, tmp_path: Path
) -> None:
    store: SigningKeyStore = app.state.signing_keys
    key = licensed_key(admin)
    with _client(live_server, tmp_path) as client:
        old_file = client.activate(key).license_file
        assert old_file is not None
        old_kid = store.current().kid
        new_kid = store.rotate().kid
        assert set(client.fetch_public_keys()) == {old_kid, new_kid}
        assert client.verify_offline(old_file).license_key == key
        new_file = client.activate(key).license_file  # renewal: signed with the new key
        assert new_file is not None
        assert client.verify_offline(new_file).license_key == key
        store.retire(old_kid)
        assert set(client.fetch_public_keys()) == {new_kid}
        with pytest.raises(UnknownKeyError):
            client.verify_offline(old_file)
        assert client.verify_offline(new_file).license_key == key


def test_a_client_for_one_product_refuses_keys_of_another(
    admin: TestClient, live_server: str, tmp_path: Path
) -> None:
    licensed_product(admin, slug="pixel-lite", price=100)
    _, cheap = buy(admin, "pixel-lite")
    cache = tmp_path / "cache"
    with LicenseClient(
        live_server, machine_id=MACHINE, cache_dir=cache, product="pixel-studio"
    ) as studio:
        with pytest.raises(LicenseError) as refused:
            studio.activate(cheap)
        assert (refused.value.status, refused.value.code) == (403, "PRODUCT_MISMATCH")
        assert studio.validate(cheap).code == "PRODUCT_MISMATCH"
    with LicenseClient(live_server, machine_id=MACHINE, cache_dir=cache) as anything:
        text = anything.activate(cheap).license_file
    assert text is not None
    studio = LicenseClient(live_server, machine_id=MACHINE, cache_dir=cache, product="pixel-studio")
    with pytest.raises(ProductMismatchError):
        studio.verify_offline(text)
    studio.close()
    with LicenseClient(
        live_server, machine_id=MACHINE, cache_dir=cache, product="pixel-lite"
    ) as lite:
        assert lite.verify_offline(text).product == "pixel-lite"
        assert lite.validate(cheap).code == "VALID"
