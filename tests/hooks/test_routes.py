"""The admin API for seller webhooks: endpoints, secrets, tests, the delivery log, retries."""

from __future__ import annotations

import base64

import pytest
from fastapi.testclient import TestClient

from shipkey.db.engine import Database
from shipkey.hooks.models import DeliveryStatus, WebhookDelivery
from shipkey.hooks.outbox import EVENT_TYPES
from shipkey.jobs.worker import Worker
from tests.hooks.helpers import delivery, event
from tests.hooks.receiver import Behaviour, Receiver
from tests.jobs.helpers import Clock

BASE = "/api/admin/webhook-endpoints"


def _create(admin: TestClient, url: str, **fields: object) -> dict[str, object]:
    response = admin.post(BASE, json={"url": url, **fields})
    assert response.status_code == 201, response.text
    made: dict[str, object] = response.json()
    return made


def test_the_schema_lists_every_event_type_the_contract_names() -> None:
    assert set(EVENT_TYPES) == {
        *(f"purchase.{t}" for t in ("completed", "refunded", "disputed")),
        *(f"license.{t}" for t in ("created", "activated", "deactivated", "suspended")),
        *(f"license.{t}" for t in ("reinstated", "revoked")),
        "access.granted",
        "access.revoked",
        "delivery.failed",
        "risk.flagged",
        "release.published",
        "ping",
    }


def test_an_endpoint_is_created_with_its_secret_shown_once_more_on_request(
    admin: TestClient,
) -> None:
    made = _create(admin, "https://example.com/hook", description="CRM")
    assert set(made) >= {"id", "url", "events", "secret", "enabled", "createdAt"}
    assert made["events"] == []
    assert made["enabled"] is True
    secret = str(made["secret"])
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) >= 24

    listed = admin.get(BASE).json()
    assert [item["id"] for item in listed["items"]] == [made["id"]]
    assert listed["nextCursor"] is None
    assert "secret" not in listed["items"][0]
    one = admin.get(f"{BASE}/{made['id']}").json()
    assert "secret" not in one
    assert one["description"] == "CRM"
    assert admin.get(f"{BASE}/{made['id']}/secret").json() == {"id": made["id"], "secret": secret}


