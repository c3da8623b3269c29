"""Signing in through the pages, for tests that use the TestClient."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from shipkey.db.engine import Database
from shipkey.mail.models import MailMessage

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_LOGIN_LINK = re.compile(r"https?://\S+/login/([A-Za-z0-9_-]+)")


def csrf(page: str) -> str:
    match = _CSRF.search(page)
    assert match is not None, "no CSRF token on the page"
    return match.group(1)


def csrf_of(client: TestClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.text
    return csrf(response.text)


def last_login_token(db: Database, email: str) -> str:
    with db.read_session() as session:
        message = session.scalars(
            select(MailMessage)
            .where(MailMessage.to_address == email, MailMessage.kind == "login")
            .order_by(MailMessage.created_at.desc())
        ).first()
        assert message is not None, f"no sign-in e-mail to {email}"
        match = _LOGIN_LINK.search(message.text_body)
        assert match is not None
        return match.group(1)


def sign_in(client: TestClient, db: Database, email: str) -> None:
    """Ask for a link, then use the one in the e-mail."""
    token = csrf_of(client, "/login")
    response = client.post("/login", data={"email": email, "csrf_token": token})
    assert response.status_code == 200, response.text
    link = last_login_token(db, email)
    page = client.get(f"/login/{link}")
    assert page.status_code == 200, page.text
    used = client.post(
        f"/login/{link}", data={"csrf_token": csrf(page.text)}, follow_redirects=False
    )
    assert used.status_code == 303, used.text
