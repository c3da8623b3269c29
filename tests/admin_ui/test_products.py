"""Creating and editing a product through its forms."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.portal.helpers import csrf_of


def test_create_and_edit_a_product(seller: TestClient, admin: TestClient) -> None:
    token = csrf_of(seller, "/admin/products")
    bad = seller.post(
        "/admin/products", data={"csrf_token": token, "name": "X", "slug": "Not A Slug"}
    )
    assert bad.status_code == 422
    assert "slug" in bad.text
    created = seller.post(
        "/admin/products",
        data={
            "csrf_token": token,
            "name": "Rust Book",
            "slug": "rust-book",
            "type": "DOWNLOAD",
            "price": "19,90",
            "currency": "eur",
            "max_downloads": "4",
            "license_type": "",
        },
    )
    assert created.status_code == 200
    assert "The product was created." in created.text
    product = admin.get("/api/admin/products/rust-book").json()
    assert (product["price"], product["currency"], product["maxDownloads"]) == (1990, "EUR", 4)

    edited = seller.post(
        f"/admin/products/{product['id']}",
        data={
            "csrf_token": token,
            "name": "Rust Book 2e",
            "slug": "rust-book",
            "type": "DOWNLOAD",
            "price": "24",
            "currency": "EUR",
            "max_downloads": "4",
            "link_ttl_hours": "48",
            "active": "on",
        },
    )
    assert "Saved." in edited.text
    product = admin.get("/api/admin/products/rust-book").json()
    assert (product["name"], product["price"], product["linkTtlHours"]) == (
        "Rust Book 2e",
        2400,
        48,
    )


def test_the_seat_limits_of_a_licensed_product(seller: TestClient, admin: TestClient) -> None:
    token = csrf_of(seller, "/admin/products")
    fields = {"csrf_token": token, "name": "Pixel", "slug": "pixel", "type": "LICENSE"}
    created = seller.post(
        "/admin/products", data={**fields, "max_deactivations": "1", "license_file_days": "3"}
    )
    assert "The product was created." in created.text
    product = admin.get("/api/admin/products/pixel").json()
    assert (product["maxDeactivations"], product["licenseFileDays"]) == (1, 3)
    page = seller.get(f"/admin/products/{product['id']}").text
    assert 'name="max_deactivations"' in page
    assert 'name="license_file_days"' in page
    seller.post(f"/admin/products/{product['id']}", data={**fields, "max_deactivations": "0"})
    product = admin.get("/api/admin/products/pixel").json()
    assert (product["maxDeactivations"], product["licenseFileDays"]) == (0, 3)
    default = seller.post("/admin/products", data={**fields, "slug": "plain"})
    assert "The product was created." in default.text
    plain = admin.get("/api/admin/products/plain").json()
    assert (plain["maxDeactivations"], plain["licenseFileDays"]) == (3, 7)


def test_numbers_are_ascii_digits_only(seller: TestClient, admin: TestClient) -> None:
    """Digits that Python's int() and Decimal() take (Arabic-Indic, fullwidth, 1_000) are
    refused, not read as some other number; superscripts are no 500."""
    token = csrf_of(seller, "/admin/products")
    for field, value in [
        ("price", "١٢"),
        ("price", "１０"),
        ("price", "1_000"),
        ("price", "²"),
        ("max_downloads", "٣"),
        ("max_downloads", "²"),
    ]:
        form = {"csrf_token": token, "name": "N", "slug": "n-book", "type": "DOWNLOAD"}
        response = seller.post("/admin/products", data={**form, field: value})
        assert response.status_code == 422, (field, value)
    assert admin.get("/api/admin/products/n-book").status_code == 404


def test_the_key_pool_on_a_licensed_product_page(seller: TestClient, admin: TestClient) -> None:
    app = admin.post(
        "/api/admin/products",
        json={"name": "App", "slug": "app", "type": "LICENSE", "licenseType": "PERPETUAL"},
    ).json()
    page = seller.get(f"/admin/products/{app['id']}")
    assert "Key pool" in page.text
    assert "0 keys available." in page.text
    token = csrf_of(seller, f"/admin/products/{app['id']}")
    added = seller.post(
        f"/admin/products/{app['id']}/key-pool",
        data={"csrf_token": token, "keys": "page-key-1\npage-key-2\npage-key-1\n"},
    )
    assert added.status_code == 200
    assert "2 keys added, 1 duplicates left out; 2 available." in added.text
    assert "2 keys available." in added.text
    assert admin.get("/api/admin/products/app/key-pool").json() == {"available": 2}
    book = admin.post(
        "/api/admin/products", json={"name": "Book", "slug": "book", "type": "DOWNLOAD"}
    ).json()
    assert "Key pool" not in seller.get(f"/admin/products/{book['id']}").text
