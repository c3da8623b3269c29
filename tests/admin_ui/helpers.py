"""Signing the seller in through the admin pages, and reading what the pages changed."""

from __future__ import annotations

from fastapi.testclient import TestClient

from shipkey.db.engine import Database
from shipkey.orders.models import Purchase
from tests.conftest import ADMIN_TOKEN
from tests.portal.helpers import csrf_of


def admin_sign_in(client: TestClient, token: str = ADMIN_TOKEN) -> str:
    """Sign in with an admin token; returns the session's CSRF token."""
    csrf = csrf_of(client, "/admin/login")
    response = client.post(
        "/admin/login", data={"token": token, "csrf_token": csrf}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    return csrf_of(client, "/admin")


def load_purchase(db: Database, purchase_id: str) -> Purchase:
    with db.read_session() as session:
        purchase = session.get(Purchase, purchase_id)
        assert purchase is not None
        return purchase
