"""Sessions are kept on the server: signing out ends one for good (a copied cookie no longer
works), revoking an admin token ends the sessions opened with it, and only the hash of a
session's id is stored."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from shipkey.admin import service as tokens
from shipkey.app import create_app
from shipkey.clock import utcnow
from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.ids import hash_token
from shipkey.storage import Storage
from shipkey.web.models import WebSignIn
from shipkey.web.session import COOKIE
from tests.admin_ui.helpers import admin_sign_in
from tests.factories import create_product, create_purchase
from tests.portal.helpers import csrf, csrf_of, last_login_token, sign_in


@pytest.fixture
def buyer(admin: TestClient) -> str:
    product = create_product(admin, name="Book", slug="book")
    purchase_id: str = create_purchase(admin, product["slug"], email="ada@example.com")["id"]
    return purchase_id


def _copy(client: TestClient) -> TestClient:
    """Another browser with a copy of the client's cookie."""
    cookie = client.cookies.get(COOKIE)
    assert cookie is not None
    return TestClient(client.app, cookies={COOKIE: cookie})


def _sign_out(client: TestClient, path: str, page: str) -> None:
    response = client.post(path, data={"csrf_token": csrf_of(client, page)}, follow_redirects=False)
    assert response.status_code == 303


def _count(db: Database) -> int:
    with db.read_session() as session:
        return session.scalar(select(func.count()).select_from(WebSignIn)) or 0


def test_a_copied_buyer_cookie_no_longer_works_after_sign_out(
    client: TestClient, db: Database, buyer: str
) -> None:
    sign_in(client, db, "ada@example.com")
    copy = _copy(client)
    assert copy.get(f"/purchases/{buyer}").status_code == 200
    _sign_out(client, "/logout", "/purchases")
    gone = copy.get(f"/purchases/{buyer}")
    assert gone.url.path == "/login"
    assert "ada@example.com" not in gone.text
    assert copy.get("/purchases", follow_redirects=False).status_code == 303


def test_a_copied_seller_cookie_no_longer_works_after_sign_out(client: TestClient) -> None:
    admin_sign_in(client)
    copy = _copy(client)
    assert copy.get("/admin").status_code == 200
    _sign_out(client, "/admin/logout", "/admin")
    assert copy.get("/admin").url.path == "/admin/login"
    assert client.get("/admin").url.path == "/admin/login"


def test_revoking_the_admin_token_ends_the_sessions_opened_with_it(
    app: object, db: Database
) -> None:
    with db.session() as session:
        laptop, raw = tokens.create_token(session, "laptop")
        _phone, other = tokens.create_token(session, "phone")
    with (
        TestClient(app) as one,  # type: ignore[arg-type]
        TestClient(app) as two,  # type: ignore[arg-type]
        TestClient(app) as three,  # type: ignore[arg-type]
    ):
        admin_sign_in(one, raw)
        admin_sign_in(two, raw)
        admin_sign_in(three, other)
        with db.session() as session:
            assert tokens.revoke_token(session, laptop.id)
        assert one.get("/admin").url.path == "/admin/login"
        assert two.get("/admin").url.path == "/admin/login"
        assert three.get("/admin").status_code == 200
        assert three.get("/admin").url.path == "/admin"


def test_a_seller_signed_in_by_mail_signs_out_for_good(
    settings: Settings, db: Database, storage: Storage
) -> None:
    configured = settings.model_copy(update={"admin_email": "seller@example.com"})
    with TestClient(create_app(configured, db=db, storage=storage)) as client:
        client.post(
            "/admin/login/email",
            data={"email": "seller@example.com", "csrf_token": csrf_of(client, "/admin/login")},
        )
        link = last_login_token(db, "seller@example.com")
        confirm = client.get(f"/login/{link}")
        client.post(f"/login/{link}", data={"csrf_token": csrf(confirm.text)})
        copy = _copy(client)
        assert copy.get("/admin").url.path == "/admin"
        _sign_out(client, "/admin/logout", "/admin")
        assert copy.get("/admin").url.path == "/admin/login"


def test_only_the_hash_of_the_session_id_is_stored(
    client: TestClient, db: Database, buyer: str
) -> None:
    sign_in(client, db, "ada@example.com")
    with db.read_session() as session:
        row = session.scalars(select(WebSignIn)).one()
        cookie = client.cookies.get(COOKIE) or ""
        assert row.id_hash not in cookie
        assert len(row.id_hash) == 64
        assert row.name == "ada@example.com"
        assert row.expires_at - row.created_at == timedelta(days=14)


def test_a_session_past_its_lifetime_is_over_and_cleaned_up(
    client: TestClient, db: Database, buyer: str
) -> None:
    sign_in(client, db, "ada@example.com")
    with db.session() as session:
        row = session.scalars(select(WebSignIn)).one()
        row.expires_at = utcnow() - timedelta(seconds=1)
    assert client.get("/purchases", follow_redirects=False).status_code == 303
    # The next sign-in (anyone's) deletes sessions that are over.
    with TestClient(client.app) as other:
        admin_sign_in(other)
    with db.read_session() as session:
        assert session.scalars(select(WebSignIn.kind)).all() == ["ADMIN"]


def test_a_made_up_session_id_signs_nobody_in(client: TestClient, db: Database) -> None:
    with db.session() as session:
        assert session.get(WebSignIn, hash_token("nope")) is None
    assert client.get("/admin", follow_redirects=False).status_code == 303
    assert _count(db) == 0
