"""Malformed keys in a store without keys made elsewhere are refused before any lookup; an
imported or pooled key validates at once in the process that stored it, and within seconds in
another one (which polls)."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.imports.formats import ImportFormat
from shipkey.imports.service import run_import
from shipkey.licensing import foreign
from tests.licensing.helpers import (
    activate,
    count_queries,
    deactivate,
    licensed_key,
    validate,
)

FOREIGN_KEY = "85DB562A-C11D4B06-A2335A6B-8C079166"
CSV = f"email,orderId,licenseKey\nada@example.com,ord-1,{FOREIGN_KEY}\n"


def _refused_without_a_query(client: TestClient, db: Database, raw: str) -> None:
    with count_queries(db.engine) as statements:
        assert validate(client, raw)["code"] == "INVALID_FORMAT"
        assert activate(client, raw, "m1").json()["code"] == "INVALID_KEY_FORMAT"
        assert deactivate(client, raw, "m1").json()["code"] == "INVALID_KEY_FORMAT"
        answer = client.post("/api/licenses/file", json={"licenseKey": raw, "machineId": "m1"})
        assert answer.json()["code"] == "INVALID_KEY_FORMAT"
    assert statements == []


def test_without_foreign_keys_a_malformed_key_makes_no_query(
    admin: TestClient, client: TestClient, db: Database
) -> None:
    key = licensed_key(admin)
    assert foreign.foreign_keys(db).present is False
    for raw in ("x", FOREIGN_KEY, "PIX-AAAAA-AAAAA-AAAAA-AAAAA"):
        _refused_without_a_query(client, db, raw)
    assert validate(client, key)["code"] == "VALID"  # shipkey's own keys as before


def test_an_imported_key_validates_at_once_in_the_importing_process(
    admin: TestClient, client: TestClient, db: Database
) -> None:
    licensed_key(admin)
    assert validate(client, FOREIGN_KEY)["code"] == "INVALID_FORMAT"
    answer = admin.post(
        "/api/admin/imports",
        files={"file": ("sales.csv", CSV.encode(), "text/csv")},
        data={"format": "generic", "product": "pixel-app"},
    )
    assert answer.json()["created"] == 1, answer.text
    assert foreign.foreign_keys(db).present is True
    assert validate(client, FOREIGN_KEY)["code"] == "VALID"
    assert activate(client, FOREIGN_KEY, "m1").status_code == 200


def test_a_dry_run_stores_no_key_and_leaves_the_flag(
    admin: TestClient, client: TestClient, db: Database, settings: Settings
) -> None:
    licensed_key(admin)
    result = run_import(
        db,
        settings,
        CSV.splitlines(keepends=True),
        ImportFormat.GENERIC,
        product="pixel-app",
        dry_run=True,
    )
    assert result.created == 1
    assert foreign.foreign_keys(db).present is False
    _refused_without_a_query(client, db, FOREIGN_KEY)


def test_a_key_imported_by_another_process_validates_within_seconds(
    admin: TestClient, client: TestClient, db: Database, settings: Settings
) -> None:
    licensed_key(admin)
    assert validate(client, FOREIGN_KEY)["code"] == "INVALID_FORMAT"
    # Another process: its own Database (its own connection pool, its own flag).
    other = Database(settings.resolved_database_url)
    try:
        result = run_import(
            other,
            settings,
            CSV.splitlines(keepends=True),
            ImportFormat.GENERIC,
            product="pixel-app",
        )
        assert result.created == 1
    finally:
        other.dispose()
    deadline = time.monotonic() + 10 * foreign.POLL_SECONDS
    while validate(client, FOREIGN_KEY)["code"] != "VALID":
        assert time.monotonic() < deadline, "the server never noticed the imported key"
        time.sleep(0.1)


def test_a_pooled_key_makes_the_lookups(
    admin: TestClient, client: TestClient, db: Database
) -> None:
    licensed_key(admin)
    answer = admin.post(
        "/api/admin/products/pixel-app/key-pool",
        content=b"SERIAL-0001\n",
        headers={"Content-Type": "text/plain"},
    )
    assert answer.status_code == 200, answer.text
    assert foreign.foreign_keys(db).present is True
    with count_queries(db.engine) as statements:
        assert validate(client, "SERIAL-0001")["code"] == "INVALID_FORMAT"  # not sold yet
    assert len(statements) == 1


def test_the_import_sources_are_those_of_the_import_formats() -> None:
    assert set(foreign.IMPORT_SOURCES) == {f"import:{fmt.value}" for fmt in ImportFormat}
