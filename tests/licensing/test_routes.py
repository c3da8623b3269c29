"""The public license API and the admin license API, over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from shipkey.app import create_app
from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.licensing import keys
from shipkey.licensing.license_file import verify_license_file
from shipkey.licensing.models import LicenseStatus
from shipkey.licensing.signing_keys import SigningKeyStore
from shipkey.storage import Storage
from tests.conftest import SECRET
from tests.factories import create_product, create_purchase, product_with_file
from tests.licensing.helpers import (
    CHECKSUM_SECRET,
    activate,
    buy,
    count_queries,
    deactivate,
    licensed_key,
    licensed_product,
    load,
    set_expiry,
    validate,
)


def _store(app: FastAPI) -> SigningKeyStore:
    store: SigningKeyStore = app.state.signing_keys
    return store


def _payload(app: FastAPI, license_file: str) -> dict[str, Any]:
    return verify_license_file(license_file, _store(app).public_keys()).to_json_dict()


def _wrong_checksum(key: str) -> str:
    checksum = key[-4:]
    return key[:-4] + ("0000" if checksum != "0000" else "1111")


def _near(value: str | None, expected: datetime) -> bool:
    assert value is not None
    return abs(datetime.fromisoformat(value) - expected) < timedelta(minutes=1)


# --- fulfilment -----------------------------------------------------------------------------


def test_a_purchase_of_a_licensed_product_delivers_one_license(admin: TestClient) -> None:
    licensed_product(admin, keyPrefix="PXA", maxActivations=2)
    purchase = create_purchase(admin, "pixel-app")
    [lic] = purchase["licenses"]
    assert set(lic) == {"key", "status", "activations", "maxActivations", "expiresAt"}
    assert lic["status"] == "ACTIVE"
    assert lic["activations"] == 0
    assert lic["maxActivations"] == 2
    assert lic["expiresAt"] is None  # PERPETUAL
    assert lic["key"].startswith("PXA-")
    assert keys.check_key(lic["key"], CHECKSUM_SECRET)
    assert purchase["downloadLinks"] == []
    fetched = admin.get(f"/api/admin/purchases/{purchase['id']}").json()
    assert fetched["licenses"] == [lic]


def test_a_product_with_a_file_and_a_license_delivers_both(admin: TestClient) -> None:
    product, _ = product_with_file(admin, licenseType="PERPETUAL", slug="tool")
    purchase = create_purchase(admin, product["slug"])
    assert len(purchase["downloadLinks"]) == 1
    assert len(purchase["licenses"]) == 1
    assert purchase["licenses"][0]["key"].startswith("TOO-")


def test_a_download_product_delivers_no_license(admin: TestClient) -> None:
    create_product(admin)
    assert create_purchase(admin, "test-book")["licenses"] == []


@pytest.mark.parametrize(
    ("license_type", "fields", "days"),
    [
        ("SUBSCRIPTION", {}, 365),
        ("TRIAL", {}, 14),
        ("TRIAL", {"licenseDays": 3}, 3),
        ("SUBSCRIPTION", {"licenseDays": 30}, 30),
    ],
)
def test_time_limited_licenses_expire_after_license_days(
    admin: TestClient, license_type: str, fields: dict[str, Any], days: int
) -> None:
    licensed_product(admin, licenseType=license_type, **fields)
    [lic] = create_purchase(admin, "pixel-app")["licenses"]
    assert _near(lic["expiresAt"], datetime.now(UTC) + timedelta(days=days))


def test_each_purchase_gets_its_own_key(admin: TestClient) -> None:
    licensed_product(admin)
    assert len({buy(admin)[1] for _ in range(5)}) == 5


# --- activation -----------------------------------------------------------------------------


def test_activation_answers_with_the_license_and_a_signed_file(
    admin: TestClient, client: TestClient, app: FastAPI
) -> None:
    key = licensed_key(admin)
    response = activate(client, key, "machine-1", machineName="Ada's laptop")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    assert body["message"] == "License activated"
    assert body["license"] == {
        "productName": "Pixel App",
        "licenseType": "PERPETUAL",
        "status": "ACTIVE",
        "expiresAt": None,
        "features": ["export", "sync"],
        "activations": 1,
        "maxActivations": 3,
    }
    payload = _payload(app, body["licenseFile"])
    assert payload["licenseKey"] == key
    assert payload["product"] == "pixel-app"
    assert payload["machineId"] == "machine-1"
    assert payload["features"] == ["export", "sync"]
    assert payload["licenseExpiresAt"] is None
    issued = datetime.fromisoformat(payload["issuedAt"])
    assert datetime.fromisoformat(payload["expiresAt"]) - issued == timedelta(days=7)
    [machine] = admin.get(f"/api/admin/licenses/{key}").json()["machines"]
    assert machine["machineName"] == "Ada's laptop"
    assert machine["ip"] == "testclient"


def test_the_file_never_outlives_the_license(
    admin: TestClient, client: TestClient, app: FastAPI
) -> None:
    key = licensed_key(admin, licenseType="TRIAL", licenseDays=7)
    payload = _payload(app, activate(client, key, "m").json()["licenseFile"])
    assert payload["licenseExpiresAt"] is not None
    assert payload["expiresAt"] == payload["licenseExpiresAt"]
    assert _near(payload["expiresAt"], datetime.now(UTC) + timedelta(days=7))


def test_activating_again_on_the_same_machine_uses_no_seat(
    admin: TestClient, client: TestClient, app: FastAPI
) -> None:
    key = licensed_key(admin)
    assert activate(client, key, "m1").status_code == 200
    again = activate(client, key, "m1", machineName="renamed")
    assert again.status_code == 200
    assert again.json()["message"] == "Already activated"
    assert again.json()["license"]["activations"] == 1
    assert _payload(app, again.json()["licenseFile"])["machineId"] == "m1"
    detail = admin.get(f"/api/admin/licenses/{key}").json()
    assert [m["machineName"] for m in detail["machines"]] == ["renamed"]


def test_seats_run_out_with_counts_in_the_error(admin: TestClient, client: TestClient) -> None:
    key = licensed_key(admin, maxActivations=2)
    assert activate(client, key, "m1").status_code == 200
    assert activate(client, key, "m2").status_code == 200
    refused = activate(client, key, "m3")
    assert refused.status_code == 403
    assert refused.json() == {
        "error": refused.json()["error"],
        "code": "TOO_MANY_ACTIVATIONS",
        "maxActivations": 2,
        "currentActivations": 2,
    }
    assert activate(client, key, "m1").status_code == 200  # a machine with a seat keeps it


def test_deactivation_frees_the_seat_and_the_machine_can_come_back(
    admin: TestClient, client: TestClient
) -> None:
    key = licensed_key(admin, maxActivations=1)
    assert activate(client, key, "m1").status_code == 200
    response = deactivate(client, key, "m1")
    assert response.status_code == 200
    assert response.json()["success"] is True
    assert isinstance(response.json()["message"], str)
    assert activate(client, key, "m2").status_code == 200
    assert deactivate(client, key, "m2").status_code == 200
    back = activate(client, key, "m1")
    assert back.status_code == 200
    assert back.json()["message"] == "License activated"
    assert back.json()["license"]["activations"] == 1
    machines = admin.get(f"/api/admin/licenses/{key}").json()["machines"]
    assert len(machines) == 3
    assert [m["machineId"] for m in machines if m["deactivatedAt"] is None] == ["m1"]


def test_pasted_keys_are_trimmed_and_upper_cased(admin: TestClient, client: TestClient) -> None:
    key = licensed_key(admin)
    assert activate(client, f"  {key.lower()}\n", "m1").status_code == 200
    assert validate(client, f" {key.lower()} ", "m1")["code"] == "VALID"
    assert deactivate(client, key.lower(), "m1").status_code == 200


def test_activation_errors(admin: TestClient, client: TestClient, db: Database) -> None:
    licensed_product(admin)
    _, suspended = buy(admin)
    _, revoked = buy(admin)
    _, expired = buy(admin)
    admin.post(f"/api/admin/licenses/{suspended}/suspend")
    admin.post(f"/api/admin/licenses/{revoked}/revoke")
    set_expiry(db, expired, datetime.now(UTC) - timedelta(seconds=1))
    cases = {
        "not a key": (400, "INVALID_KEY_FORMAT"),
        "": (400, "INVALID_KEY_FORMAT"),
        _wrong_checksum(suspended): (400, "INVALID_KEY_FORMAT"),
        keys.generate_key("PIX", SECRET): (404, "LICENSE_NOT_FOUND"),
        suspended: (403, "LICENSE_SUSPENDED"),
        revoked: (403, "LICENSE_REVOKED"),
        expired: (403, "LICENSE_EXPIRED"),
    }
    for key, (status, code) in cases.items():
        response = activate(client, key, "m1")
        assert (response.status_code, response.json()["code"]) == (status, code), key
        assert isinstance(response.json()["error"], str)
    # The expiry noticed by the refused activation is recorded.
    assert load(db, expired).status is LicenseStatus.EXPIRED
    assert load(db, expired).activation_count == 0


def test_deactivation_errors(admin: TestClient, client: TestClient) -> None:
    key = licensed_key(admin)
    activate(client, key, "m1")
    for params in [{}, {"key": key}, {"machineId": "m1"}, {"key": "", "machineId": "m1"}]:
        response = client.delete("/api/licenses/activate", params=params)
        assert response.status_code == 400, params
        assert response.json()["code"] == "MISSING_PARAMETER"
    cases = [
        ("garbage", "m1", 400, "INVALID_KEY_FORMAT"),
        (_wrong_checksum(key), "m1", 400, "INVALID_KEY_FORMAT"),
        (keys.generate_key("PIX", SECRET), "m1", 404, "LICENSE_NOT_FOUND"),
        (key, "m2", 404, "ACTIVATION_NOT_FOUND"),
    ]
    for raw, machine, status, code in cases:
        answer = deactivate(client, raw, machine)
        assert (answer.status_code, answer.json()["code"]) == (status, code)
    assert deactivate(client, key, "m1").status_code == 200
    again = deactivate(client, key, "m1")
    assert (again.status_code, again.json()["code"]) == (404, "ACTIVATION_NOT_FOUND")


# --- validation -----------------------------------------------------------------------------


def test_every_validation_code(admin: TestClient, client: TestClient, db: Database) -> None:
    licensed_product(admin)
    _, good = buy(admin)
    _, suspended = buy(admin)
    _, revoked = buy(admin)
    _, expired = buy(admin)
    activate(client, good, "m1")
    activate(client, suspended, "m1")
    admin.post(f"/api/admin/licenses/{suspended}/suspend")
    admin.post(f"/api/admin/licenses/{revoked}/revoke")
    set_expiry(db, expired, datetime.now(UTC) - timedelta(minutes=5))
    cases: list[tuple[str, str | None, str]] = [
        (good, None, "VALID"),
        (good, "m1", "VALID"),
        (good, "m2", "NOT_ACTIVATED"),
        ("nonsense", None, "INVALID_FORMAT"),
        (_wrong_checksum(good), "m1", "INVALID_FORMAT"),
        (keys.generate_key("PIX", SECRET), None, "NOT_FOUND"),
        (suspended, "m1", "SUSPENDED"),
        (revoked, None, "REVOKED"),
        (expired, "m1", "EXPIRED"),
    ]
    for key, machine, code in cases:
        answer = validate(client, key, machine)
        assert answer["code"] == code, (key, machine)
        assert answer["valid"] is (code == "VALID")
        if code in {"INVALID_FORMAT", "NOT_FOUND"}:
            assert answer["license"] is None
        else:
            assert answer["license"]["productName"] == "Pixel App"
            assert answer["license"]["features"] == ["export", "sync"]
    assert validate(client, suspended)["license"]["status"] == "SUSPENDED"
    assert validate(client, expired)["license"]["status"] == "EXPIRED"
    assert load(db, expired).status is LicenseStatus.EXPIRED
    assert load(db, expired).expired_at is not None


def test_validation_answers_in_the_fast_lane_as_the_framework_would(
    admin: TestClient, client: TestClient, settings: Settings, db: Database, storage: Storage
) -> None:
    """Programs call validate at every start: shipkey answers it in the fast lane
    (shipkey.http.fast_lane). Every answer, good or bad input, is the one the route gives through
    FastAPI."""
    assert ("POST", "/api/licenses/validate") in client.app.fast_routes  # type: ignore[attr-defined]
    key = licensed_key(admin)
    activate(client, key, "m1")
    bodies = [
        f'{{"licenseKey": "{key}", "machineId": "m1"}}',
        f'{{"licenseKey": "{key}", "machineId": "m2"}}',
        f'{{"licenseKey": "{key.lower()}"}}',
        '{"licenseKey": "nonsense"}',
        f'{{"licenseKey": "{keys.generate_key("PIX", SECRET)}"}}',
        '{"licenseKey": 42}',
        '{"licenseKey": "A", "machineId": ""}',
        "{}",
        "[]",
        "",
        "{not json",
        '{"licenseKey": "' + "A" * (1024 * 1024) + '"}',
    ]
    framework = create_app(settings, db=db, storage=storage, fast_lane=False)
    assert framework.fast_routes == []
    with TestClient(framework) as through_fastapi:
        for body in bodies:
            sent = {"content": body, "headers": {"Content-Type": "application/json"}}
            fast = client.post("/api/licenses/validate", **sent)  # type: ignore[arg-type]
            slow = through_fastapi.post("/api/licenses/validate", **sent)  # type: ignore[arg-type]
            assert (fast.status_code, fast.json()) == (slow.status_code, slow.json()), body[:80]
            assert fast.headers["content-type"] == slow.headers["content-type"]
        wrong = client.get("/api/licenses/validate")
        assert (wrong.status_code, wrong.json()["code"]) == (405, "METHOD_NOT_ALLOWED")


def test_validation_updates_last_seen(admin: TestClient, client: TestClient) -> None:
    key = licensed_key(admin)
    activate(client, key, "m1")
    before = admin.get(f"/api/admin/licenses/{key}").json()["machines"][0]["lastSeenAt"]
    assert before is not None
    validate(client, key, "m1")  # seen less than a minute ago: nothing is written
    after = admin.get(f"/api/admin/licenses/{key}").json()["machines"][0]["lastSeenAt"]
    assert after == before


@pytest.mark.parametrize(
    "raw",
    ["", "PIX-AAAAA-AAAAA-AAAAA-AAAAA-0000", "pix-aaaaa-aaaaa-aaaaa-aaaaa-0000", "Ü" * 5000],
)
def test_malformed_keys_are_refused_before_any_query(
    admin: TestClient, client: TestClient, db: Database, raw: str
) -> None:
    licensed_key(admin)
    with count_queries(db.engine) as statements:
        assert validate(client, raw)["code"] == "INVALID_FORMAT"
        assert activate(client, raw, "m1").json()["code"] == "INVALID_KEY_FORMAT"
        assert client.post(
            "/api/licenses/file", json={"licenseKey": raw, "machineId": "m1"}
        ).json()["code"] == ("INVALID_KEY_FORMAT")
        if raw:
            assert deactivate(client, raw, "m1").json()["code"] == "INVALID_KEY_FORMAT"
    assert statements == []


@pytest.mark.parametrize("raw", ["x", "PIX-AAAAA-AAAAA-AAAAA-AAAAA", "85DB562A-C11D4B06"])
def test_keys_of_another_format_are_looked_up_among_imported_keys_only(
    admin: TestClient, client: TestClient, db: Database, raw: str
) -> None:
    """A key not in shipkey's shape may be an imported or pooled one: in a store that holds
    such keys, one indexed read among those (``verbatim``) keys, and still INVALID_FORMAT when
    none matches. (Without any, no read at all: tests/licensing/test_foreign.py.)"""
    licensed_key(admin)
    pooled = admin.post(
        "/api/admin/products/pixel-app/key-pool",
        content=b"SERIAL-0001\n",
        headers={"Content-Type": "text/plain"},
    )
    assert pooled.status_code == 200, pooled.text
    with count_queries(db.engine) as statements:
        assert validate(client, raw)["code"] == "INVALID_FORMAT"
        assert activate(client, raw, "m1").json()["code"] == "INVALID_KEY_FORMAT"
        assert deactivate(client, raw, "m1").json()["code"] == "INVALID_KEY_FORMAT"
    reads = [sql for sql in statements if sql.lstrip().upper().startswith("SELECT")]
    assert len(reads) == 3
    assert all("verbatim" in sql for sql in reads)


def test_a_well_formed_key_is_looked_up(
    admin: TestClient, client: TestClient, db: Database
) -> None:
    key = licensed_key(admin)
    with count_queries(db.engine) as statements:
        validate(client, key)
    assert statements


# --- license files and keys ----------------------------------------------------------------


def test_public_keys(client: TestClient, app: FastAPI) -> None:
    body = client.get("/api/licenses/public-keys").json()
    [entry] = body["keys"]
    assert entry["alg"] == "Ed25519"
    assert entry["kid"] == _store(app).current().kid
    assert len(__import__("base64").b64decode(entry["publicKey"])) == 32


def test_a_fresh_license_file_for_an_active_machine(
    admin: TestClient, client: TestClient, app: FastAPI
) -> None:
    key = licensed_key(admin)
    activate(client, key, "m1")
    response = client.post("/api/licenses/file", json={"licenseKey": key, "machineId": "m1"})
    assert response.status_code == 200
    assert _payload(app, response.json()["licenseFile"])["machineId"] == "m1"
    assert response.json()["license"]["activations"] == 1
    other = client.post("/api/licenses/file", json={"licenseKey": key, "machineId": "m2"})
    assert (other.status_code, other.json()["code"]) == (404, "ACTIVATION_NOT_FOUND")
    admin.post(f"/api/admin/licenses/{key}/suspend")
    refused = client.post("/api/licenses/file", json={"licenseKey": key, "machineId": "m1"})
    assert (refused.status_code, refused.json()["code"]) == (403, "LICENSE_SUSPENDED")


@pytest.mark.parametrize(
    ("metadata", "features"),
    [
        ({"features": ["a", "b"]}, ["a", "b"]),
        ({"features": "a,b"}, []),
        ({"features": {"a": True}}, []),
        ({"features": ["a", 1, None, "b"]}, ["a", "b"]),
        ({}, []),
    ],
)
def test_features_come_from_product_metadata(
    admin: TestClient, client: TestClient, app: FastAPI, metadata: Any, features: list[str]
) -> None:
    key = licensed_key(admin, metadata=metadata)
    body = activate(client, key, "m1").json()
    assert body["license"]["features"] == features
    assert _payload(app, body["licenseFile"])["features"] == features
    assert validate(client, key)["license"]["features"] == features


# --- refunds and the admin API ---------------------------------------------------------------


def test_a_refund_revokes_the_license(admin: TestClient, client: TestClient) -> None:
    licensed_product(admin)
    purchase_id, key = buy(admin)
    activate(client, key, "m1")
    refunded = admin.post(f"/api/admin/purchases/{purchase_id}/refund")
    assert refunded.status_code == 200
    assert refunded.json()["licenses"][0]["status"] == "REVOKED"
    assert validate(client, key, "m1")["code"] == "REVOKED"
    assert activate(client, key, "m2").json()["code"] == "LICENSE_REVOKED"
    reinstated = admin.post(f"/api/admin/licenses/{key}/reinstate")
    assert (reinstated.status_code, reinstated.json()["code"]) == (409, "INVALID_LICENSE_STATE")


def test_suspend_reinstate_revoke(admin: TestClient, client: TestClient) -> None:
    key = licensed_key(admin)
    activate(client, key, "m1")
    suspended = admin.post(f"/api/admin/licenses/{key}/suspend")
    assert suspended.status_code == 200
    assert suspended.json()["status"] == "SUSPENDED"
    assert suspended.json()["suspendedAt"] is not None
    assert admin.post(f"/api/admin/licenses/{key}/suspend").json()["status"] == "SUSPENDED"
    assert activate(client, key, "m2").json()["code"] == "LICENSE_SUSPENDED"
    reinstated = admin.post(f"/api/admin/licenses/{key}/reinstate")
    assert reinstated.json()["status"] == "ACTIVE"
    assert reinstated.json()["suspendedAt"] is None
    assert admin.post(f"/api/admin/licenses/{key}/reinstate").json()["status"] == "ACTIVE"
    assert validate(client, key, "m1")["code"] == "VALID"
    revoked = admin.post(f"/api/admin/licenses/{key.lower()}/revoke")
    assert revoked.json()["status"] == "REVOKED"
    assert revoked.json()["revokedAt"] is not None
    assert admin.post(f"/api/admin/licenses/{key}/revoke").json()["status"] == "REVOKED"
    refused = admin.post(f"/api/admin/licenses/{key}/reinstate")
    assert (refused.status_code, refused.json()["code"]) == (409, "INVALID_LICENSE_STATE")
    assert admin.post(f"/api/admin/licenses/{key}/suspend").status_code == 409


def test_admin_license_detail_and_reset(admin: TestClient, client: TestClient) -> None:
    licensed_product(admin)
    purchase_id, key = buy(admin)
    for machine in ["m1", "m2", "m3"]:
        activate(client, machine=machine, key=key)
    detail = admin.get(f"/api/admin/licenses/{key}").json()
    assert detail["key"] == key
    assert detail["purchaseId"] == purchase_id
    assert detail["product"] == "pixel-app"
    assert detail["activations"] == 3
    assert {m["machineId"] for m in detail["machines"]} == {"m1", "m2", "m3"}
    assert admin.get(f"/api/admin/licenses/{detail['id']}").json()["key"] == key
    reset = admin.post(f"/api/admin/licenses/{key}/reset-activations").json()
    assert reset["activations"] == 0
    assert all(m["deactivatedAt"] is not None for m in reset["machines"])
    assert validate(client, key, "m1")["code"] == "NOT_ACTIVATED"
    assert activate(client, key, "m4").json()["license"]["activations"] == 1


def test_admin_license_api_needs_a_token_and_a_license(
    admin: TestClient, client: TestClient
) -> None:
    key = licensed_key(admin)
    assert client.get(f"/api/admin/licenses/{key}").status_code == 401
    assert client.post(f"/api/admin/licenses/{key}/revoke").status_code == 401
    for ref in [keys.generate_key("PIX", SECRET), "lic_unknown", "x" * 300]:
        response = admin.post(f"/api/admin/licenses/{ref}/suspend")
        assert (response.status_code, response.json()["code"]) == (404, "LICENSE_NOT_FOUND")


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/api/licenses/activate", b"{not json", 400, "INVALID_JSON"),
        ("/api/licenses/validate", b"[1, 2", 400, "INVALID_JSON"),
        ("/api/licenses/activate", b"{}", 422, "VALIDATION_ERROR"),
        ("/api/licenses/activate", b'{"licenseKey": "X"}', 422, "VALIDATION_ERROR"),
        ("/api/licenses/activate", b'{"licenseKey": 5, "machineId": "m"}', 422, "VALIDATION_ERROR"),
        (
            "/api/licenses/activate",
            b'{"licenseKey": "X", "machineId": ""}',
            422,
            "VALIDATION_ERROR",
        ),
        ("/api/licenses/validate", b'{"machineId": "m"}', 422, "VALIDATION_ERROR"),
        ("/api/licenses/validate", b'{"licenseKey": null}', 422, "VALIDATION_ERROR"),
        ("/api/licenses/validate", b'"just a string"', 422, "VALIDATION_ERROR"),
        ("/api/licenses/validate", b'{"licenseKey": "X", "extra": 1}', 422, "VALIDATION_ERROR"),
        ("/api/licenses/validate", b'{"licenseKey": 5}', 422, "VALIDATION_ERROR"),
        (
            "/api/licenses/validate",
            b'{"licenseKey": "X", "machineId": ""}',
            422,
            "VALIDATION_ERROR",
        ),
        ("/api/licenses/validate", b"", 422, "VALIDATION_ERROR"),
        ("/api/licenses/file", b'{"licenseKey": "X"}', 422, "VALIDATION_ERROR"),
        ("/api/licenses/file", b"", 422, "VALIDATION_ERROR"),
    ],
)
def test_bad_input_gets_a_4xx_with_a_code(
    client: TestClient, path: str, body: bytes, status: int, code: str
) -> None:
    response = client.post(path, content=body, headers={"Content-Type": "application/json"})
    assert (response.status_code, response.json()["code"]) == (status, code), response.text


def test_validation_names_the_field_in_error_and_documents_its_body(
    client: TestClient, app: FastAPI
) -> None:
    answer = client.post("/api/licenses/validate", json={"licenseKey": "X", "machineId": ""})
    assert answer.json()["details"][0]["field"] == "machineId"
    assert client.post("/api/licenses/validate", json={}).json()["details"][0]["field"] == (
        "licenseKey"
    )
    operation = app.openapi()["paths"]["/api/licenses/validate"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["licenseKey"]
    assert set(schema["properties"]) == {"licenseKey", "machineId", "product"}
    assert {"200", "400", "422"} <= set(operation["responses"])


def test_machine_ids_and_names_have_a_length_limit(admin: TestClient, client: TestClient) -> None:
    key = licensed_key(admin)
    too_long = activate(client, key, "m" * 256)
    assert (too_long.status_code, too_long.json()["code"]) == (422, "VALIDATION_ERROR")
    named = activate(client, key, "m1", machineName="n" * 256)
    assert named.status_code == 422
    assert activate(client, key, "m" * 255, machineName="n" * 255).status_code == 200


def test_huge_bodies_are_refused(client: TestClient) -> None:
    body = b'{"licenseKey": "' + b"A" * (2 * 1024 * 1024) + b'", "machineId": "m"}'
    for path in ["/api/licenses/activate", "/api/licenses/validate"]:
        response = client.post(path, content=body, headers={"Content-Type": "application/json"})
        assert (response.status_code, response.json()["code"]) == (413, "PAYLOAD_TOO_LARGE")
