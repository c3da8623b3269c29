"""``shipkey keys …`` and ``shipkey license …``, run in-process against the test database."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from shipkey.cli import app as cli
from shipkey.config import Settings
from shipkey.licensing.signing_keys import public_key_b64
from tests.licensing.helpers import activate, licensed_key, licensed_product, validate

runner = CliRunner()


@pytest.fixture
def env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    values = {
        "SHIPKEY_DATA_DIR": str(settings.resolved_data_dir),
        "SHIPKEY_DATABASE_URL": settings.resolved_database_url,
        "SHIPKEY_SECRET_KEY": settings.secret.decode(),
        "COLUMNS": "200",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(settings.resolved_data_dir.parent)
    return settings


def _run(*args: str, code: int = 0) -> str:
    result = runner.invoke(cli, list(args))
    assert result.exit_code == code, result.output
    return result.output


def _license_file(admin: TestClient, client: TestClient, path: Path, machine: str = "m1") -> str:
    key = licensed_key(admin)
    text: str = activate(client, key, machine).json()["licenseFile"]
    path.write_text(text)
    return key


def test_keys_list_and_rotate(env: Settings) -> None:
    assert "No signing keys yet" in _run("keys", "list")
    first = _run("keys", "rotate").split()[4]
    second = _run("keys", "rotate").split()[4]
    assert first != second
    listing = _run("keys", "list").splitlines()
    assert dict(line.split()[:2] for line in listing) == {first: "published", second: "current"}
    assert "Retired" in _run("keys", "retire", first)
    assert [line.split()[0] for line in _run("keys", "list").splitlines()] == [second]
    assert "rotate before" in _run("keys", "retire", second, code=1)
    assert "No published signing key" in _run("keys", "retire", "20000101-00000000", code=1)


def test_license_issue_makes_a_working_key(
    env: Settings, admin: TestClient, client: TestClient
) -> None:
    licensed_product(admin, maxActivations=1)
    output = _run(
        "license", "issue", "--product", "pixel-app", "--email", "press@example.com", "--name", "P"
    )
    key = output.splitlines()[0]
    assert "PERPETUAL license" in output
    assert "press@example.com" in output
    assert validate(client, key)["code"] == "VALID"
    assert activate(client, key, "m1").status_code == 200
    shown = _run("license", "show", key.lower())
    assert key in shown
    assert "seats 1/1" in shown
    assert "m1" in shown
    wider = _run(
        "license", "issue", "--product", "pixel-app", "--email", "a@example.com",
        "--max-activations", "5",
    )  # fmt: skip
    assert "5 machines" in wider


def test_license_issue_errors(env: Settings, admin: TestClient) -> None:
    licensed_product(admin, type="DOWNLOAD", licenseType=None, slug="book")
    assert "not sold with a license" in _run(
        "license", "issue", "--product", "book", "--email", "a@example.com", code=1
    )
    assert "No product" in _run(
        "license", "issue", "--product", "nope", "--email", "a@example.com", code=1
    )
    assert "Not an e-mail address" in _run(
        "license", "issue", "--product", "book", "--email", "not-an-address", code=1
    )
    assert "No license" in _run("license", "show", "NOPE-AAAAA", code=1)


def test_license_verify_with_the_data_dir_keys(
    env: Settings, admin: TestClient, client: TestClient, tmp_path: Path
) -> None:
    path = tmp_path / "license.lic"
    key = _license_file(admin, client, path)
    output = _run("license", "verify", str(path))
    assert f'"licenseKey": "{key}"' in output
    assert '"machineId": "m1"' in output
    assert "Verifies" in output
    assert "Verifies" in _run("license", "verify", str(path), "--machine-id", "m1")
    assert "WRONG_MACHINE" in _run("license", "verify", str(path), "--machine-id", "m2", code=1)

    tampered = tmp_path / "tampered.lic"
    lines = path.read_text().splitlines()
    lines[2] = lines[2][:10] + ("A" if lines[2][10] != "A" else "B") + lines[2][11:]
    tampered.write_text("\n".join(lines) + "\n")
    assert "Does not verify" in _run("license", "verify", str(tampered), code=1)
    assert "Cannot read" in _run("license", "verify", str(tmp_path / "missing.lic"), code=1)


def test_license_verify_with_an_explicit_public_key(
    env: Settings,
    admin: TestClient,
    client: TestClient,
    app: FastAPI,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "license.lic"
    _license_file(admin, client, path)
    current = app.state.signing_keys.current()
    trusted = f"{current.kid}={public_key_b64(current.public_key)}"
    monkeypatch.setenv("SHIPKEY_DATA_DIR", str(tmp_path / "elsewhere"))  # no keys here
    assert "pass --public-key" in _run("license", "verify", str(path), code=1)
    assert "Verifies" in _run("license", "verify", str(path), "--public-key", trusted)
    other = "20260101-00000000=" + public_key_b64(current.public_key)
    assert "UNKNOWN_KEY" in _run("license", "verify", str(path), "--public-key", other, code=1)
    assert "KID=BASE64" in _run("license", "verify", str(path), "--public-key", "junk", code=1)
    bad = f"{current.kid}=AAAA"
    assert "32 bytes" in _run("license", "verify", str(path), "--public-key", bad, code=1)


def test_old_files_verify_after_a_rotation_until_their_key_is_retired(
    env: Settings, admin: TestClient, client: TestClient, tmp_path: Path
) -> None:
    path = tmp_path / "license.lic"
    _license_file(admin, client, path)
    old_kid = client.get("/api/licenses/public-keys").json()["keys"][0]["kid"]
    new_kid = _run("keys", "rotate").split()[4]
    published = {k["kid"] for k in client.get("/api/licenses/public-keys").json()["keys"]}
    assert published == {old_kid, new_kid}
    assert "Verifies" in _run("license", "verify", str(path))
    _run("keys", "retire", old_kid)
    assert "UNKNOWN_KEY" in _run("license", "verify", str(path), code=1)
