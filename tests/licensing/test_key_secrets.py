"""Key checksums: a secret derived from the secret key, and the keys issued before it."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import update

from shipkey.db.engine import Database
from shipkey.licensing import keys
from shipkey.licensing.models import License
from tests.conftest import SECRET
from tests.licensing.helpers import CHECKSUM_SECRET as DERIVED
from tests.licensing.helpers import activate, deactivate, licensed_key, validate


def _rekey(db: Database, key: str, new_key: str) -> None:
    with db.session() as session:
        session.execute(update(License).where(License.key == key).values(key=new_key))


def test_new_keys_are_not_checked_with_the_secret_key_itself(admin: TestClient) -> None:
    key = licensed_key(admin)
    assert keys.check_key(key, DERIVED)
    assert not keys.check_key(key, SECRET)  # a key tells nothing about the secret key


def test_keys_issued_with_the_secret_key_keep_working(
    admin: TestClient, client: TestClient, db: Database
) -> None:
    key = licensed_key(admin)
    legacy = keys.generate_key("PIX", SECRET)
    _rekey(db, key, legacy)
    assert validate(client, legacy.lower())["code"] == "VALID"
    assert activate(client, legacy, "m1").status_code == 200
    assert validate(client, legacy, "m1")["code"] == "VALID"
    renewed = client.post("/api/licenses/file", json={"licenseKey": legacy, "machineId": "m1"})
    assert renewed.status_code == 200, renewed.text
    assert deactivate(client, legacy, "m1").status_code == 200


def test_a_made_up_key_with_either_checksum_is_not_found(client: TestClient) -> None:
    for secret in (SECRET, DERIVED):
        assert validate(client, keys.generate_key("PIX", secret))["code"] == "NOT_FOUND"
    assert validate(client, keys.generate_key("PIX", "guess"))["code"] == "INVALID_FORMAT"
