"""Types, statuses and kinds in the seller's tables are words in the page's language, never the
stored values (DOWNLOAD, PENDING, delivery, …)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

GERMAN = {"Accept-Language": "de"}


def test_the_admin_tables_show_labels_in_german(seller: TestClient, sale: dict[str, Any]) -> None:
    products = seller.get("/admin/products", headers=GERMAN).text
    assert ">Lizenz · Unbefristet</td>" in products
    assert ">LICENSE" not in products
    assert '<option value="LICENSE">Lizenz</option>' in products
    assert '<option value="PERPETUAL">Unbefristet</option>' in products

    deliveries = seller.get("/admin/deliveries", headers=GERMAN).text
    assert ">Wartend</span>" in deliveries
    assert ">PENDING<" not in deliveries

    purchase = seller.get(f"/admin/purchases/{sale['id']}", headers=GERMAN).text
    assert '<td data-label="Art">Lieferung</td><td data-label="Status">Wartend</td>' in purchase
    assert ">delivery</td>" not in purchase


def test_the_admin_tables_show_labels_in_english(seller: TestClient, sale: dict[str, Any]) -> None:
    products = seller.get("/admin/products", headers={"Accept-Language": "en"}).text
    assert ">License · Perpetual</td>" in products
    purchase = seller.get(f"/admin/purchases/{sale['id']}", headers={"Accept-Language": "en"})
    assert (
        '<td data-label="Kind">Delivery</td><td data-label="Status">Waiting</td>' in purchase.text
    )
