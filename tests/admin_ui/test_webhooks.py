"""The webhook page."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_the_webhook_page_without_a_log(seller: TestClient) -> None:
    page = seller.get("/admin/webhooks").text
    assert "Webhook events" in page
