"""Issuing licenses: expiry, fresh keys, licenses handed out without a sale."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from shipkey.catalog.models import LicenseType
from shipkey.db.engine import Database
from shipkey.errors import ShipkeyError
from shipkey.licensing import issuing, keys
from shipkey.orders.models import Customer
from tests.conftest import SECRET
from tests.licensing.helpers import buy, licensed_product, load

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


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
    assert issuing.expiry_for(license_type, days, NOW) == expected


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
        lic = issuing.issue_manual(
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
        issuing.issue_manual(session, "book", "a@example.com", SECRET)
    assert refused.value.code == "NO_LICENSE"
