"""Importing another platform's export: counts, refusals by line, idempotence, dry runs,
verbatim keys that activate and validate by exact match, and no e-mail unless asked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from shipkey.cli import app as cli
from shipkey.db.engine import Database
from shipkey.imports import service
from shipkey.mail.models import MailMessage
from shipkey.orders.models import Purchase
from tests.factories import create_product

FIXTURES = Path(__file__).parent / "fixtures"


def _import(admin: TestClient, name: str, fmt: str, **form: str) -> dict[str, Any]:
    content = (FIXTURES / name).read_bytes()
    answer = admin.post(
        "/api/admin/imports",
        files={"file": (name, content, "text/csv")},
        data={"format": fmt, **form},
    )
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def _app(admin: TestClient, slug: str = "app") -> dict[str, Any]:
    return create_product(
        admin, name="App", slug=slug, type="LICENSE", licenseType="PERPETUAL", maxActivations=3
    )


def _count(db: Database, model: Any) -> int:
    with db.read_session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _validate(client: TestClient, key: str, **more: str) -> dict[str, Any]:
    answer = client.post("/api/licenses/validate", json={"licenseKey": key, **more})
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def test_generic_import_refuses_bad_rows_by_line_and_runs_once(
    admin: TestClient, db: Database
) -> None:
    _app(admin)
    dry = _import(admin, "generic.csv", "generic", dryRun="true")
    assert _count(db, Purchase) == 0
    first = _import(admin, "generic.csv", "generic")
    assert dry == first
    assert first["created"] == 3
    assert first["skipped"] == 0
    refused = {item["line"]: item["reason"] for item in first["refused"]}
    assert sorted(refused) == [4, 5, 6, 7]
    assert "e-mail" in refused[4]
    assert "REFUNDED" in refused[5]
    assert "nothing-like-it" in refused[6]
    assert "ISO 8601" in refused[7]
    again = _import(admin, "generic.csv", "generic")
    assert again["created"] == 0
    assert again["skipped"] == 3
    assert _count(db, Purchase) == 3
    assert _count(db, MailMessage) == 0  # no e-mail without --notify

    bought = admin.get("/api/admin/purchases", params={"email": "ada@example.com"}).json()
    assert [p["status"] for p in bought["items"]] == ["COMPLETED", "COMPLETED"]
    assert bought["items"][1]["createdAt"].startswith("2024-03-01T10:00:00")
    assert bought["items"][1]["licenses"][0]["key"] == "LEGACY-0001-ABCD"
    assert bought["items"][1]["licenses"][0]["maxActivations"] == 2
    assert bought["items"][1]["downloads"] == []
    licenses = admin.get("/api/admin/licenses", params={"email": "bob@example.com"}).json()
    assert licenses["items"][0]["key"] == "legacy-0002-efgh"  # kept verbatim, case and all
    assert licenses["items"][0]["expiresAt"].startswith("2030-01-01")


def test_an_imported_key_activates_and_validates_by_exact_match(
    admin: TestClient, client: TestClient
) -> None:
    _app(admin)
    _import(admin, "generic.csv", "generic")
    assert _validate(client, "  LEGACY-0001-ABCD ")["code"] == "VALID"
    assert _validate(client, "legacy-0002-efgh")["code"] == "VALID"
    assert _validate(client, "LEGACY-0002-EFGH")["code"] == "INVALID_FORMAT"
    assert _validate(client, "LEGACY-0001-ABCD", product="other")["code"] == "PRODUCT_MISMATCH"
    activated = client.post(
        "/api/licenses/activate", json={"licenseKey": "legacy-0002-efgh", "machineId": "m1"}
    )
    assert activated.status_code == 200, activated.text
    assert activated.json()["license"]["activations"] == 1
    assert _validate(client, "legacy-0002-efgh", machineId="m1")["code"] == "VALID"
    wrong = client.post(
        "/api/licenses/activate", json={"licenseKey": "LEGACY-9999-ZZZZ", "machineId": "m1"}
    )
    assert wrong.status_code == 400
    assert wrong.json()["code"] == "INVALID_KEY_FORMAT"
    freed = client.delete(
        "/api/licenses/activate", params={"key": "legacy-0002-efgh", "machineId": "m1"}
    )
    assert freed.status_code == 200, freed.text
    seller = admin.get("/api/admin/licenses/legacy-0002-efgh")
    assert seller.status_code == 200


def test_gumroad_lemon_squeezy_and_keygen_exports(admin: TestClient, client: TestClient) -> None:
    _app(admin)
    # Gumroad's sales CSV with all its columns, ending with its Totals row (no sale).
    gumroad = _import(admin, "gumroad.csv", "gumroad", product="app")
    assert gumroad["created"] == 2
    assert [item["line"] for item in gumroad["refused"]] == [3]  # fully refunded
    sale = admin.get("/api/admin/purchases", params={"email": "ada@example.com"}).json()
    assert sale["items"][0]["amount"] == 2900
    assert sale["items"][0]["currency"] == "USD"
    assert sale["items"][0]["source"] == "import:gumroad"
    assert sale["items"][0]["createdAt"].startswith("2024-01-15T09:30:00")
    assert _validate(client, "85DB562A-C11D4B06-A2335A6B-8C079166")["code"] == "VALID"
    # Partly refunded, charged in the buyer's currency, its license key disabled at Gumroad.
    partly = admin.get("/api/admin/purchases", params={"email": "carol@example.com"}).json()
    assert (partly["items"][0]["amount"], partly["items"][0]["currency"]) == (2700, "EUR")
    assert _validate(client, "C0FFEE12-3456789A-BCDEF012-34567890")["code"] == "SUSPENDED"

    lemon = _import(admin, "lemonsqueezy.csv", "lemonsqueezy", product="app")
    assert (lemon["created"], lemon["refused"]) == (2, [])
    assert _validate(client, "38b1460a-5104-4067-a91d-77b872934d51")["code"] == "VALID"
    assert _validate(client, "6b5e0f3e-1c7b-4a3a-9d42-1e2f3a4b5c6d")["code"] == "SUSPENDED"
    orders = _import(admin, "lemonsqueezy-orders.csv", "lemonsqueezy", product="app")
    assert orders["created"] == 1
    assert [item["line"] for item in orders["refused"]] == [3, 4]  # refunded, pending
    paid = admin.get("/api/admin/purchases", params={"email": "dora@example.com"}).json()
    assert (paid["items"][0]["amount"], paid["items"][0]["currency"]) == (1900, "EUR")

    keygen = _import(admin, "keygen.csv", "keygen", product="app")
    assert (keygen["created"], keygen["refused"]) == (2, [])
    answer = _validate(client, "A1B2C3-D4E5F6-A7B8C9-D0E1F2-A3B4C5-V3")
    assert answer["code"] == "VALID"
    assert answer["license"]["maxActivations"] == 3
    assert _validate(client, "key/bWFsbG9yeQ==.sig")["code"] == "REVOKED"
    for name, fmt in (("gumroad.csv", "gumroad"), ("keygen.csv", "keygen")):
        assert _import(admin, name, fmt, product="app")["created"] == 0


def test_lemon_squeezy_orders_first_then_their_license_keys(
    admin: TestClient, client: TestClient, db: Database
) -> None:
    """The orders file, then the license-keys file naming the same order: the key goes to the
    sale the orders file made (one purchase, its license), and a second run creates nothing."""
    _app(admin)
    orders = _import(admin, "lemonsqueezy-orders.csv", "lemonsqueezy", product="app")
    assert orders["created"] == 1  # order 2001, Dora's
    header = (FIXTURES / "lemonsqueezy.csv").read_text().splitlines()[0]
    key = "0d7f2a9c-5e1b-4c3d-8a6f-3b2c1d0e9f8a"
    keys_file = (
        f"{header}\n3,1,2021,2001,5003,7,Dora,dora@example.com,{key},XXXX-3b2c1d0e9f8a,2,0,0,"
        "active,Active,,2023-10-01T09:00:00.000000Z,2023-10-01T09:00:00.000000Z\n"
    )
    for created, skipped in ((1, 0), (0, 1)):
        answer = admin.post(
            "/api/admin/imports",
            files={"file": ("keys.csv", keys_file.encode(), "text/csv")},
            data={"format": "lemonsqueezy", "product": "app"},
        )
        assert answer.status_code == 200, answer.text
        result = answer.json()
        assert (result["created"], result["skipped"], result["refused"]) == (created, skipped, [])
    assert _count(db, Purchase) == 1
    purchase = admin.get("/api/admin/purchases", params={"email": "dora@example.com"}).json()
    [sale] = purchase["items"]
    assert [
        lic["key"] for lic in admin.get(f"/api/admin/purchases/{sale['id']}").json()["licenses"]
    ] == [key]
    validated = _validate(client, key)
    assert validated["code"] == "VALID"
    assert validated["license"]["maxActivations"] == 2


def test_the_same_file_imported_twice_at_once_creates_each_sale_once(
    admin: TestClient, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second import read its orders as not imported yet, and the first committed them
    meanwhile: its INSERT meets them, the batch is read again and skips them (no 500)."""
    _app(admin)
    first = _import(admin, "generic.csv", "generic")
    real_known = service._Importer._known_orders
    missed: list[bool] = []

    def not_seen_yet(self: service._Importer, session: Session, orders: set[str]) -> set[str]:
        if not missed:
            missed.append(True)
            return set()
        return real_known(self, session, orders)

    monkeypatch.setattr(service._Importer, "_known_orders", not_seen_yet)
    again = _import(admin, "generic.csv", "generic")
    assert missed == [True]
    assert (again["created"], again["skipped"]) == (0, first["created"])
    assert again["refused"] == first["refused"]
    assert _count(db, Purchase) == first["created"]


