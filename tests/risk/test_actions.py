"""SHIPKEY_RISK_ACTION=suspend: a hit suspends the license and holds the purchase (403
UNDER_REVIEW for new links and downloads) until the seller clears the event; clearing gives back
what the hit took, never what the seller suspended by hand."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient

from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.jobs.worker import Worker
from tests.factories import create_purchase, new_link, product_with_file
from tests.portal.helpers import sign_in
from tests.risk.conftest import PROXY, SELLER, SUPPORT
from tests.risk.helpers import flush_sightings, held, license_status, risk_events, validate


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {
        "trusted_proxies": PROXY,
        "admin_email": SELLER,
        "support_email": SUPPORT,
        "risk_action": "suspend",
        "risk_validation_networks": 2,
    }


def _shared_key(admin: TestClient, live_server: str) -> tuple[dict[str, Any], str]:
    product, _ = product_with_file(
        admin, name="Pixel", slug="pixel", type="LICENSE", licenseType="PERPETUAL"
    )
    purchase = create_purchase(admin, product["slug"], maxDownloads=10)
    return purchase, purchase["licenses"][0]["key"]


def _share(live_server: str, db: Database, settings: Settings, key: str) -> None:
    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(lambda n: validate(live_server, key, f"172.16.{n}.1"), range(3)))
    flush_sightings(db, settings)


def test_a_hit_suspends_and_holds_until_cleared(
    admin: TestClient,
    client: TestClient,
    live_server: str,
    db: Database,
    worker: Worker,
    settings: Settings,
) -> None:
    purchase, key = _shared_key(admin, live_server)
    token = new_link(admin, purchase["id"])
    _share(live_server, db, settings, key)
    worker.run_once()

    [event] = risk_events(admin, status="OPEN")
    assert event["kind"] == "KEY_SHARING"
    assert license_status(db, key) == "SUSPENDED"
    assert validate(live_server, key, "172.16.0.1").json()["code"] == "SUSPENDED"
    assert held(db, purchase["id"])
    refused = admin.post(f"/api/admin/purchases/{purchase['id']}/download-links")
    assert refused.status_code == 403
    assert refused.json()["code"] == "UNDER_REVIEW"
    stopped = client.get(f"/api/download/{token}")
    assert stopped.status_code == 403
    assert stopped.json()["code"] == "UNDER_REVIEW"

    cleared = admin.post(f"/api/admin/risk-events/{event['id']}/clear")
    assert cleared.status_code == 200
    assert cleared.json()["status"] == "CLEARED"
    assert license_status(db, key) == "ACTIVE"
    assert not held(db, purchase["id"])
    assert client.get(f"/api/download/{token}").status_code == 200
    again = admin.post(f"/api/admin/risk-events/{event['id']}/clear")
    assert again.json()["status"] == "CLEARED"
    assert risk_events(admin, status="CLEARED")[0]["id"] == event["id"]

    # Cleared, the (kind, subject) may open a new event when the rule hits again.
    validate(live_server, key, "172.16.9.1")
    flush_sightings(db, settings)
    worker.run_once()
    assert len(risk_events(admin, status="OPEN")) == 1
    assert license_status(db, key) == "SUSPENDED"


def test_clearing_leaves_what_the_seller_suspended_by_hand(
    admin: TestClient, live_server: str, db: Database, worker: Worker, settings: Settings
) -> None:
    purchase, key = _shared_key(admin, live_server)
    assert admin.post(f"/api/admin/licenses/{key}/suspend").status_code == 200
    _share(live_server, db, settings, key)
    worker.run_once()
    [event] = risk_events(admin)
    assert held(db, purchase["id"])
    admin.post(f"/api/admin/risk-events/{event['id']}/clear")
    assert license_status(db, key) == "SUSPENDED"  # the seller's own suspension stands
    assert not held(db, purchase["id"])


def test_the_buyers_page_says_what_happened_and_whom_to_write_to(
    admin: TestClient,
    client: TestClient,
    live_server: str,
    db: Database,
    worker: Worker,
    settings: Settings,
) -> None:
    purchase, key = _shared_key(admin, live_server)
    _share(live_server, db, settings, key)
    worker.run_once()
    sign_in(client, db, "buyer@example.com")
    page = client.get(f"/purchases/{purchase['id']}")
    assert page.status_code == 200
    assert "data-under-review" in page.text
    assert SUPPORT in page.text


def test_unknown_event_is_404(admin: TestClient) -> None:
    response = admin.post("/api/admin/risk-events/rsk_nope/clear")
    assert response.status_code == 404
    assert response.json()["code"] == "RISK_EVENT_NOT_FOUND"
