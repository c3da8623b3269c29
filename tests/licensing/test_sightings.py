"""The networks a license is validated from: noted without a write, written a moment later in
one transaction, once per (license, network, day)."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from shipkey.clock import utcnow
from shipkey.db.engine import Database
from shipkey.jobs.kinds import RISK_CHECK
from shipkey.jobs.models import Job
from shipkey.licensing.models import LicenseSighting
from shipkey.licensing.sightings import NetworkSightings
from tests.factories import create_product, create_purchase


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"trusted_proxies": "127.0.0.1/32"}


def test_a_triple_is_noted_once_and_a_write_scheduled_once() -> None:
    sightings = NetworkSightings()
    now = utcnow()
    assert sightings.note("lic_a", "192.0.2.0/24", now)  # the first: schedule a write
    assert not sightings.note("lic_a", "192.0.2.0/24", now)  # seen
    assert not sightings.note("lic_a", "198.51.100.0/24", now)  # new, a write is scheduled
    assert not sightings.note("lic_a", "192.0.2.0/24", now + timedelta(days=1))  # pending


def test_validations_are_written_by_themselves_one_row_a_network_and_day(
    admin: TestClient, live_server: str, db: Database
) -> None:
    create_product(admin, name="Pixel", slug="pixel", type="LICENSE", licenseType="PERPETUAL")
    key = create_purchase(admin, "pixel")["licenses"][0]["key"]
    for address in ["203.0.113.5", "203.0.113.99", "2001:db8:7::1", "2001:db8:7:1::2"] * 2:
        answer = httpx.post(
            f"{live_server}/api/licenses/validate",
            json={"licenseKey": key},
            headers={"X-Forwarded-For": address},
            timeout=30,
        )
        assert answer.json()["valid"]

    def networks() -> list[str]:
        with db.read_session() as session:
            query = select(LicenseSighting.network).order_by(LicenseSighting.network)
            return list(session.scalars(query))

    deadline = time.monotonic() + 60  # written a couple of seconds later, off the request
    while not networks() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert networks() == ["2001:db8:7::/48", "203.0.113.0/24"]
    with db.read_session() as session:
        jobs = session.scalars(select(Job).where(Job.kind == RISK_CHECK)).all()
    checks = [job for job in jobs if "license_id" in job.payload]
    assert len(checks) == 1  # one rule check for the license's new networks
