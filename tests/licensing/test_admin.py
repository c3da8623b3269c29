"""The seller's state changes: suspend, reinstate, revoke."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from shipkey.db.engine import Database
from shipkey.errors import ShipkeyError
from shipkey.licensing import admin as license_admin
from shipkey.licensing.lookups import lookup
from shipkey.licensing.models import LicenseStatus
from shipkey.licensing.validation import validate
from tests.licensing.helpers import CHECKSUM_SECRET, buy, licensed_product


def test_reinstating_after_the_end_gives_an_expired_license(
    admin: TestClient, db: Database
) -> None:
    licensed_product(admin, licenseType="SUBSCRIPTION", licenseDays=1)
    _, key = buy(admin)
    later = datetime.now(UTC) + timedelta(days=3)
    with db.session() as session:
        lic = lookup(session, key)
        license_admin.suspend(session, lic)
        assert license_admin.reinstate(session, lic, now=later).status is LicenseStatus.EXPIRED
    with db.session() as session, pytest.raises(ShipkeyError) as refused:
        license_admin.reinstate(session, lookup(session, key))
    assert refused.value.code == "INVALID_LICENSE_STATE"


def test_an_expired_license_can_be_suspended_and_revoked(admin: TestClient, db: Database) -> None:
    licensed_product(admin, licenseType="TRIAL", licenseDays=1)
    _, key = buy(admin)
    asyncio.run(validate(db, CHECKSUM_SECRET, key, now=datetime.now(UTC) + timedelta(days=2)))
    with db.session() as session:
        lic = lookup(session, key)
        assert license_admin.suspend(session, lic).status is LicenseStatus.SUSPENDED
        assert license_admin.revoke(session, lic).status is LicenseStatus.REVOKED
