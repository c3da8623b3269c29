"""Sign-in by e-mailed link: the same answer for unknown addresses, single use (also under
parallel clicks), 30 minutes, stored hashed, rate limited; the session cookie and sign-out."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from shipkey.app import create_app
from shipkey.clock import utcnow
from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.portal import service
from shipkey.portal.models import LoginPurpose, LoginToken
from shipkey.storage import Storage
from tests.factories import create_product, create_purchase
from tests.mail.helpers import count_messages
from tests.portal.helpers import csrf, csrf_of, last_login_token, sign_in


@pytest.fixture
def buyer(admin: TestClient) -> str:
    product = create_product(admin, name="Book", slug="book")
    purchase_id: str = create_purchase(admin, product["slug"], email="ada@example.com")["id"]
    return purchase_id


def _ask(client: TestClient, email: str) -> str:
    response = client.post("/login", data={"email": email, "csrf_token": csrf_of(client, "/login")})
    assert response.status_code == 200, response.text
    return response.text


def test_the_answer_is_the_same_for_known_and_unknown_addresses(
    client: TestClient, db: Database, buyer: str
) -> None:
    known = _ask(client, "ada@example.com")
    unknown = _ask(client, "nobody@example.com")
    assert known.replace("ada@example.com", "X").replace(csrf(known), "T") == unknown.replace(
        "nobody@example.com", "X"
    ).replace(csrf(unknown), "T")
    assert count_messages(db, "login") == 1


def test_the_link_is_stored_hashed_and_works_once(
    client: TestClient, db: Database, buyer: str
) -> None:
    _ask(client, " Ada@Example.com ")
    token = last_login_token(db, "ada@example.com")
    assert len(token) >= 43  # 256 bits, URL-safe base64
    with db.read_session() as session:
        row = session.scalars(select(LoginToken)).one()
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert token not in (row.token_hash, row.id)
        assert row.expires_at - row.created_at == timedelta(minutes=30)

    page = client.get(f"/login/{token}")
    assert page.status_code == 200
    assert "ada@example.com" in page.text
    first = client.post(
        f"/login/{token}", data={"csrf_token": csrf(page.text)}, follow_redirects=False
    )
    assert first.status_code == 303
    assert first.headers["location"] == "/purchases"
    assert client.get("/purchases").status_code == 200

    again = client.post(f"/login/{token}", data={"csrf_token": csrf_of(client, "/purchases")})
    assert again.status_code == 410
    assert client.get(f"/login/{token}").status_code == 410


def test_parallel_clicks_sign_in_once(db: Database, settings: Settings, buyer: str) -> None:
    with db.session() as session:
        token = service.create_login_token(session, "ada@example.com", LoginPurpose.BUYER, "en")

    def redeem(_: int) -> bool:
        with db.session() as session:
            return service.redeem_login(session, token) is not None

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(redeem, range(8)))
    assert results.count(True) == 1


def test_an_expired_link_is_refused(client: TestClient, db: Database, buyer: str) -> None:
    long_ago = utcnow() - timedelta(minutes=31)
    with db.session() as session:
        token = service.create_login_token(
            session, "ada@example.com", LoginPurpose.BUYER, "en", now=long_ago
        )
    assert client.get(f"/login/{token}").status_code == 410
    response = client.post(f"/login/{token}", data={"csrf_token": csrf_of(client, "/login")})
    assert response.status_code == 410
    assert "no longer works" in response.text
    assert client.get("/purchases", follow_redirects=False).status_code == 303


@pytest.mark.parametrize("token", ["short", "x" * 300, "a" * 43, "../../etc/passwd"])
def test_made_up_links_are_refused(client: TestClient, token: str) -> None:
    assert client.get(f"/login/{token}").status_code in (404, 410)


def test_over_the_limit_for_an_address_the_answer_is_the_same_and_nothing_is_sent(
    settings: Settings, db: Database, storage: Storage, buyer: str
) -> None:
    """A stranger asking for links to someone's address cannot lock them out (no 429 that the
    real buyer would see), nor flood their inbox (nothing is sent over 5 an hour)."""
    limited = settings.model_copy(update={"rate_limits": "on"})
    with TestClient(create_app(limited, db=db, storage=storage)) as client:
        answers = []
        for _ in range(7):
            token = csrf_of(client, "/login")
            response = client.post("/login", data={"email": "ada@example.com", "csrf_token": token})
            answers.append((response.status_code, response.text.replace(token, "T")))
    assert [status for status, _ in answers] == [200] * 7
    assert {text for _, text in answers} == {answers[0][1]}
    assert count_messages(db, "login") == 5


def test_requests_for_links_are_rate_limited_per_client(
    settings: Settings, db: Database, storage: Storage
) -> None:
    limited = settings.model_copy(update={"rate_limits": "on"})
    with TestClient(create_app(limited, db=db, storage=storage)) as client:
        token = csrf_of(client, "/login")
        statuses = [
            client.post(
                "/login", data={"email": f"buyer{i}@example.com", "csrf_token": token}
            ).status_code
            for i in range(11)
        ]
    assert statuses == [200] * 10 + [429]


def test_sign_in_requests_from_one_ipv6_64_count_together(
    settings: Settings, db: Database, storage: Storage
) -> None:
    limited = settings.model_copy(update={"rate_limits": "on", "trusted_proxies": "10.0.0.0/8"})
    app = create_app(limited, db=db, storage=storage)
    with TestClient(app, client=("10.0.0.2", 40000)) as client:

        def ask(address: str, number: int) -> int:
            return client.post(
                "/login",
                data={"email": f"ada{number}@example.com", "csrf_token": csrf_of(client, "/login")},
                headers={"X-Forwarded-For": address},
            ).status_code

        statuses = [ask(f"2001:db8:7:7::{number + 1:x}", number) for number in range(11)]
        assert statuses == [200] * 10 + [429]
        assert ask("2001:db8:7:8::1", 11) == 200  # another customer's /64


def test_the_session_cookie_is_signed_httponly_and_lax(
    client: TestClient, db: Database, buyer: str
) -> None:
    sign_in(client, db, "ada@example.com")
    cookie = client.cookies.get("shipkey_session")
    assert cookie is not None
    response = client.post(
        "/logout", data={"csrf_token": csrf_of(client, "/purchases")}, follow_redirects=False
    )
    assert response.status_code == 303
    header = response.headers["set-cookie"]
    assert "HttpOnly" in header
    assert "samesite=lax" in header.lower()
    assert "Secure" not in header  # plain http here
    # Signed out: the purchases page asks to sign in again.
    assert client.get("/purchases", follow_redirects=False).status_code == 303

    tampered = TestClient(client.app, cookies={"shipkey_session": cookie[:-3] + "abc"})
    assert tampered.get("/purchases", follow_redirects=False).status_code == 303


def test_the_cookie_is_secure_behind_https(
    settings: Settings, db: Database, storage: Storage
) -> None:
    secure = settings.model_copy(update={"base_url": "https://shop.example.com"})
    with TestClient(create_app(secure, db=db, storage=storage)) as client:
        header = client.get("/login").headers["set-cookie"]
    assert "Secure" in header
    assert "HttpOnly" in header


def test_after_the_link_the_buyer_lands_on_the_page_they_asked_for(
    client: TestClient, db: Database, buyer: str
) -> None:
    asked = client.get(f"/purchases/{buyer}")
    assert asked.url.path == "/login"
    form = client.post(
        "/login",
        data={
            "email": "ada@example.com",
            "next": f"/purchases/{buyer}",
            "csrf_token": csrf(asked.text),
        },
    )
    assert form.status_code == 200
    link = last_login_token(db, "ada@example.com")
    page = client.get(f"/login/{link}")
    used = client.post(
        f"/login/{link}", data={"csrf_token": csrf(page.text)}, follow_redirects=False
    )
    assert used.headers["location"] == f"/purchases/{buyer}"
