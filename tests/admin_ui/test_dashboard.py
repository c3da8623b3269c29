"""The dashboard's numbers and charts."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.factories import create_purchase


def test_the_dashboard_counts_sales_and_draws_charts(
    seller: TestClient, admin: TestClient, sale: dict[str, Any]
) -> None:
    create_purchase(admin, "pixel-forge", email="grace@example.com", amount=1000)
    page = seller.get("/admin").text
    assert page.count('role="img"') == 4
    assert "Sales per day" in page
    assert "€59.00" in page
    assert '<td class="num">2</td>' in page