def test_a_file_without_an_email_column_or_with_a_bad_format(admin: TestClient) -> None:
    answer = admin.post(
        "/api/admin/imports",
        files={"file": ("x.csv", b"who,what\n1,2\n", "text/csv")},
        data={"format": "generic"},
    )
    assert answer.status_code == 200
    assert answer.json()["refused"][0]["line"] == 1
    bad = admin.post(
        "/api/admin/imports",
        files={"file": ("x.csv", b"email\n", "text/csv")},
        data={"format": "shopify"},
    )
    assert bad.status_code == 422


def test_command_line_import_with_notify(
    env: dict[str, str], admin: TestClient, db: Database
) -> None:
    _app(admin)
    runner = CliRunner()
    dry = runner.invoke(
        cli, ["import", str(FIXTURES / "generic.csv"), "--format", "generic", "--dry-run"]
    )
    assert dry.exit_code == 0, dry.output
    assert "3 would be created" in dry.output
    assert _count(db, Purchase) == 0
    done = runner.invoke(
        cli, ["import", str(FIXTURES / "generic.csv"), "--format", "generic", "--notify"]
    )
    assert done.exit_code == 0, done.output
    assert "3 created, 0 skipped (imported before), 4 refused" in done.output
    assert "line 4:" in done.output
    assert _count(db, MailMessage) == 3


