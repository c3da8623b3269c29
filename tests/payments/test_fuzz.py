"""Signed events with random contents: never a 500, and never an event stuck by an error.

Stripe's shapes change between API versions and a Payment Link carries whatever the seller
typed, so every field is read defensively. Whatever arrives either takes effect, waits for its
purchase, is ignored, or fails for good with the seller told — it never crashes the handler.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shipkey.db.engine import Database
from shipkey.payments.effects import HANDLERS
from shipkey.payments.models import EventStatus, WebhookEvent
from tests.payments.helpers import count, event_row, events, software
from tests.payments.stripe_objects import WEBHOOK_PATH, checkout_session, event, new_id, sign

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=300)
    | st.sampled_from(["pixel-forge", "paid", "unpaid", "won", "lost", "de", "buyer@example.com"])
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=3)
    ),
    max_leaves=10,
)
KEYS = [
    "id",
    "metadata",
    "client_reference_id",
    "payment_status",
    "payment_intent",
    "customer_details",
    "customer_email",
    "amount",
    "amount_total",
    "amount_refunded",
    "refunded",
    "currency",
    "locale",
    "status",
    "subscription",
    "parent",
    "lines",
    "ended_at",
    "canceled_at",
]
METADATA = st.fixed_dictionaries(
    {}, optional={"product": JSON | st.just("pixel-forge"), "purchaseId": JSON}
)
OBJECTS = st.dictionaries(st.sampled_from(KEYS), JSON, max_size=8).flatmap(
    lambda obj: METADATA.map(lambda metadata: {**obj, "metadata": metadata})
)
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _applied_or_refused(client: TestClient, db: Database, payload: dict[str, Any]) -> None:
    """200 and the event took a final or waiting state; or 400 for text no database can store
    (NUL, lone surrogates) and nothing recorded."""
    body = json.dumps(payload).encode()
    response = client.post(WEBHOOK_PATH, content=body, headers={"Stripe-Signature": sign(body)})
    if response.status_code == 400:
        assert response.json()["code"] == "INVALID_PAYLOAD"
        assert count(db, WebhookEvent) == 0 or not any(
            row.event_id == payload["id"] for row in events(db)
        )
        return
    assert response.status_code == 200, response.text
    row = event_row(db, payload["id"])
    assert row.status is not EventStatus.RECEIVED, row.error  # no unexpected error


@FUZZ
@given(event_type=st.sampled_from(sorted(HANDLERS)), obj=OBJECTS)
def test_random_objects_never_crash_an_event(
    admin: TestClient, client: TestClient, db: Database, event_type: str, obj: dict[str, Any]
) -> None:
    if admin.get("/api/admin/products/pixel-forge").status_code == 404:
        software(admin)
    _applied_or_refused(client, db, event(event_type, obj))


@FUZZ
@given(changes=st.dictionaries(st.sampled_from(KEYS), JSON, max_size=4))
def test_a_real_session_with_random_fields_never_crashes(
    admin: TestClient, client: TestClient, db: Database, changes: dict[str, Any]
) -> None:
    if admin.get("/api/admin/products/pixel-forge").status_code == 404:
        software(admin)
    obj = {**checkout_session(product="pixel-forge", payment_intent=new_id("pi")), **changes}
    _applied_or_refused(client, db, event("checkout.session.completed", obj))


@FUZZ
@given(body=JSON)
def test_random_signed_bodies_are_refused_or_accepted_never_a_500(
    client: TestClient, body: Any
) -> None:
    raw = json.dumps(body).encode()
    response = client.post(WEBHOOK_PATH, content=raw, headers={"Stripe-Signature": sign(raw)})
    assert response.status_code in (200, 400), response.text
