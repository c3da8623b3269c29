"""Validation: one read without locks, and the sparse writes of what it noticed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from shipkey.db.engine import Database
from shipkey.licensing import keys
from shipkey.licensing.models import LicenseActivation, LicenseStatus
from shipkey.licensing.validation import Sightings, Validation, check, validate
from tests.licensing.helpers import (
    CHECKSUM_SECRET,
    activate,
    buy,
    count_queries,
    licensed_product,
    load,
)


def _writes(statements: list[str]) -> list[str]:
    return [s for s in statements if s.lstrip().upper().startswith(("UPDATE", "INSERT"))]


def _validate(*args: Any, **kwargs: Any) -> Validation:
    return asyncio.run(validate(*args, **kwargs))


def _check(*args: Any, **kwargs: Any) -> tuple[Validation, Sightings]:
    return asyncio.run(check(*args, **kwargs))


def test_validation_reads_without_locks_and_writes_last_seen_once_a_minute(
    admin: TestClient, client: TestClient, db: Database
) -> None:
    licensed_product(admin)
    _, key = buy(admin)
    activate(client, key, "m1")
    start = datetime.now(UTC)
    with count_queries(db.engine) as statements:
        assert _validate(db, CHECKSUM_SECRET, key, "m1", now=start).valid
    assert not any("FOR UPDATE" in s.upper() for s in statements)
    assert _writes(statements) == []  # seen at activation, less than a minute ago

    later = start + timedelta(minutes=2)
    with count_queries(db.engine) as statements:
        assert _validate(db, CHECKSUM_SECRET, key, "m1", now=later).valid
    assert len(_writes(statements)) == 1
    with count_queries(db.engine) as statements:
        _validate(db, CHECKSUM_SECRET, key, "m1", now=later + timedelta(seconds=30))
    assert _writes(statements) == []
    with db.read_session() as session:
        activation = session.scalars(select(LicenseActivation)).one()
        assert activation.last_seen_at == later


def test_check_is_one_read_and_leaves_the_writes_to_the_caller(
    admin: TestClient, client: TestClient, db: Database
) -> None:
    licensed_product(admin)
    _, key = buy(admin)
    activate(client, key, "m1")
    later = datetime.now(UTC) + timedelta(minutes=2)
    with count_queries(db.engine) as statements:
        result, sightings = _check(db, CHECKSUM_SECRET, key, "m1", now=later)
    assert result.code == "VALID"
    assert result.license is not None
    assert result.license.features == ["export", "sync"]
    assert sightings.seen_activation_id is not None
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(reads) == 1
    assert _writes(statements) == []
    assert not any(s.lstrip().upper().startswith("BEGIN") for s in statements)

    assert _check(db, CHECKSUM_SECRET, key, "other machine", now=later)[0].code == "NOT_ACTIVATED"
    unknown = keys.generate_key("ABC", CHECKSUM_SECRET)
    assert _check(db, CHECKSUM_SECRET, unknown, now=later) == (
        Validation("NOT_FOUND", None, later),
        Sightings(),
    )
    with db.read_session() as session:
        activation = session.scalars(select(LicenseActivation)).one()
        assert activation.last_seen_at is not None
        assert activation.last_seen_at < later


def test_validate_route_records_the_sighting_check_noticed(
    admin: TestClient, client: TestClient, db: Database
) -> None:
    licensed_product(admin)
    _, key = buy(admin)
    activate(client, key, "m1")
    with db.session() as session:
        activation = session.scalars(select(LicenseActivation)).one()
        activation.last_seen_at = datetime.now(UTC) - timedelta(hours=1)
    answer = client.post("/api/licenses/validate", json={"licenseKey": key, "machineId": "m1"})
    assert answer.status_code == 200
    assert answer.json()["code"] == "VALID"
    with db.read_session() as session:
        seen = session.scalars(select(LicenseActivation)).one().last_seen_at
    assert seen is not None
    assert seen > datetime.now(UTC) - timedelta(minutes=1)


def test_validation_records_an_expiry_once(admin: TestClient, db: Database) -> None:
    licensed_product(admin, licenseType="TRIAL", licenseDays=1)
    _, key = buy(admin)
    past = datetime.now(UTC) + timedelta(days=2)
    assert _validate(db, CHECKSUM_SECRET, key, now=past).code == "EXPIRED"
    assert load(db, key).status is LicenseStatus.EXPIRED
    assert load(db, key).expired_at == past
    with count_queries(db.engine) as statements:
        assert _validate(db, CHECKSUM_SECRET, key, now=past).code == "EXPIRED"
    assert _writes(statements) == []
