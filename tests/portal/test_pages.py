"""The buyer's pages: only the owner sees a purchase (404 for anyone else), every form needs the
session's CSRF token, links and machines, and the language."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event

from shipkey.db.engine import Database
from shipkey.licensing.models import LicenseActivation
from tests.factories import create_product, create_purchase, product_with_file
from tests.portal.helpers import csrf, csrf_of, sign_in


@pytest.fixture
def sale(admin: TestClient) -> dict[str, Any]:
    product, _data = product_with_file(
        admin, name="Pixel Forge", slug="pixel-forge", type="LICENSE", maxDownloads=2
    )
    purchase = create_purchase(admin, product["slug"], email="ada@example.com")
    key = purchase["licenses"][0]["key"]
    activated = admin.post(
        "/api/licenses/activate",
        json={"licenseKey": key, "machineId": "m-1", "machineName": "Office PC"},
    )
    assert activated.status_code == 200, activated.text
    return purchase


@pytest.fixture
def other(
    admin: TestClient, app: FastAPI, db: Database, sale: dict[str, Any]
) -> Iterator[TestClient]:
    """Another buyer, signed in, with a purchase of their own."""
    create_purchase(admin, "pixel-forge", email="eve@example.com")
    with TestClient(app) as client:
        sign_in(client, db, "eve@example.com")
        yield client


def _activation_id(db: Database) -> tuple[str, str]:
    with db.read_session() as session:
        row = session.query(LicenseActivation).one()
        return row.license_id, row.id


def _selects(db: Database, call: Callable[[], Any]) -> list[str]:
    """The SELECTs ``call`` sends to the database, in order."""
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            sent.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        call()
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    return sent


def test_a_buyer_page_reads_each_thing_once(
    client: TestClient, admin: TestClient, db: Database, sale: dict[str, Any]
) -> None:
    """The session, the purchase (or the buyer's purchases), then its licenses with their
    machines, links, access and releases: one query each, none read twice."""
    sign_in(client, db, "ada@example.com")
    unused = create_purchase(admin, "pixel-forge", email="ada@example.com")
    for path, most, machines in [
        ("/purchases", 2, False),
        (f"/purchases/{sale['id']}", 7, True),
        (f"/purchases/{unused['id']}", 6, False),  # no seat taken: no machines to read
    ]:
        assert client.get(path).status_code == 200

        def view(page: str = path) -> None:
            client.get(page).raise_for_status()

        sent = _selects(db, view)
        assert len(sent) == len(set(sent)), sent
        assert len(sent) <= most, sent
        assert any("FROM license_activations" in sql for sql in sent) is machines, sent


def test_the_owner_sees_the_purchase(
    client: TestClient, db: Database, sale: dict[str, Any]
) -> None:
    sign_in(client, db, "ada@example.com")
    listing = client.get("/purchases")
    assert f"/purchases/{sale['id']}" in listing.text
    page = client.get(f"/purchases/{sale['id']}")
    assert page.status_code == 200
    assert sale["licenses"][0]["key"] in page.text
    assert "1/3" in page.text
    assert "Office PC" in page.text
    assert "2 downloads left" in page.text


def test_another_buyers_purchase_is_not_found(
    other: TestClient, db: Database, sale: dict[str, Any]
) -> None:
    purchase_id = sale["id"]
    assert f"/purchases/{purchase_id}" not in other.get("/purchases").text
    page = other.get(f"/purchases/{purchase_id}")
    assert page.status_code == 404
    assert sale["licenses"][0]["key"] not in page.text
    assert other.get("/purchases/pur_doesnotexist000000000").status_code == 404

    token = csrf_of(other, "/purchases")
    license_id, activation_id = _activation_id(db)
    base = f"/purchases/{purchase_id}/licenses/{license_id}/machines/{activation_id}"
    assert (
        other.post(
            f"/purchases/{purchase_id}/download-link", data={"csrf_token": token}
        ).status_code
        == 404
    )
    assert other.post(f"{base}/deactivate", data={"csrf_token": token}).status_code == 404
    assert other.get(f"{base}/file").status_code == 404
    with db.read_session() as session:
        assert session.get(LicenseActivation, activation_id).deactivated_at is None  # type: ignore[union-attr]


def test_pages_need_a_signed_in_buyer(client: TestClient, sale: dict[str, Any]) -> None:
    response = client.get(f"/purchases/{sale['id']}", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next=%2Fpurchases%2F{sale['id']}"


@pytest.mark.parametrize("token", [None, "", "forged-token"])
def test_forms_without_a_valid_csrf_token_are_refused(
    client: TestClient, db: Database, sale: dict[str, Any], token: str | None
) -> None:
    sign_in(client, db, "ada@example.com")
    data = {} if token is None else {"csrf_token": token}
    license_id, activation_id = _activation_id(db)
    posts = [
        f"/purchases/{sale['id']}/download-link",
        f"/purchases/{sale['id']}/licenses/{license_id}/machines/{activation_id}/deactivate",
        "/logout",
        "/login",
        "/language",
    ]
    for path in posts:
        response = client.post(path, data={**data, "email": "ada@example.com"})
        assert response.status_code == 403, path
        assert "This form has expired" in response.text
    # Nothing happened.
    page = client.get(f"/purchases/{sale['id']}")
    assert "Office PC" in page.text
    assert "Your download link is ready" not in page.text


def test_a_token_from_another_session_is_refused(
    client: TestClient, other: TestClient, db: Database, sale: dict[str, Any]
) -> None:
    sign_in(client, db, "ada@example.com")
    foreign = csrf_of(other, "/purchases")
    response = client.post(f"/purchases/{sale['id']}/download-link", data={"csrf_token": foreign})
    assert response.status_code == 403


def test_generate_a_link_and_deactivate_a_machine(
    client: TestClient, db: Database, sale: dict[str, Any]
) -> None:
    sign_in(client, db, "ada@example.com")
    token = csrf_of(client, f"/purchases/{sale['id']}")
    page = client.post(f"/purchases/{sale['id']}/download-link", data={"csrf_token": token})
    assert "Your download link is ready" in page.text
    url = page.text.split("data-download-link>")[0].rsplit('href="', 1)[1].split('"')[0]
    assert url.startswith("http://testserver/api/download/")
    assert client.get(url.removeprefix("http://testserver")).status_code == 200
    assert "1 download left" in client.get(f"/purchases/{sale['id']}").text

    license_id, activation_id = _activation_id(db)
    base = f"/purchases/{sale['id']}/licenses/{license_id}/machines/{activation_id}"
    license_file = client.get(f"{base}/file")
    assert license_file.status_code == 200
    assert license_file.text.startswith("-----BEGIN SHIPKEY LICENSE FILE-----")
    assert "attachment" in license_file.headers["content-disposition"]

    done = client.post(f"{base}/deactivate", data={"csrf_token": token})
    assert "Office PC was deactivated." in done.text
    assert "0/3" in done.text
    assert client.post(f"{base}/deactivate", data={"csrf_token": token}).status_code == 404


def test_no_link_when_the_downloads_are_used_up(
    client: TestClient, admin: TestClient, db: Database, sale: dict[str, Any]
) -> None:
    sign_in(client, db, "ada@example.com")
    for _ in range(2):
        token = admin.post(f"/api/admin/purchases/{sale['id']}/download-links").json()["token"]
        assert client.get(f"/api/download/{token}").status_code == 200
    page = client.get(f"/purchases/{sale['id']}")
    assert "All downloads have been used" in page.text
    assert "Generate download link" not in page.text
    refused = client.post(
        f"/purchases/{sale['id']}/download-link", data={"csrf_token": csrf(page.text)}
    )
    assert "No new link" in refused.text


def test_german_from_the_browser_the_purchase_or_the_switch(
    client: TestClient, admin: TestClient, db: Database, sale: dict[str, Any]
) -> None:
    sign_in(client, db, "ada@example.com")
    path = f"/purchases/{sale['id']}"
    assert "Lizenzschlüssel" in client.get(path, headers={"Accept-Language": "de-DE,de;q=0.9"}).text
    assert "License keys" in client.get(path, headers={"Accept-Language": "fr, en;q=0.5"}).text

    german = create_purchase(admin, "pixel-forge", email="ada@example.com", locale="de")
    assert 'lang="de"' in client.get(f"/purchases/{german['id']}").text
    assert 'lang="en"' in client.get(path).text

    token = csrf_of(client, path)
    switched = client.post("/language", data={"csrf_token": token, "locale": "de", "next": path})
    assert switched.url.path == path
    assert "Meine Käufe" in switched.text
    assert "Meine Käufe" in client.get(path, headers={"Accept-Language": "en"}).text


def test_next_never_leaves_the_site(client: TestClient, db: Database, sale: dict[str, Any]) -> None:
    token = csrf_of(client, "/login")
    response = client.post(
        "/language",
        data={"csrf_token": token, "locale": "de", "next": "//evil.example.com/"},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/purchases"


def test_after_a_refund_the_buyer_sees_it_and_gets_no_link_or_license_file(
    client: TestClient, admin: TestClient, db: Database, sale: dict[str, Any]
) -> None:
    sign_in(client, db, "ada@example.com")
    assert admin.post(f"/api/admin/purchases/{sale['id']}/refund").status_code == 200
    page = client.get(f"/purchases/{sale['id']}")
    assert "Refunded" in page.text
    assert 'data-license-status="REVOKED"' in page.text
    assert "Downloads are not available for this purchase." in page.text
    license_id, activation_id = _activation_id(db)
    refused = client.get(
        f"/purchases/{sale['id']}/licenses/{license_id}/machines/{activation_id}/file"
    )
    assert refused.status_code == 403
    assert "This license was revoked." in refused.text


@pytest.mark.parametrize(
    "email", ["x" * 5000 + "@example.com", "no-at-sign", "a@b", "²@example.com"]
)
def test_odd_addresses_get_the_form_again(client: TestClient, email: str) -> None:
    response = client.post("/login", data={"email": email, "csrf_token": csrf_of(client, "/login")})
    assert response.status_code in (200, 422)
    assert "text/html" in response.headers["content-type"]


def test_the_purchase_page_shows_access_links_until_a_refund(
    admin: TestClient, client: TestClient, db: Database
) -> None:
    create_product(admin, name="Shipping Academy", slug="academy", type="COURSE", price=9900)
    purchase = create_purchase(admin, "academy", email="ada@example.com")
    assert [grant["kind"] for grant in purchase["access"]] == ["COURSE"]
    sign_in(client, db, "ada@example.com")
    page = client.get(f"/purchases/{purchase['id']}")
    assert page.status_code == 200
    assert 'href="http://testserver/access/' in page.text
    opened = client.get(
        page.text.split('href="http://testserver', 1)[1].split('"', 1)[0], follow_redirects=False
    )
    assert opened.status_code in (200, 303)
    refunded = admin.post(f"/api/admin/purchases/{purchase['id']}/refund")
    assert refunded.status_code == 200, refunded.text
    assert "/access/" not in client.get(f"/purchases/{purchase['id']}").text


def test_the_deactivate_button_follows_the_deactivation_limit(
    client: TestClient, admin: TestClient, db: Database, sale: dict[str, Any]
) -> None:
    key = sale["licenses"][0]["key"]
    for machine in ["m-2", "m-3", "m-4"]:
        admin.post("/api/licenses/activate", json={"licenseKey": key, "machineId": machine})
        admin.delete("/api/licenses/activate", params={"key": key, "machineId": machine})
    sign_in(client, db, "ada@example.com")
    token = csrf_of(client, f"/purchases/{sale['id']}")
    with db.read_session() as session:
        row = session.query(LicenseActivation).filter_by(machine_id="m-1").one()
    base = f"/purchases/{sale['id']}/licenses/{row.license_id}/machines/{row.id}"
    refused = client.post(f"{base}/deactivate", data={"csrf_token": token})
    assert refused.status_code == 403
    assert "deactivated 3 times" in refused.text
    assert "1/3" in client.get(f"/purchases/{sale['id']}").text