@pytest.mark.parametrize(
    "body",
    [
        {"url": "ftp://example.com/hook"},
        {"url": "not a url"},
        {"url": "https:///nohost"},
        {"url": "https://example.com:99999/"},
        {"url": "https://example.com/hook", "events": ["purchase.exploded"]},
        {"url": "https://example.com/hook", "secret": "whsec_mine"},
        {},
    ],
)
def test_bad_input_is_refused_with_a_clear_error(
    admin: TestClient, body: dict[str, object]
) -> None:
    response = admin.post(BASE, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert response.json()["error"]


def test_unknown_ids_are_404_and_the_api_wants_a_token(
    admin: TestClient, client: TestClient
) -> None:
    for response in (
        admin.get(f"{BASE}/ep_missing"),
        admin.patch(f"{BASE}/ep_missing", json={"enabled": True}),
        admin.delete(f"{BASE}/ep_missing"),
        admin.post(f"{BASE}/ep_missing/test"),
        admin.get(f"{BASE}/ep_missing/deliveries"),
    ):
        assert response.status_code == 404
        assert response.json()["code"] == "ENDPOINT_NOT_FOUND"
    missing = admin.post("/api/admin/webhook-deliveries/whd_missing/retry")
    assert (missing.status_code, missing.json()["code"]) == (404, "DELIVERY_NOT_FOUND")
    assert client.get(BASE).status_code == 401
    assert admin.get(BASE, params={"cursor": "bogus"}).json()["code"] == "INVALID_CURSOR"


def test_patch_changes_url_events_and_enabled_and_delete_removes(admin: TestClient) -> None:
    made = _create(admin, "https://example.com/a")
    changed = admin.patch(
        f"{BASE}/{made['id']}",
        json={"url": "https://example.com/b", "events": ["license.created"], "enabled": False},
    ).json()
    assert (changed["url"], changed["events"], changed["enabled"]) == (
        "https://example.com/b",
        ["license.created"],
        False,
    )
    again = admin.patch(f"{BASE}/{made['id']}", json={"enabled": True}).json()
    assert (again["enabled"], again["failingSince"], again["disabledReason"]) == (True, None, None)
    assert admin.delete(f"{BASE}/{made['id']}").status_code == 204
    assert admin.get(f"{BASE}/{made['id']}").status_code == 404


def test_the_test_button_pings_that_endpoint_only(
    admin: TestClient, worker: Worker, receiver: Receiver
) -> None:
    target = _create(admin, receiver.url + "/target")
    _create(admin, receiver.url + "/other")
    answer = admin.post(f"{BASE}/{target['id']}/test")
    assert answer.status_code == 202, answer.text
    assert answer.json()["type"] == "ping"
    assert answer.json()["status"] == "PENDING"

    worker.run_once()

    [ping] = receiver.at("/target")
    assert ping.verify(str(target["secret"]))["data"]["endpointId"] == target["id"]
    assert receiver.count("/other") == 0
    [item] = admin.get(f"{BASE}/{target['id']}/deliveries").json()["items"]
    assert (item["status"], item["attempts"], item["lastStatusCode"]) == ("DELIVERED", 1, 200)
    assert item["eventId"] == ping.webhook_id
    assert set(item) >= {
        "id",
        "eventId",
        "type",
        "status",
        "attempts",
        "lastStatusCode",
        "lastError",
        "nextAttemptAt",
        "deliveredAt",
    }
    admin.patch(f"{BASE}/{target['id']}", json={"enabled": False})
    refused = admin.post(f"{BASE}/{target['id']}/test")
    assert (refused.status_code, refused.json()["code"]) == (409, "ENDPOINT_DISABLED")


def test_the_delivery_log_is_paged_newest_first(admin: TestClient, db: Database) -> None:
    made = _create(admin, "https://127.0.0.1:9/nowhere")
    ids = [event(db, "purchase.completed", n=n) for n in range(3)]
    first = admin.get(f"{BASE}/{made['id']}/deliveries", params={"limit": 2}).json()
    rest = admin.get(
        f"{BASE}/{made['id']}/deliveries", params={"limit": 2, "cursor": first["nextCursor"]}
    ).json()
    assert [i["eventId"] for i in first["items"] + rest["items"]] == ids[::-1]
    assert rest["nextCursor"] is None


def test_a_failed_delivery_is_retried_now_on_request(
    admin: TestClient, db: Database, worker: Worker, receiver: Receiver, clock: Clock
) -> None:
    receiver.behaviours["/hook"] = Behaviour(fail_first=1, status=500)
    made = _create(admin, receiver.url + "/hook")
    event(db)
    worker.run_once()
    waiting = delivery(db)
    assert (waiting.status, waiting.attempts) == (DeliveryStatus.PENDING, 1)

    answer = admin.post(f"/api/admin/webhook-deliveries/{waiting.id}/retry")
    assert answer.status_code == 200, answer.text
    worker.run_once()  # tried now, not after the scheduled 5 s
    assert delivery(db).status is DeliveryStatus.DELIVERED
    clock.advance(minutes=1)
    worker.run_once()  # the scheduled try finds it delivered
    assert receiver.count("/hook") == 2

    again = admin.post(f"/api/admin/webhook-deliveries/{waiting.id}/retry")
    assert (again.status_code, again.json()["code"]) == (409, "ALREADY_DELIVERED")
    assert made["id"] == delivery(db).endpoint_id


def test_a_failed_delivery_is_tried_once_more_on_request(
    admin: TestClient, db: Database, worker: Worker, receiver: Receiver
) -> None:
    made = _create(admin, receiver.url + "/hook")
    event(db)
    with db.session() as session:
        failed = session.get(WebhookDelivery, delivery(db).id)
        assert failed is not None
        failed.status, failed.attempts = DeliveryStatus.FAILED, 8
        session.commit()

    answer = admin.post(f"/api/admin/webhook-deliveries/{failed.id}/retry")
    assert (answer.status_code, answer.json()["status"]) == (200, "PENDING")
    worker.run_once()

    done = delivery(db)
    assert (done.status, done.attempts) == (DeliveryStatus.DELIVERED, 9)
    [got] = receiver.at("/hook")
    got.verify(str(made["secret"]))
