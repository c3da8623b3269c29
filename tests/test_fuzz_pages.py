"""No form, however filled in, gives a 500: random fields on every page that takes a POST, from
a signed-in seller and a signed-in buyer, with a valid CSRF token (so the handler runs)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shipkey.db.engine import Database
from tests.admin_ui.helpers import admin_sign_in
from tests.factories import create_purchase, product_with_file
from tests.portal.helpers import csrf_of, sign_in

FORM_FIELDS = [
    "name",
    "slug",
    "type",
    "price",
    "currency",
    "description",
    "max_downloads",
    "maxDownloads",
    "license_type",
    "license_days",
    "max_activations",
    "key_prefix",
    "metadata",
    "active",
    "count",
    "email",
    "token",
    "next",
    "locale",
    "language",
]
VALUE = st.text(max_size=40) | st.sampled_from(
    ["", "0", "-1", "1e400", "99999999999", "NaN", "on", "LICENSE", "DOWNLOAD", "{", "[]", "\x00"]
    + ["²", "٣", "１", "⁵", "1²", "1_000", "１２,５", "٣.٤", "Infinity", "+5"]
)
FORM = st.dictionaries(st.sampled_from(FORM_FIELDS), VALUE, max_size=6)
SEGMENT = st.sampled_from(["", "x", "%00", "..", "a" * 80]) | st.text(
    alphabet=st.characters(min_codepoint=48, max_codepoint=122), max_size=12
)
FUZZ = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def sale(admin: TestClient) -> dict[str, Any]:
    product, _data = product_with_file(
        admin, name="Fuzz Kit", slug="fuzz-kit", type="LICENSE", maxDownloads=3
    )
    return create_purchase(admin, product["slug"], email="fuzz@example.com", amount=1500)


@pytest.fixture
def seller(client: TestClient) -> tuple[TestClient, str]:
    return client, admin_sign_in(client)


@FUZZ
@given(form=FORM, segment=SEGMENT, which=st.integers(min_value=0, max_value=8))
def test_seller_forms_never_fail(
    seller: tuple[TestClient, str],
    sale: dict[str, Any],
    form: dict[str, str],
    segment: str,
    which: int,
) -> None:
    client, token = seller
    purchase, lic = sale["id"], (sale.get("licenses") or [{}])[0].get("key", "KEY")
    paths = [
        "/admin/products",
        "/admin/products/fuzz-kit",
        f"/admin/products/{segment}",
        f"/admin/purchases/{purchase}/add-downloads",
        f"/admin/purchases/{purchase}/{segment or 'refund'}",
        f"/admin/purchases/{segment or 'x'}/resend",
        f"/admin/licenses/{lic}/{segment or 'suspend'}",
        f"/admin/deliveries/{segment or 'x'}/retry",
        "/admin/login/email",
    ]
    response = client.post(paths[which], data={**form, "csrf_token": token}, follow_redirects=False)
    assert response.status_code < 500, (paths[which], form, response.text[:300])


@FUZZ
@given(form=FORM, segment=SEGMENT, which=st.integers(min_value=0, max_value=4))
def test_buyer_forms_never_fail(
    client: TestClient,
    db: Database,
    sale: dict[str, Any],
    form: dict[str, str],
    segment: str,
    which: int,
) -> None:
    if not client.cookies:
        sign_in(client, db, "fuzz@example.com")
    token = csrf_of(client, "/purchases")
    purchase = sale["id"]
    paths = [
        "/language",
        f"/purchases/{purchase}/download-link",
        f"/purchases/{segment or 'x'}/download-link",
        f"/purchases/{purchase}/licenses/{segment or 'x'}/machines/{segment or 'y'}/deactivate",
        "/login",
    ]
    response = client.post(paths[which], data={**form, "csrf_token": token}, follow_redirects=False)
    assert response.status_code < 500, (paths[which], form, response.text[:300])
