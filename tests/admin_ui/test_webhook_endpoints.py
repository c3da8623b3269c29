"""The seller's webhook pages: create an endpoint (its secret shown), edit, test, see the
delivery log, retry, show the secret again on request, delete."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from shipkey.db.engine import Database
from shipkey.hooks import emit
from shipkey.hooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from tests.portal.helpers import csrf


def _only_endpoint(db: Database) -> WebhookEndpoint:
    with db.read_session() as session:
        [endpoint] = session.query(WebhookEndpoint).all()
        return endpoint


def test_a_seller_manages_an_endpoint_from_the_pages(seller: TestClient, db: Database) -> None:
    page = seller.get("/admin/webhook-endpoints").text
    assert "No endpoints yet." in page
    refused = seller.post(
        "/admin/webhook-endpoints", data={"csrf_token": csrf(page), "url": "ftp://example.com"}
    )
    assert "Enter an http:// or https:// URL with a host." in refused.text

    created = seller.post(
        "/admin/webhook-endpoints",
        data={
            "csrf_token": csrf(page),
            "url": "https://example.com/hook",
            "events": ["license.created", "purchase.completed"],
            "description": "CRM",
        },
    )
    endpoint = _only_endpoint(db)
    assert endpoint.secret in created.text  # shown once at creation
    assert endpoint.events == ["license.created", "purchase.completed"]
    shown = seller.get(f"/admin/webhook-endpoints/{endpoint.id}").text
    assert endpoint.secret not in shown
    again = seller.post(
        f"/admin/webhook-endpoints/{endpoint.id}/secret", data={"csrf_token": csrf(shown)}
    )
    assert endpoint.secret in again.text
    assert seller.post(f"/admin/webhook-endpoints/{endpoint.id}/secret").status_code == 403

    saved = seller.post(
        f"/admin/webhook-endpoints/{endpoint.id}",
        data={"csrf_token": csrf(shown), "url": "https://example.com/other", "enabled": "on"},
    )
    assert "The endpoint was saved." in saved.text
    assert _only_endpoint(db).url == "https://example.com/other"
    assert _only_endpoint(db).events == []

    tested = seller.post(
        f"/admin/webhook-endpoints/{endpoint.id}/test", data={"csrf_token": csrf(shown)}
    )
    assert "A test event is on its way." in tested.text
    assert re.search(r"<code>ping</code>", tested.text)

    with db.session() as session:
        emit(session, "purchase.completed", {"id": "pur_1"})
        delivery = session.query(WebhookDelivery).filter_by(type="purchase.completed").one()
        delivery.status = DeliveryStatus.FAILED
        delivery.last_error = "HTTP 500: boom"
        session.commit()
        delivery_id = delivery.id
    log = seller.get(f"/admin/webhook-endpoints/{endpoint.id}").text
    assert "HTTP 500: boom" in log
    retried = seller.post(
        f"/admin/webhook-deliveries/{delivery_id}/retry", data={"csrf_token": csrf(log)}
    )
    assert "The delivery will be tried again now." in retried.text
    with db.read_session() as session:
        assert session.get(WebhookDelivery, delivery_id).status is DeliveryStatus.PENDING  # type: ignore[union-attr]

    deleted = seller.post(
        f"/admin/webhook-endpoints/{endpoint.id}/delete", data={"csrf_token": csrf(log)}
    )
    assert "The endpoint was deleted." in deleted.text
    assert "No endpoints yet." in deleted.text
