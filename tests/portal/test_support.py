"""The buyer's purchase page names the support address when one is set."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from shipkey.db.engine import Database
from tests.factories import create_purchase, product_with_file
from tests.portal.helpers import sign_in


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"support_email": "help@shop.example"}


def test_the_purchase_page_names_the_support_address(
    admin: TestClient, client: TestClient, db: Database
) -> None:
    product, _data = product_with_file(admin, name="Pixel Forge", slug="pixel-forge")
    sale = create_purchase(admin, product["slug"], email="ada@example.com")
    sign_in(client, db, "ada@example.com")
    page = client.get(f"/purchases/{sale['id']}", headers={"Accept-Language": "de"}).text
    assert (
        'Fragen? Schreiben Sie an <a href="mailto:help@shop.example">help@shop.example</a>'
        f" und nennen Sie die Bestellung {sale['id']}." in page
    )
