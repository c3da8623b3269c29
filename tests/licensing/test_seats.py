"""Seats: activation at a given time, deactivation, reset, one active row per machine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from shipkey.catalog.models import Product
from shipkey.db.engine import Database
from shipkey.errors import ShipkeyError
from shipkey.licensing import seats
from shipkey.licensing.lookups import lookup
from shipkey.licensing.models import LicenseActivation, LicenseStatus
from shipkey.licensing.signing_keys import SigningKeyStore
from tests.licensing.helpers import CHECKSUM_SECRET, activate, buy, licensed_product, load


def test_activation_at_a_given_time_and_machine_names(
    admin: TestClient, db: Database, tmp_path: Path
) -> None:
    licensed_product(admin, licenseType="SUBSCRIPTION", licenseDays=30, maxActivations=1)
    _, key = buy(admin)
    store = SigningKeyStore(tmp_path / "keys")
    first = seats.activate(
        db, store, CHECKSUM_SECRET, key, "m1", machine_name="a" * 300, ip="10.0.0.1"
    )
    assert not first.already
    assert first.activation.machine_name == "a" * 255
    assert first.activation.ip == "10.0.0.1"
    again = seats.activate(db, store, CHECKSUM_SECRET, key, "m1", ip="10.0.0.2")
    assert again.already
    assert again.activation.id == first.activation.id
    assert again.activation.ip == "10.0.0.2"
    assert again.activation.machine_name == "a" * 255  # kept when not given
    late = datetime.now(UTC) + timedelta(days=31)
    with pytest.raises(ShipkeyError) as refused:
        seats.activate(db, store, CHECKSUM_SECRET, key, "m1", now=late)
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
        seats.deactivate(session, CHECKSUM_SECRET, key, "a")
    with db.session() as session:
        assert seats.reset_activations(session, lookup(session, key)) == 1
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
    seat = seats.SeatRequest("m1", None, None, datetime.now(UTC))
    with db.session() as session:
        assert seat.insert_activation(session, lic.id) is None
    with db.session() as session:
        seats.deactivate(session, CHECKSUM_SECRET, key, "m1")
    with db.session() as session:
        inserted = seat.insert_activation(session, lic.id)
        assert inserted is not None
        assert inserted.machine_id == "m1"
