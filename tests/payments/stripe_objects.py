"""Stripe objects and signed events for tests, built from Stripe's own fixtures (``fixtures/``).

Each builder starts from the real object shape and sets only the fields a case needs.
"""

from __future__ import annotations

import copy
import json
import secrets
import time
from functools import cache
from pathlib import Path
from typing import Any

import stripe
from fastapi.testclient import TestClient
from httpx2 import Response

from shipkey.payments.webhooks import StripeEvent, parse

FIXTURES = Path(__file__).parent / "fixtures"
WEBHOOK_SECRET = "whsec_test_0123456789abcdefghijklmnopqrstuv"
API_KEY = "sk_test_shipkey_suite"
BUYER = "buyer@example.com"
WEBHOOK_PATH = "/api/webhooks/stripe"


@cache
def _fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def fixture(name: str) -> dict[str, Any]:
    return copy.deepcopy(_fixture(name))


def new_id(prefix: str) -> str:
    return f"{prefix}_test_{secrets.token_hex(12)}"


def checkout_session(
    *,
    purchase_id: str | None = None,
    product: str | None = None,
    email: str | None = BUYER,
    payment_status: str = "paid",
    session_id: str | None = None,
    payment_intent: str | None = None,
    subscription: str | None = None,
    amount_total: int | None = 1900,
    currency: str = "eur",
    locale: str | None = None,
    client_reference_id: str | None = None,
) -> dict[str, Any]:
    obj = fixture("checkout_session")
    metadata: dict[str, str] = {}
    if purchase_id:
        metadata["purchaseId"] = purchase_id
    if product:
        metadata["product"] = product
    obj.update(
        id=session_id or new_id("cs"),
        metadata=metadata,
        client_reference_id=client_reference_id,
        status="complete",
        payment_status=payment_status,
        payment_intent=payment_intent if payment_intent is not None else new_id("pi"),
        subscription=subscription,
        mode="subscription" if subscription else "payment",
        amount_total=amount_total,
        amount_subtotal=amount_total,
        currency=currency,
        locale=locale,
        customer_email=None,
    )
    obj["customer_details"]["email"] = email
    return obj


def charge(payment_intent: str, *, amount: int = 1900, refunded_amount: int = 0) -> dict[str, Any]:
    obj = fixture("charge")
    obj.update(
        id=new_id("ch"),
        payment_intent=payment_intent,
        amount=amount,
        amount_captured=amount,
        amount_refunded=refunded_amount,
        refunded=refunded_amount >= amount,
        currency="eur",
    )
    return obj


def dispute(
    payment_intent: str, *, status: str = "needs_response", dispute_id: str | None = None
) -> dict[str, Any]:
    obj = fixture("dispute")
    obj.update(id=dispute_id or new_id("dp"), payment_intent=payment_intent, status=status)
    return obj


def payment_intent(intent_id: str, *, metadata: dict[str, str] | None = None) -> dict[str, Any]:
    obj = fixture("payment_intent")
    obj.update(id=intent_id, status="succeeded", metadata=metadata or {}, amount_received=1900)
    return obj


def invoice(
    subscription_id: str, period_end: int, *, metadata: dict[str, str] | None = None
) -> dict[str, Any]:
    obj = fixture("invoice")
    obj.update(
        id=new_id("in"), status="paid", billing_reason="subscription_cycle", subscription=None
    )
    obj["parent"] = {
        "quote_details": None,
        "subscription_details": {"metadata": metadata or {}, "subscription": subscription_id},
        "type": "subscription_details",
    }
    line = obj["lines"]["data"][0]
    line["period"] = {"start": period_end - 30 * 86400, "end": period_end}
    return obj


def subscription(
    subscription_id: str, *, ended_at: int | None = None, metadata: dict[str, str] | None = None
) -> dict[str, Any]:
    obj = fixture("subscription")
    obj.update(
        id=subscription_id,
        status="canceled",
        ended_at=ended_at,
        canceled_at=ended_at,
        metadata=metadata or {},
    )
    return obj


def event(event_type: str, obj: dict[str, Any], *, event_id: str | None = None) -> dict[str, Any]:
    """An event around ``obj``, shaped as Stripe's (``fixtures/event.json``)."""
    wrapper = fixture("event")
    wrapper.update(
        id=event_id or new_id("evt"),
        type=event_type,
        created=int(time.time()),
        data={"object": obj},
        api_version="2025-10-29.clover",
        pending_webhooks=1,
    )
    return wrapper


def body_of(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, indent=2).encode()


def parsed(payload: dict[str, Any]) -> StripeEvent:
    """The event as the webhook hands it on once verified."""
    return parse(body_of(payload).decode())


def sign(body: bytes, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header Stripe would send for ``body``."""
    header: str = stripe.WebhookSignature.generate_signature_header(
        body.decode(), secret, timestamp=timestamp
    )
    return header


def post_event(client: TestClient, payload: dict[str, Any]) -> Response:
    body = body_of(payload)
    return client.post(
        WEBHOOK_PATH,
        content=body,
        headers={"Stripe-Signature": sign(body), "Content-Type": "application/json"},
    )


def deliver(client: TestClient, payload: dict[str, Any]) -> dict[str, Any]:
    """Post an event and expect Stripe's happy path: 200."""
    response = post_event(client, payload)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def early_fraud_warning(
    payment_intent: str, *, charge_id: str | None = None, actionable: bool = True
) -> dict[str, Any]:
    """A ``radar.early_fraud_warning``, shaped as Stripe's API reference shows it."""
    return {
        "id": new_id("issfr"),
        "object": "radar.early_fraud_warning",
        "actionable": actionable,
        "charge": charge_id or new_id("ch"),
        "created": int(time.time()),
        "fraud_type": "made_with_stolen_card",
        "livemode": False,
        "payment_intent": payment_intent,
    }
