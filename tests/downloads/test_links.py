"""Issuing download links: how long a new link lasts."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from tests.factories import create_purchase, product_with_file

pytestmark = pytest.mark.usefixtures("download_mode")


def test_link_expiry_follows_the_product(admin: TestClient) -> None:
    product, _ = product_with_file(admin, linkTtlHours=2)
    purchase = create_purchase(admin, product["slug"])
    link = purchase["downloads"][0]
    created = datetime.fromisoformat(link["createdAt"])
    expires = datetime.fromisoformat(link["expiresAt"])
    assert expires - created == timedelta(hours=2)
