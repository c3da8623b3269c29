"""The risk pages: open events with their evidence, clearing one, badges on the purchase and the
license, and a purchase's printable evidence."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from shipkey.clock import utcnow
from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.licensing.models import License
from shipkey.orders.models import Purchase
from shipkey.risk.models import RiskKind
from shipkey.risk.rules import Hit
from shipkey.risk.service import flag
from tests.portal.helpers import csrf


def _flag(db: Database, settings: Settings, purchase_id: str, *, on_license: bool) -> str:
    details = {
        "limit": 3,
        "windowHours": 24,
        "networks": [
            {
                "network": "198.51.0.0/24",
                "downloads": [{"at": "2026-12-05T10:00:00+00:00", "ipAddress": "198.51.0.7"}],
            }
        ],
    }
    with db.session() as session:
        purchase = session.get(Purchase, purchase_id)
        lic = session.query(License).filter_by(purchase_id=purchase_id).first()
        kind = RiskKind.KEY_SHARING if on_license else RiskKind.DOWNLOAD_SHARING
        event = flag(
            session,
            settings,
            Hit(kind, details),
            purchase,
            lic if on_license else None,
            utcnow(),
            suspend=True,
        )
        assert event is not None
        return event.id


def test_the_risk_page_shows_the_evidence_and_clears(
    seller: TestClient, sale: dict[str, Any], db: Database, settings: Settings
) -> None:
    event_id = _flag(db, settings, sale["id"], on_license=False)
    page = seller.get("/admin/risk")
    assert page.status_code == 200
    assert "198.51.0.0/24" in page.text
    assert "198.51.0.7" in page.text
    purchase_page = seller.get(f"/admin/purchases/{sale['id']}").text
    assert "data-risk-open" in purchase_page
    assert "data-under-review" in purchase_page

    cleared = seller.post(f"/admin/risk/{event_id}/clear", data={"csrf_token": csrf(page.text)})
    assert cleared.status_code == 200
    assert "No risk events." in cleared.text
    assert "data-risk-open" not in seller.get(f"/admin/purchases/{sale['id']}").text
    assert event_id in seller.get("/admin/risk?status=CLEARED").text


def test_a_license_event_shows_on_the_license_page(
    seller: TestClient, sale: dict[str, Any], db: Database, settings: Settings
) -> None:
    _flag(db, settings, sale["id"], on_license=True)
    key = sale["licenses"][0]["key"]
    page = seller.get(f"/admin/licenses/{key}")
    assert page.status_code == 200
    assert "data-risk-open" in page.text


def test_the_evidence_page(seller: TestClient, sale: dict[str, Any]) -> None:
    page = seller.get(f"/admin/purchases/{sale['id']}/evidence")
    assert page.status_code == 200
    assert f"Evidence for purchase {sale['id']}" in page.text
    assert "No consent was recorded for this purchase." in page.text
    assert seller.get("/admin/purchases/pur_nope/evidence").status_code == 404
