"""The purchase pages: search, and the buttons that act on a purchase."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from shipkey.db.engine import Database
from shipkey.mail.models import MailMessage
from shipkey.orders.models import Purchase
from tests.admin_ui.helpers import load_purchase
from tests.factories import create_purchase
from tests.mail.helpers import count_messages
from tests.portal.helpers import csrf_of


def test_search_purchases_by_email(
    seller: TestClient, admin: TestClient, sale: dict[str, Any]
) -> None:
    create_purchase(admin, "pixel-forge", email="grace@example.com")
    found = seller.get("/admin/purchases", params={"q": "GRACE"}).text
    assert "grace@example.com" in found
    assert "ada@example.com" not in found
    assert "No purchases found" in seller.get("/admin/purchases", params={"q": "%"}).text


def test_a_whole_address_finds_that_buyers_purchases_and_part_of_one_every_match(
    seller: TestClient, admin: TestClient, sale: dict[str, Any]
) -> None:
    create_purchase(admin, "pixel-forge", email="grace@example.com")
    create_purchase(admin, "pixel-forge", email="ungrace@example.com")
    whole = seller.get("/admin/purchases", params={"q": " Grace@Example.com "}).text
    assert "grace@example.com" in whole
    assert "ungrace@example.com" not in whole
    assert "A whole address finds that buyer" in whole
    for part in ("race@example", "@example.com"):
        found = seller.get("/admin/purchases", params={"q": part}).text
        assert "ungrace@example.com" in found
        assert ">grace@example.com<" in found
        assert "ada@example.com" in found if part == "@example.com" else "ada@" not in found


def test_purchase_actions(seller: TestClient, db: Database, sale: dict[str, Any]) -> None:
    base = f"/admin/purchases/{sale['id']}"
    token = csrf_of(seller, base)
    with db.session() as session:
        session.execute(update(Purchase).where(Purchase.id == sale["id"]).values(download_count=2))

    assert (
        "The download count was reset."
        in seller.post(f"{base}/reset-downloads", data={"csrf_token": token}).text
    )
    assert load_purchase(db, sale["id"]).download_count == 0

    added = seller.post(f"{base}/add-downloads", data={"csrf_token": token, "count": "3"})
    assert "Downloads added." in added.text
    assert load_purchase(db, sale["id"]).max_downloads == 5
    bad = seller.post(f"{base}/add-downloads", data={"csrf_token": token, "count": "0"})
    assert "Add between 1 and 1000 downloads." in bad.text

    link = seller.post(f"{base}/download-link", data={"csrf_token": token})
    assert "http://testserver/api/download/" in link.text

    before = count_messages(db, "delivery")
    resent = seller.post(f"{base}/resend", data={"csrf_token": token})
    assert "The delivery e-mail was queued again." in resent.text
    assert count_messages(db, "delivery") == before + 1
    with db.read_session() as session:
        message = session.scalars(
            select(MailMessage)
            .where(MailMessage.kind == "delivery")
            .order_by(MailMessage.created_at.desc())
        ).first()
        assert message is not None
    assert "http://testserver/api/download/" in message.text_body
    assert sale["licenses"][0]["key"] in message.text_body

    refunded = seller.post(f"{base}/refund", data={"csrf_token": token})
    assert "Refunded: links ended and licenses revoked." in refunded.text
    assert 'data-license-status="REVOKED"' in refunded.text
    again = seller.post(f"{base}/resend", data={"csrf_token": token})
    assert "has not been delivered" in again.text
    assert seller.post(f"{base}/nonsense", data={"csrf_token": token}).status_code == 404


@pytest.mark.parametrize("count", ["9" * 5000, "²", "-1", "abc"])
def test_odd_download_counts_are_refused(
    seller: TestClient, db: Database, sale: dict[str, Any], count: str
) -> None:
    base = f"/admin/purchases/{sale['id']}"
    response = seller.post(
        f"{base}/add-downloads", data={"csrf_token": csrf_of(seller, base), "count": count}
    )
    assert response.status_code == 200
    assert "Add between 1 and 1000 downloads." in response.text
    assert load_purchase(db, sale["id"]).max_downloads == 2
