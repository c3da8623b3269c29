"""License rules below the HTTP layer: keys, expiry, sightings, state changes."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from shipkey.catalog.models import LicenseType, Product
from shipkey.db.engine import Database
from shipkey.errors import ShipkeyError
from shipkey.licensing import keys, service
from shipkey.licensing.models import License, LicenseActivation, LicenseStatus
from shipkey.licensing.signing_keys import SigningKeyStore
from shipkey.orders.models import Customer
from tests.conftest import SECRET
from tests.licensing.helpers import activate, buy, count_queries, licensed_product, load

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


def _writes(statements: list[str]) -> list[str]:
    return [s for s in statements if s.lstrip().upper().startswith(("UPDATE", "INSERT"))]


def test_parse_key_normalises_and_checks() -> None:
    key = keys.generate_key("ABC", SECRET)
    assert service.parse_key(f"  {key.lower()} ", SECRET) == key
    assert service.parse_key(key, "another secret") is None
    assert service.parse_key("ABC", SECRET) is None
    with pytest.raises(ShipkeyError) as refused:
        service.require_key("nope", SECRET)
    assert refused.value.code == "INVALID_KEY_FORMAT"


@pytest.mark.parametrize(
    ("license_type", "days", "expected"),
    [
        (LicenseType.PERPETUAL, 30, None),
        (LicenseType.SUBSCRIPTION, None, NOW + timedelta(days=365)),
        (LicenseType.SUBSCRIPTION, 31, NOW + timedelta(days=31)),
        (LicenseType.TRIAL, None, NOW + timedelta(days=14)),
        (LicenseType.TRIAL, 7, NOW + timedelta(days=7)),
    ],
)
def test_expiry_for(license_type: LicenseType, days: int | None, expected: datetime | None) -> None:
    assert service.expiry_for(license_type, days, NOW) == expected


def test_a_colliding_key_is_drawn_again(
    admin: TestClient, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    licensed_product(admin)
    _, taken = buy(admin)
    fresh = keys.generate_key("PIX", SECRET)
    drawn = itertools.chain([taken, taken], itertools.repeat(fresh))
    monkeypatch.setattr(keys, "generate_key", lambda _prefix, _secret: next(drawn))
    _, key = buy(admin)
    assert key == fresh


def test_a_manual_license_belongs_to_a_buyer_and_no_purchase(
    admin: TestClient, db: Database
) -> None:
    licensed_product(admin, licenseType="TRIAL", licenseDays=10)
    with db.session() as session:
        lic = service.issue_manual(
            session, "pixel-app", "Reviewer@Example.com", SECRET, name="Rae", max_activations=9
        )
        key, customer_id = lic.key, lic.customer_id
    stored = load(db, key)
    assert stored.purchase_id is None
    assert stored.max_activations == 9
    assert stored.license_type is LicenseType.TRIAL
    assert stored.expires_at is not None
    assert abs(stored.expires_at - datetime.now(UTC) - timedelta(days=10)) < timedelta(minutes=1)
    with db.read_session() as session:
        customer = session.get(Customer, customer_id)
        assert customer is not None
        assert (customer.email, customer.name) == ("reviewer@example.com", "Rae")


def test_no_manual_license_for_a_product_without_one(admin: TestClient, db: Database) -> None:
    licensed_product(admin, type="DOWNLOAD", licenseType=None, slug="book")
    with db.session() as session, pytest.raises(ShipkeyError) as refused:
        service.issue_manual(session, "book", "a@example.com", SECRET)
    assert refused.value.code == "NO_LICENSE"


def _validate(*args: Any, **kwargs: Any) -> service.Validation:
    return asyncio.run(service.validate(*args, **kwargs))


def _check(*args: Any, **kwargs: Any) -> tuple[service.Validation, service.Sightings]:
    return asyncio.run(service.check(*args, **kwargs))


def test_validation_reads_without_locks_and_writes_last_seen_once_a_minute(
    admin: TestClient, client: TestClient, db: Database
) -> None:
    licensed_product(admin)
    _, key = buy(admin)
    activate(client, key, "m1")
    start = datetime.now(UTC)
    with count_queries(db.engine) as statements:
        assert _validate(db, SECRET, key, "m1", now=start).valid
    assert not any("FOR UPDATE" in s.upper() for s in statements)
    assert _writes(statements) == []  # seen at activation, less than a minute ago

    later = start + timedelta(minutes=2)
    with count_queries(db.engine) as statements:
        assert _validate(db, SECRET, key, "m1", now=later).valid
    assert len(_writes(statements)) == 1
    with count_queries(db.engine) as statements:
        _validate(db, SECRET, key, "m1", now=later + timedelta(seconds=30))
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
        result, sightings = _check(db, SECRET, key, "m1", now=later)
    assert result.code == "VALID"
    assert result.license is not None
    assert result.license.features == ["export", "sync"]
    assert sightings.seen_activation_id is not None
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(reads) == 1
    assert _writes(statements) == []
    assert not any(s.lstrip().upper().startswith("BEGIN") for s in statements)

    assert _check(db, SECRET, key, "other machine", now=later)[0].code == "NOT_ACTIVATED"
    unknown = keys.generate_key("ABC", SECRET)
    assert _check(db, SECRET, unknown, now=later) == (
        service.Validation("NOT_FOUND", None, later),
        service.Sightings(),
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
    assert _validate(db, SECRET, key, now=past).code == "EXPIRED"
    assert load(db, key).status is LicenseStatus.EXPIRED
    assert load(db, key).expired_at == past
    with count_queries(db.engine) as statements:
        assert _validate(db, SECRET, key, now=past).code == "EXPIRED"
    assert _writes(statements) == []


def test_file_expiry_is_thirty_days_or_the_license_end() -> None:
    lic = License(expires_at=None)
    assert service.file_expiry(lic, NOW) == NOW + timedelta(days=30)
    lic.expires_at = NOW + timedelta(days=400)
    assert service.file_expiry(lic, NOW) == NOW + timedelta(days=30)
    lic.expires_at = NOW + timedelta(days=3)
    assert service.file_expiry(lic, NOW) == NOW + timedelta(days=3)


def test_reinstating_after_the_end_gives_an_expired_license(
    admin: TestClient, db: Database
) -> None:
    licensed_product(admin, licenseType="SUBSCRIPTION", licenseDays=1)
    _, key = buy(admin)
    later = datetime.now(UTC) + timedelta(days=3)
    with db.session() as session:
        lic = service.lookup(session, key)
        service.suspend(session, lic)
        assert service.reinstate(session, lic, now=later).status is LicenseStatus.EXPIRED
    with db.session() as session, pytest.raises(ShipkeyError) as refused:
        service.reinstate(session, service.lookup(session, key))
    assert refused.value.code == "INVALID_LICENSE_STATE"


def test_an_expired_license_can_be_suspended_and_revoked(admin: TestClient, db: Database) -> None:
    licensed_product(admin, licenseType="TRIAL", licenseDays=1)
    _, key = buy(admin)
    _validate(db, SECRET, key, now=datetime.now(UTC) + timedelta(days=2))
    with db.session() as session:
        lic = service.lookup(session, key)
        assert service.suspend(session, lic).status is LicenseStatus.SUSPENDED
        assert service.revoke(session, lic).status is LicenseStatus.REVOKED


def test_activation_at_a_given_time_and_machine_names(
    admin: TestClient, db: Database, tmp_path: Path
) -> None:
    licensed_product(admin, licenseType="SUBSCRIPTION", licenseDays=30, maxActivations=1)
    _, key = buy(admin)
    store = SigningKeyStore(tmp_path / "keys")
    first = service.activate(db, store, SECRET, key, "m1", machine_name="a" * 300, ip="10.0.0.1")
    assert not first.already
    assert first.activation.machine_name == "a" * 255
    assert first.activation.ip == "10.0.0.1"
    again = service.activate(db, store, SECRET, key, "m1", ip="10.0.0.2")
    assert again.already
    assert again.activation.id == first.activation.id
    assert again.activation.ip == "10.0.0.2"
    assert again.activation.machine_name == "a" * 255  # kept when not given
    late = datetime.now(UTC) + timedelta(days=31)
    with pytest.raises(ShipkeyError) as refused:
        service.activate(db, store, SECRET, key, "m1", now=late)
    assert refused.value.code == "LICENSE_EXPIRED"
    assert load(db, key).status is LicenseStatus.EXPIRED


def test_seat_counter_matches_active_rows_after_deactivations(
    admin: TestClient, client: TestClient, db: Database
) -> None:
    licensed_product(admin, maxActivations=2)
    _, key = buy(admin)
    for machine in ["a", "b"]:
        activate(client, key, machine)
    with db.session() as session:
        service.deactivate(session, SECRET, key, "a")
    with db.session() as session:
        assert service.reset_activations(session, service.lookup(session, key)) == 1
    with db.read_session() as session:
        active = session.scalars(
            select(LicenseActivation).where(LicenseActivation.deactivated_at.is_(None))
        ).all()
        product = session.scalars(select(Product)).one()
    assert active == []
    assert load(db, key).activation_count == 0
    assert product.max_activations == 2


def test_a_second_active_row_for_a_machine_is_never_inserted(
    admin: TestClient, client: TestClient, db: Database
) -> None:
    """The partial unique index with ON CONFLICT DO NOTHING, on both databases."""
    licensed_product(admin)
    _, key = buy(admin)
    activate(client, key, "m1")
    lic = load(db, key)
    seat = service.SeatRequest("m1", None, None, datetime.now(UTC))
    with db.session() as session:
        assert seat.insert_activation(session, lic.id) is None
    with db.session() as session:
        service.deactivate(session, SECRET, key, "m1")
    with db.session() as session:
        inserted = seat.insert_activation(session, lic.id)
        assert inserted is not None
        assert inserted.machine_id == "m1"