def test_keys_in_shipkey_format_must_carry_a_checksum_of_a_configured_secret(
    admin: TestClient, client: TestClient
) -> None:
    _app(admin)
    rows = ["email,orderId,licenseKey", "a@example.com,o-1,APP-AAAAA-AAAAA-AAAAA-AAAAA-0000"]
    answer = admin.post(
        "/api/admin/imports",
        files={"file": ("x.csv", "\n".join(rows).encode(), "text/csv")},
        data={"format": "generic", "product": "app"},
    ).json()
    assert answer["created"] == 0
    assert answer["refused"][0]["line"] == 2
    assert "checksum" in answer["refused"][0]["reason"]
    assert _validate(client, "APP-AAAAA-AAAAA-AAAAA-AAAAA-0000")["code"] == "INVALID_FORMAT"


@pytest.mark.parametrize("value", ["0", "1", "yes", "True"])
def test_dry_run_is_true_or_false_as_documented(admin: TestClient, value: str) -> None:
    answer = admin.post(
        "/api/admin/imports",
        files={"file": ("generic.csv", (FIXTURES / "generic.csv").read_bytes(), "text/csv")},
        data={"format": "generic", "dryRun": value},
    )
    assert answer.status_code == 422
    assert answer.json()["code"] == "VALIDATION_ERROR"
