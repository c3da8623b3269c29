"""Seats cannot be multiplied: deactivations are limited, license files are short-lived."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from shipkey.db.engine import Database
from shipkey.errors import ShipkeyError
from shipkey.licensing import seats
from shipkey.licensing.license_file import verify_license_file
from shipkey.licensing.signing_keys import SigningKeyStore
from tests.licensing.helpers import (
    CHECKSUM_SECRET,
    activate,
    deactivate,
    licensed_key,
    load,
    set_expiry,
)


def _file_days(app: FastAPI, body: dict[str, Any]) -> timedelta:
    store: SigningKeyStore = app.state.signing_keys
    payload = verify_license_file(body["licenseFile"], store.public_keys())
    return payload.expires_at - payload.issued_at


def _cycle(client: TestClient, key: str, machine: str) -> Any:
    assert activate(client, key, machine).status_code == 200
    return deactivate(client, key, machine)


def test_three_deactivations_in_30_days_then_refused(
    admin: TestClient, client: TestClient, db: Database
) -> None:
    key = licensed_key(admin, maxActivations=2)
    for machine in ["a", "b", "c"]:
        assert _cycle(client, key, machine).status_code == 200
    refused = _cycle(client, key, "d")
    assert (refused.status_code, refused.json()["code"]) == (403, "TOO_MANY_DEACTIVATIONS")
    assert refused.json()["maxDeactivations"] == 3
    next_at = datetime.fromisoformat(refused.json()["nextDeactivationAt"])
    assert timedelta(days=29) < next_at - datetime.now(UTC) <= timedelta(days=30)
    lic = load(db, key)
    assert lic.activation_count == 1  # "d" keeps its seat
    assert admin.get(f"/api/admin/licenses/{key}").json()["activations"] == 1
    # Thirty days after the first of them, one may go again.
    later = datetime.now(UTC) + timedelta(days=30, minutes=1)
    with db.session() as session:
        seats.deactivate(session, CHECKSUM_SECRET, key, "d", now=later)
    assert load(db, key).activation_count == 0


def test_the_limit_is_the_products(admin: TestClient, client: TestClient) -> None:
    key = licensed_key(admin, maxDeactivations=1)
    product = admin.get("/api/admin/products/pixel-app").json()
    assert product["maxDeactivations"] == 1
    assert _cycle(client, key, "a").status_code == 200
    assert _cycle(client, key, "b").json()["code"] == "TOO_MANY_DEACTIVATIONS"
    changed = admin.patch("/api/admin/products/pixel-app", json={"maxDeactivations": 5})
    assert changed.status_code == 200, changed.text
    assert deactivate(client, key, "b").status_code == 200


def test_the_sellers_reset_is_unlimited_and_not_counted(
    admin: TestClient, client: TestClient
) -> None:
    key = licensed_key(admin, maxActivations=5)
    for round_ in range(5):
        for machine in ["a", "b"]:
            assert activate(client, key, f"{machine}{round_}").status_code == 200
        reset = admin.post(f"/api/admin/licenses/{key}/reset-activations")
        assert reset.status_code == 200
        assert reset.json()["activations"] == 0
    for machine in ["x", "y", "z"]:
        assert _cycle(client, key, machine).status_code == 200


def test_license_files_live_seven_days_unless_the_product_says(
    admin: TestClient, client: TestClient, app: FastAPI, db: Database
) -> None:
    key = licensed_key(admin)
    assert admin.get("/api/admin/products/pixel-app").json()["licenseFileDays"] == 7
    assert _file_days(app, activate(client, key, "m1").json()) == timedelta(days=7)
    admin.patch("/api/admin/products/pixel-app", json={"licenseFileDays": 2})
    assert _file_days(app, activate(client, key, "m1").json()) == timedelta(days=2)
    renewed = client.post("/api/licenses/file", json={"licenseKey": key, "machineId": "m1"})
    assert _file_days(app, renewed.json()) == timedelta(days=2)
    soon = datetime.now(UTC) + timedelta(hours=5)
    set_expiry(db, key, soon)
    assert _file_days(app, activate(client, key, "m1").json()) <= timedelta(hours=5)


@pytest.mark.parametrize(
    "fields",
    [
        {"maxDeactivations": -1},
        {"maxDeactivations": 10_001},
        {"licenseFileDays": 0},
        {"licenseFileDays": 367},
        {"licenseFileDays": "soon"},
    ],
)
def test_bad_limits_are_refused(admin: TestClient, fields: dict[str, Any]) -> None:
    answer = admin.post(
        "/api/admin/products", json={"name": "X", "slug": "x", "type": "LICENSE", **fields}
    )
    assert (answer.status_code, answer.json()["code"]) == (422, "VALIDATION_ERROR")


def test_no_deactivation_at_all_when_the_product_allows_none(
    admin: TestClient, client: TestClient, db: Database
) -> None:
    key = licensed_key(admin, maxDeactivations=0)
    assert activate(client, key, "a").status_code == 200
    assert deactivate(client, key, "a").json()["code"] == "TOO_MANY_DEACTIVATIONS"
    with db.session() as session, pytest.raises(ShipkeyError) as refused:
        seats.deactivate(session, CHECKSUM_SECRET, key, "a")
    assert refused.value.code == "TOO_MANY_DEACTIVATIONS"
