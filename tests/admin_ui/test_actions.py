"""The buttons the seller's pages offer for a purchase's or license's state, and the page that
asks before a refund or a revoke, which cannot be undone."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import update

from shipkey.db.engine import Database
from shipkey.orders.models import Purchase, PurchaseStatus
from tests.admin_ui.helpers import load_purchase
from tests.portal.helpers import csrf, csrf_of


def _posts_to(page: str, path: str) -> bool:
    return f'<form method="post" action="{path}"' in page


def test_refund_is_asked_for_with_what_it_ends(
    seller: TestClient, db: Database, sale: dict[str, Any]
) -> None:
    base = f"/admin/purchases/{sale['id']}"
    key = sale["licenses"][0]["key"]
    page = seller.get(base).text
    assert not _posts_to(page, f"{base}/refund"), "one click refunds"
    assert f'href="{base}/refund"' in page

    confirm = seller.get(f"{base}/refund")
    assert confirm.status_code == 200
    text = confirm.text
    assert "Refund this purchase?" in text
    assert re.search(r"Its (\d+ )?download links? that still works? ends?\.", text)
    assert f"Its license {key} is revoked for good" in text
    assert "The buyer is told by e-mail (ada@example.com)." in text
    assert "This cannot be undone." in text
    assert _posts_to(text, f"{base}/refund")
    assert f'<a class="button secondary" href="{base}">Cancel</a>' in text
    assert load_purchase(db, sale["id"]).status is PurchaseStatus.COMPLETED  # asking: no change

    done = seller.post(f"{base}/refund", data={"csrf_token": csrf(text)})
    assert "Refunded: links ended and licenses revoked." in done.text
    assert load_purchase(db, sale["id"]).status is PurchaseStatus.REFUNDED


def test_a_refunded_purchase_offers_no_refund_and_refuses_one(
    seller: TestClient, db: Database, sale: dict[str, Any]
) -> None:
    base = f"/admin/purchases/{sale['id']}"
    token = csrf_of(seller, base)
    seller.post(f"{base}/refund", data={"csrf_token": token})

    page = seller.get(base).text
    for action in ("refund", "resend", "download-link", "reset-downloads", "add-downloads"):
        assert f"{base}/{action}" not in page, action

    asked = seller.get(f"{base}/refund")
    assert str(asked.url).endswith(base)
    assert "A REFUNDED purchase cannot be refunded." in asked.text
    again = seller.post(f"{base}/refund", data={"csrf_token": token})
    assert "A REFUNDED purchase cannot be refunded." in again.text
    assert "Refunded: links ended" not in again.text
    reset = seller.post(f"{base}/reset-downloads", data={"csrf_token": token})
    assert "its downloads are over" in reset.text
    added = seller.post(f"{base}/add-downloads", data={"csrf_token": token, "count": "3"})
    assert "its downloads are over" in added.text
    assert load_purchase(db, sale["id"]).max_downloads == 2


def test_a_disputed_purchase_offers_a_refund_but_no_delivery(
    seller: TestClient, db: Database, sale: dict[str, Any]
) -> None:
    base = f"/admin/purchases/{sale['id']}"
    with db.session() as session:
        session.execute(
            update(Purchase).where(Purchase.id == sale["id"]).values(status=PurchaseStatus.DISPUTED)
        )
    page = seller.get(base).text
    assert f'href="{base}/refund"' in page
    assert f"{base}/resend" not in page
    assert f"{base}/download-link" not in page
    assert _posts_to(page, f"{base}/reset-downloads")


def test_license_buttons_follow_its_state(
    seller: TestClient, admin: TestClient, sale: dict[str, Any]
) -> None:
    key = sale["licenses"][0]["key"]
    page = seller.get(f"/admin/licenses/{key}").text
    license_id = page.split('action="/admin/licenses/')[1].split("/")[0]
    base = f"/admin/licenses/{license_id}"
    token = csrf(page)
    page = seller.get(base).text
    assert _posts_to(page, f"{base}/suspend")
    assert f"{base}/reinstate" not in page
    assert not _posts_to(page, f"{base}/revoke"), "one click revokes"
    assert f'href="{base}/revoke"' in page

    page = seller.post(f"{base}/suspend", data={"csrf_token": token}).text
    assert f"{base}/suspend" not in page
    assert _posts_to(page, f"{base}/reinstate")
    again = seller.post(f"{base}/suspend", data={"csrf_token": token}).text
    assert "A SUSPENDED license cannot be suspended." in again

    seller.post(f"{base}/reinstate", data={"csrf_token": token})
    admin.post("/api/licenses/activate", json={"licenseKey": key, "machineId": "m-1"})
    admin.post("/api/licenses/activate", json={"licenseKey": key, "machineId": "m-2"})
    confirm = seller.get(f"{base}/revoke")
    assert confirm.status_code == 200
    assert "Revoke this license?" in confirm.text
    assert "It stops working on the 2 machines it is active on" in confirm.text
    assert "It cannot be reinstated." in confirm.text
    assert "The buyer is not told" in confirm.text
    assert _posts_to(confirm.text, f"{base}/revoke")
    assert f'<a class="button secondary" href="{base}">Cancel</a>' in confirm.text
    valid = admin.post("/api/licenses/validate", json={"licenseKey": key})
    assert valid.json()["code"] == "VALID"  # asking changes nothing

    page = seller.post(f"{base}/revoke", data={"csrf_token": token}).text
    for action in ("suspend", "reinstate", "revoke"):
        assert f"{base}/{action}" not in page, action
    assert _posts_to(page, f"{base}/reset-activations")
    asked = seller.get(f"{base}/revoke")
    assert str(asked.url).endswith(base)
    assert "A REVOKED license cannot be revoked." in asked.text
    for action, word in (("suspend", "suspended"), ("revoke", "revoked")):
        refused = seller.post(f"{base}/{action}", data={"csrf_token": token}).text
        assert f"A REVOKED license cannot be {word}." in refused


def test_the_confirm_page_speaks_german(seller: TestClient, sale: dict[str, Any]) -> None:
    base = f"/admin/purchases/{sale['id']}"
    token = csrf_of(seller, base)
    seller.post("/language", data={"csrf_token": token, "locale": "de", "next": base})
    text = seller.get(f"{base}/refund").text
    assert "Diesen Kauf erstatten?" in text
    assert "Das lässt sich nicht rückgängig machen." in text
    assert "Abbrechen" in text
