"""A sale to look at, and a client signed in as the seller."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.admin_ui.helpers import admin_sign_in
from tests.factories import create_purchase, product_with_file


@pytest.fixture
def sale(admin: TestClient) -> dict[str, Any]:
    product, _data = product_with_file(
        admin, name="Pixel Forge", slug="pixel-forge", type="LICENSE", maxDownloads=2
    )
    return create_purchase(admin, product["slug"], email="ada@example.com", amount=4900)


@pytest.fixture
def seller(client: TestClient) -> TestClient:
    admin_sign_in(client)
    return client
