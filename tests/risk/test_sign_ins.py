"""Sign-ins are checked too: the address (through the test's own trusted proxy) and browser a
sign-in link is used from are recorded, shown in the evidence, and a buyer signed in from too
many networks in 24 h is flagged."""

from __future__ import annotations

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select

from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.http.net import Client
from shipkey.jobs.worker import Worker
from shipkey.portal import service as portal
from shipkey.portal.models import LoginPurpose, LoginToken
from shipkey.risk import service
from tests.admin_ui.helpers import admin_sign_in
from tests.factories import create_purchase, product_with_file
from tests.portal.helpers import csrf
from tests.risk.helpers import (
    flagged_hooks,
    held,
    license_status,
    risk_events,
    seller_mails,
    via_proxy,
)

BUYER = "buyer@example.com"


def sign_in(base: str, db: Database, address: str, agent: str = "Firefox/130") -> None:
    """Use a sign-in link from ``address`` (as the proxy names it) with browser ``agent``."""
    with db.session() as session:
        token = portal.create_login_token(session, BUYER, LoginPurpose.BUYER, "en")
    headers = {**via_proxy(address), "User-Agent": agent}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as browser:
        page = browser.get(f"/login/{token}")
        assert page.status_code == 200, page.text
        used = browser.post(f"/login/{token}", data={"csrf_token": csrf(page.text)})
        assert used.status_code == 303, used.text


def _sale(admin: TestClient) -> dict[str, object]:
    product, _ = product_with_file(
        admin, name="Pixel", slug="pixel", type="LICENSE", licenseType="PERPETUAL"
    )
    create_purchase(admin, product["slug"])
    return create_purchase(admin, product["slug"])  # the buyer's newest


def test_a_sign_in_records_the_forwarded_address_and_the_browser(
    admin: TestClient, client: TestClient, live_server: str, db: Database
) -> None:
    purchase = _sale(admin)
    admin_sign_in(client)
    seller = client
    sign_in(live_server, db, "203.0.113.7", agent="Safari/17")
    with db.read_session() as session:
        [used] = session.scalars(select(LoginToken).where(LoginToken.used_at.is_not(None)))
        assert (used.ip_address, used.user_agent) == ("203.0.113.7", "Safari/17")

    evidence = admin.get(f"/api/admin/purchases/{purchase['id']}/evidence").json()
    [entry] = evidence["signIns"]
    assert (entry["ipAddress"], entry["userAgent"]) == ("203.0.113.7", "Safari/17")
    page = seller.get(f"/admin/purchases/{purchase['id']}/evidence")
    assert page.status_code == 200
    assert "203.0.113.7" in page.text
    assert "Safari/17" in page.text


def test_a_buyer_signed_in_from_many_networks_is_flagged(
    admin: TestClient, live_server: str, db: Database, worker: Worker, endpoint: str
) -> None:
    purchase = _sale(admin)
    addresses = ["203.0.113.5", "198.51.100.7", "192.0.2.33", "2001:db8:9::1"]
    for address in addresses:
        sign_in(live_server, db, address)
    worker.run_once()
    [event] = risk_events(admin)
    assert event["kind"] == "SIGN_IN_SHARING"
    assert event["purchaseId"] == purchase["id"]  # the buyer's newest
    networks = event["details"]["networks"]
    assert [n["network"] for n in networks] == [
        "203.0.113.0/24",
        "198.51.100.0/24",
        "192.0.2.0/24",
        "2001:db8:9::/48",
    ]
    assert [s["ipAddress"] for n in networks for s in n["signIns"]] == addresses
    assert len(seller_mails(db)) == 1
    assert len(flagged_hooks(db)) == 1
    worker.run_once()  # checked again by a later sign-in: still one event
    sign_in(live_server, db, "203.0.113.9")
    worker.run_once()
    assert len(risk_events(admin)) == 1
    create_purchase(admin, "pixel")  # the buyer buys again and signs in: still one event
    worker.run_once()
    sign_in(live_server, db, "203.0.113.10")
    worker.run_once()
    assert [e["id"] for e in risk_events(admin)] == [event["id"]]
    assert len(seller_mails(db)) == 1


def test_an_honest_buyer_at_home_twice_and_on_the_phone_is_not_flagged(
    admin: TestClient, live_server: str, db: Database, worker: Worker
) -> None:
    _sale(admin)
    for address in ["203.0.113.5", "203.0.113.9", "2001:db8:4:1::7"]:
        sign_in(live_server, db, address, agent="Mobile Safari")
    worker.run_once()
    assert risk_events(admin) == []


def test_with_suspend_the_newest_purchase_is_held_and_its_license_suspended(
    admin: TestClient, db: Database, settings: Settings
) -> None:
    purchase = _sale(admin)
    key = purchase["licenses"][0]["key"]  # type: ignore[index]
    with db.session() as session:
        for n in range(4):
            token = portal.create_login_token(session, BUYER, LoginPurpose.BUYER, "en")
            browser = Client(ip=f"10.{n}.0.1", user_agent="Firefox")
            assert portal.redeem_login(session, token, client=browser) is not None
    suspend = settings.model_copy(update={"risk_action": "suspend"})
    with db.session() as session:
        [event] = service.check_sign_in(session, suspend, BUYER)
        assert event.purchase_id == purchase["id"]
    assert license_status(db, key) == "SUSPENDED"
    assert held(db, str(purchase["id"]))
