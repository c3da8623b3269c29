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
from shipkey.licensing import sightings
from shipkey.licensing.models import License, LicenseSighting
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
    assert checks == []  # two networks, under SHIPKEY_RISK_VALIDATION_NETWORKS: no rule check


def _license_id(admin: TestClient, db: Database) -> str:
    key = create_purchase(admin, "pixel")["licenses"][0]["key"]
    with db.read_session() as session:
        return session.scalars(select(License.id).where(License.key == key)).one()


def _license_checks(db: Database) -> list[str]:
    with db.read_session() as session:
        jobs = session.scalars(select(Job).where(Job.kind == RISK_CHECK)).all()
    return [job.payload["license_id"] for job in jobs if "license_id" in job.payload]


def test_a_license_is_sent_to_the_rule_once_it_crosses_the_limit(
    admin: TestClient, db: Database
) -> None:
    create_product(admin, name="Pixel", slug="pixel", type="LICENSE", licenseType="PERPETUAL")
    shared, honest = _license_id(admin, db), _license_id(admin, db)
    sightings = NetworkSightings()
    now = utcnow()
    for n in range(3):  # limit 3: three networks are not more than the limit
        sightings.note(shared, f"10.{n}.0.0/24", now)
    sightings.note(honest, "203.0.113.0/24", now)
    assert sightings.flush(db, 3) == 0
    assert _license_checks(db) == []

    sightings.note(shared, "10.9.0.0/24", now + timedelta(minutes=5))  # the fourth network
    sightings.note(honest, "198.51.100.0/24", now + timedelta(minutes=5))
    assert sightings.flush(db, 3) == 1
    assert _license_checks(db) == [shared]
    with db.read_session() as session:
        assert len(session.scalars(select(LicenseSighting)).all()) == 6


def test_networks_older_than_a_day_do_not_count(admin: TestClient, db: Database) -> None:
    create_product(admin, name="Pixel", slug="pixel", type="LICENSE", licenseType="PERPETUAL")
    license_id = _license_id(admin, db)
    sightings = NetworkSightings()
    now = utcnow()
    for n in range(3):
        sightings.note(license_id, f"10.{n}.0.0/24", now - timedelta(days=2))
    sightings.flush(db, 3)
    sightings.note(license_id, "10.9.0.0/24", now)  # four networks, but three of them old
    assert sightings.flush(db, 3) == 0
    assert _license_checks(db) == []


def test_a_key_shared_across_two_flushes_at_once_is_counted_whole(
    admin: TestClient, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes write their batches at the same time: the second commits while the first
    is between its write and its count. Each batch alone is under the limit, both together
    over it; the networks are counted once the batch is committed, so the count sees both."""
    create_product(admin, name="Pixel", slug="pixel", type="LICENSE", licenseType="PERPETUAL")
    license_id = _license_id(admin, db)
    now = utcnow()
    first, second = NetworkSightings(), NetworkSightings()
    for n in range(4):
        first.note(license_id, f"10.{n}.0.0/24", now)
    for n in range(4, 7):
        second.note(license_id, f"10.{n}.0.0/24", now)
    queued_by_second: list[int] = []
    real_over_limit = sightings.over_limit

    def other_process_writes_meanwhile(*args: Any) -> list[str]:
        monkeypatch.setattr(sightings, "over_limit", real_over_limit)  # the second's own count
        queued_by_second.append(second.flush(db, 5))
        return real_over_limit(*args)

    monkeypatch.setattr(sightings, "over_limit", other_process_writes_meanwhile)
    queued_by_first = first.flush(db, 5)
    assert queued_by_second == [1]
    assert queued_by_first == 1
    with db.read_session() as session:
        checks = session.scalars(select(Job).where(Job.kind == RISK_CHECK)).all()
    assert [job.payload for job in checks if "license_id" in job.payload] == [
        {"license_id": license_id}
    ] * 2


def test_a_sighting_written_by_another_process_is_ignored_and_still_counted(
    admin: TestClient, db: Database
) -> None:
    create_product(admin, name="Pixel", slug="pixel", type="LICENSE", licenseType="PERPETUAL")
    license_id = _license_id(admin, db)
    now = utcnow()
    first, second = NetworkSightings(), NetworkSightings()
    for n in range(2):
        first.note(license_id, f"10.{n}.0.0/24", now)
        second.note(license_id, f"10.{n}.0.0/24", now)
    second.note(license_id, "10.7.0.0/24", now)
    assert first.flush(db, 2) == 0
    assert second.flush(db, 2) == 1  # two rows there already, one new: three networks
    with db.read_session() as session:
        assert len(session.scalars(select(LicenseSighting)).all()) == 3
