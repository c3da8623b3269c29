"""Signing the seller in: an admin token (counted when wrong) or a link to SHIPKEY_ADMIN_EMAIL."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from shipkey.admin import service as tokens
from shipkey.app import create_app
from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.mail.models import MailMessage
from shipkey.storage import Storage
from tests.admin_ui.helpers import admin_sign_in
from tests.portal.helpers import csrf, csrf_of, last_login_token


def test_a_wrong_admin_token_is_refused(client: TestClient) -> None:
    token = csrf_of(client, "/admin/login")
    response = client.post("/admin/login", data={"token": "sk_admin_nope", "csrf_token": token})
    assert response.status_code == 401
    assert "not valid" in response.text


def test_a_created_admin_token_signs_in(client: TestClient, db: Database) -> None:
    with db.session() as session:
        _row, raw = tokens.create_token(session, "laptop")
    admin_sign_in(client, raw)
    assert client.get("/admin").status_code == 200


def test_a_sign_in_link_goes_only_to_the_admin_address(
    settings: Settings, db: Database, storage: Storage
) -> None:
    configured = settings.model_copy(update={"admin_email": "Seller@Example.com"})
    with TestClient(create_app(configured, db=db, storage=storage)) as client:
        for address in ["someone@example.com", "seller@example.com"]:
            page = client.post(
                "/admin/login/email",
                data={"email": address, "csrf_token": csrf_of(client, "/admin/login")},
            )
            assert page.status_code == 200
            assert "Check your inbox" in page.text
        with db.read_session() as session:
            sent = session.scalars(select(MailMessage.to_address)).all()
        assert sent == ["seller@example.com"]
        link = last_login_token(db, "seller@example.com")
        confirm = client.get(f"/login/{link}")
        used = client.post(
            f"/login/{link}", data={"csrf_token": csrf(confirm.text)}, follow_redirects=False
        )
        assert used.headers["location"] == "/admin"
        assert client.get("/admin").status_code == 200
        assert client.get("/purchases", follow_redirects=False).status_code == 303


def test_wrong_admin_tokens_are_rate_limited(
    settings: Settings, db: Database, storage: Storage
) -> None:
    limited = settings.model_copy(update={"rate_limits": "on"})
    with TestClient(create_app(limited, db=db, storage=storage)) as client:
        token = csrf_of(client, "/admin/login")
        statuses = [
            client.post("/admin/login", data={"token": "wrong", "csrf_token": token}).status_code
            for _ in range(11)
        ]
    assert statuses == [401] * 10 + [429]


def test_over_the_limit_for_the_admin_address_the_answer_is_the_same_and_nothing_is_sent(
    settings: Settings, db: Database, storage: Storage
) -> None:
    configured = settings.model_copy(
        update={"admin_email": "seller@example.com", "rate_limits": "on"}
    )
    with TestClient(create_app(configured, db=db, storage=storage)) as client:
        answers = []
        for _ in range(7):
            token = csrf_of(client, "/admin/login")
            response = client.post(
                "/admin/login/email", data={"email": "seller@example.com", "csrf_token": token}
            )
            answers.append((response.status_code, response.text.replace(token, "T")))
        with db.read_session() as session:
            sent = session.scalars(select(MailMessage.to_address)).all()
    assert [status for status, _ in answers] == [200] * 7
    assert {text for _, text in answers} == {answers[0][1]}
    assert sent == ["seller@example.com"] * 5
