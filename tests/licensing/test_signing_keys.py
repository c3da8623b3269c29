import base64
import os
import re
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from shipkey.licensing.license_file import (
    LicenseFileError,
    LicenseFilePayload,
    sign_license_file,
    verify_license_file,
)
from shipkey.licensing.signing_keys import (
    SigningKey,
    SigningKeyError,
    SigningKeyStore,
    public_key_b64,
)

KID_RE = re.compile(r"\d{8}-[0-9a-f]{8}")
NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


def fixed_clock() -> datetime:
    return NOW


def payload() -> LicenseFilePayload:
    return LicenseFilePayload(
        license_key="EBO-ABCDE-FGHJK-LMNPQ-RSTUV-1A2B",
        product="e-book-pro",
        machine_id="machine-1",
        features=(),
        license_expires_at=None,
        issued_at=NOW,
        expires_at=NOW + timedelta(days=30),
    )


def sign_with_current(store: SigningKeyStore) -> str:
    key = store.current()
    return sign_license_file(payload(), key.private_key, key.kid)


def test_first_use_creates_a_key(tmp_path: Path) -> None:
    store = SigningKeyStore(tmp_path / "keys", clock=fixed_clock)
    key = store.current()
    assert KID_RE.fullmatch(key.kid)
    assert key.kid.startswith("20261128-")
    assert (tmp_path / "keys" / "current").read_text().strip() == key.kid
    pem = tmp_path / "keys" / f"{key.kid}.pem"
    assert pem.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    loaded = serialization.load_pem_private_key(pem.read_bytes(), password=None)
    assert isinstance(loaded, Ed25519PrivateKey)
    assert public_key_b64(loaded.public_key()) == public_key_b64(key.public_key)
    assert store.current().kid == key.kid
    assert not [p for p in (tmp_path / "keys").iterdir() if p.name.endswith(".tmp")]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
def test_private_key_file_is_private(tmp_path: Path) -> None:
    store = SigningKeyStore(tmp_path)
    key = store.current()
    mode = stat.S_IMODE((tmp_path / f"{key.kid}.pem").stat().st_mode)
    assert mode == 0o600
    rotated = store.rotate()
    assert stat.S_IMODE((tmp_path / f"{rotated.kid}.pem").stat().st_mode) == 0o600


def test_a_second_store_reads_the_same_key(tmp_path: Path) -> None:
    key = SigningKeyStore(tmp_path).current()
    again = SigningKeyStore(tmp_path).current()
    assert again.kid == key.kid
    assert public_key_b64(again.public_key) == public_key_b64(key.public_key)


def test_public_key_b64_is_raw_32_bytes(tmp_path: Path) -> None:
    key = SigningKeyStore(tmp_path).current()
    raw = base64.b64decode(public_key_b64(key.public_key), validate=True)
    assert len(raw) == 32
    restored = Ed25519PublicKey.from_public_bytes(raw)
    signature = key.private_key.sign(b"hello")
    restored.verify(signature, b"hello")


def test_published_json_matches_contract(tmp_path: Path) -> None:
    store = SigningKeyStore(tmp_path)
    key = store.current()
    assert [k.to_json_dict() for k in store.published()] == [
        {"kid": key.kid, "alg": "Ed25519", "publicKey": public_key_b64(key.public_key)}
    ]


def test_rotate_keeps_old_keys_published(tmp_path: Path) -> None:
    store = SigningKeyStore(tmp_path)
    old_text = sign_with_current(store)
    old = store.current()
    new = store.rotate()
    assert new.kid != old.kid
    assert store.current().kid == new.kid
    assert SigningKeyStore(tmp_path).current().kid == new.kid
    assert {k.kid for k in store.published()} == {old.kid, new.kid}
    new_text = sign_with_current(store)
    for text in (old_text, new_text):
        assert verify_license_file(text, store.public_keys()) == payload()


def test_retire_stops_publishing_and_verification(tmp_path: Path) -> None:
    store = SigningKeyStore(tmp_path)
    old_text = sign_with_current(store)
    old = store.current()
    store.rotate()
    new_text = sign_with_current(store)
    store.retire(old.kid)
    assert old.kid not in {k.kid for k in store.published()}
    assert (tmp_path / "retired" / f"{old.kid}.pem").exists()
    assert not (tmp_path / f"{old.kid}.pem").exists()
    with pytest.raises(LicenseFileError) as info:
        verify_license_file(old_text, store.public_keys())
    assert info.value.code == "UNKNOWN_KEY"
    assert verify_license_file(new_text, store.public_keys()) == payload()
    # A fresh store (another process) agrees.
    assert old.kid not in SigningKeyStore(tmp_path).public_keys()


def test_cannot_retire_current(tmp_path: Path) -> None:
    store = SigningKeyStore(tmp_path)
    key = store.current()
    with pytest.raises(ValueError, match="current"):
        store.retire(key.kid)
    assert key.kid in store.public_keys()


@pytest.mark.parametrize("kid", ["20261128-00000000", "../current", "", "current", "x.pem"])
def test_retire_unknown_kid(tmp_path: Path, kid: str) -> None:
    store = SigningKeyStore(tmp_path)
    store.current()
    with pytest.raises(KeyError):
        store.retire(kid)


def test_retire_twice(tmp_path: Path) -> None:
    store = SigningKeyStore(tmp_path)
    old = store.current()
    store.rotate()
    store.retire(old.kid)
    with pytest.raises(KeyError):
        store.retire(old.kid)


def test_corrupt_current_file(tmp_path: Path) -> None:
    (tmp_path / "current").write_text("../../etc/passwd\n")
    with pytest.raises(SigningKeyError):
        SigningKeyStore(tmp_path).current()


def test_missing_current_key_file(tmp_path: Path) -> None:
    store = SigningKeyStore(tmp_path)
    kid = store.current().kid
    (tmp_path / f"{kid}.pem").unlink()
    with pytest.raises(SigningKeyError, match="missing"):
        SigningKeyStore(tmp_path).current()


def test_losing_the_creation_race_uses_the_winners_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    winner = SigningKeyStore(tmp_path)
    loser = SigningKeyStore(tmp_path)
    write_new_key = SigningKeyStore._write_new_key

    def winner_finishes_first(store: SigningKeyStore) -> SigningKey:
        key = write_new_key(store)
        if store is loser:
            winner.current()
        return key

    monkeypatch.setattr(SigningKeyStore, "_write_new_key", winner_finishes_first)
    kid = loser.current().kid
    assert kid == winner.current().kid
    assert [p.name for p in tmp_path.glob("*.pem")] == [f"{kid}.pem"]
    assert [k.kid for k in loser.published()] == [kid]


CHILD = """
import sys
from pathlib import Path
from shipkey.licensing.signing_keys import SigningKeyStore
print(SigningKeyStore(Path(sys.argv[1])).current().kid)
"""


def test_concurrent_first_use_across_processes_creates_one_key(tmp_path: Path) -> None:
    env = os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(tmp_path)],
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        for _ in range(8)
    ]
    kids = {child.communicate(timeout=60)[0].strip() for child in children}
    assert all(child.returncode == 0 for child in children)
    assert len(kids) == 1
    (kid,) = kids
    assert [p.name for p in tmp_path.glob("*.pem")] == [f"{kid}.pem"]
    assert not list(tmp_path.glob(".*.tmp"))
