"""No input, however malformed, gives a 500: random bodies, tokens and headers at every route."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.factories import create_purchase, product_with_file

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = [
    "name",
    "slug",
    "type",
    "price",
    "product",
    "email",
    "status",
    "maxDownloads",
    "licenseType",
    "keyPrefix",
    "metadata",
    "expiresIn",
    "currency",
    "linkTtlHours",
]
OBJECTS = st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=6)
NUMERALS = "0123456789²³¹⁵٣１０۷०"
"""ASCII digits and others that str.isdigit() takes: superscripts, Arabic-Indic, fullwidth…"""
NUMBERS = st.text(alphabet=NUMERALS + "-+_ .", max_size=14) | st.sampled_from(
    ["²", "٣", "１", "⁵", "1²", "1_000", "１２３", "٣٤"]
)
HEADER_TEXT = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60)
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _ok(status: int) -> bool:
    return status < 500


@FUZZ
@given(
    body=OBJECTS | JSON,
    path=st.sampled_from(["/api/admin/products", "/api/admin/purchases", "/api/admin/signed-urls"]),
)
def test_admin_posts_never_fail(admin: TestClient, body: Any, path: str) -> None:
    response = admin.post(
        path, content=json.dumps(body), headers={"Content-Type": "application/json"}
    )
    assert _ok(response.status_code), response.text
    assert "code" in response.json() or response.status_code in (200, 201)


@FUZZ
@given(raw=st.binary(max_size=200))
def test_garbage_bytes_as_json(admin: TestClient, raw: bytes) -> None:
    response = admin.post(
        "/api/admin/products", content=raw, headers={"Content-Type": "application/json"}
    )
    assert _ok(response.status_code)
    assert response.json()["code"]


@FUZZ
@given(token=st.text(max_size=80), range_header=HEADER_TEXT, if_range=HEADER_TEXT)
def test_download_route_never_fails(
    client: TestClient, token: str, range_header: str, if_range: str
) -> None:
    response = client.get(
        "/api/download/" + quote(token, safe=""),
        headers={"Range": range_header, "If-Range": if_range},
    )
    assert _ok(response.status_code)


@FUZZ
@given(range_header=HEADER_TEXT, if_range=HEADER_TEXT)
def test_ranges_on_a_real_link_never_fail(
    admin: TestClient, range_header: str, if_range: str
) -> None:
    product = admin.get("/api/admin/products/test-book")
    if product.status_code == 404:
        product_with_file(admin, content=b"0123456789" * 100, maxDownloads=10_000)
    token = create_purchase(admin, "test-book")["downloadLinks"][0]["token"]
    response = admin.get(
        f"/api/download/{token}", headers={"Range": range_header, "If-Range": if_range}
    )
    assert response.status_code in (200, 206, 416)


@FUZZ
@given(
    key=st.text(max_size=60),
    expires=st.text(max_size=20) | NUMBERS,
    sig=st.text(max_size=70) | st.from_regex(r"[0-9a-f]{64}", fullmatch=True),
)
@example(key="products/x", expires="²", sig="0" * 64)
@example(key="products/x", expires="1⁵", sig="0" * 64)
@example(key="products/x", expires="٣", sig="0" * 64)
@example(key="products/x", expires="１", sig="0" * 64)
def test_signed_route_never_fails(client: TestClient, key: str, expires: str, sig: str) -> None:
    response = client.get(
        "/api/signed/" + quote(key, safe="/"),
        params={"expires": expires, "sig": sig},
    )
    assert _ok(response.status_code)
    if response.status_code != 404:
        assert response.json()["code"] in {"INVALID_SIGNATURE", "LINK_EXPIRED", "FILE_NOT_FOUND"}


@FUZZ
@given(
    limit=NUMBERS,
    path=st.sampled_from(["/api/admin/deliveries", "/api/admin/webhook-events"]),
)
def test_number_parameters_never_fail(admin: TestClient, limit: str, path: str) -> None:
    response = admin.get(path, params={"limit": limit})
    assert _ok(response.status_code), response.text


@FUZZ
@given(expires_in=NUMBERS, range_header=NUMBERS)
def test_numbers_in_bodies_and_ranges_never_fail(
    admin: TestClient, expires_in: str, range_header: str
) -> None:
    body = {"product": "none", "expiresIn": expires_in}
    assert _ok(admin.post("/api/admin/signed-urls", json=body).status_code)
    if admin.get("/api/admin/products/test-book").status_code == 404:
        product_with_file(admin, content=b"0123456789" * 100, maxDownloads=10_000)
    token = create_purchase(admin, "test-book")["downloadLinks"][0]["token"]
    raw = f"bytes={range_header}-".encode()  # as bytes: a server reads them as Latin-1
    response = admin.get(f"/api/download/{token}", headers={b"Range": raw})
    assert response.status_code in (200, 206, 416)
