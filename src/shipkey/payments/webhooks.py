"""Checking what claims to come from Stripe, before anything is stored.

The ``Stripe-Signature`` header is verified with the ``stripe`` package against the raw body
(HMAC-SHA256 under the endpoint secret; timestamps older than 300 s are refused). Then the body
must be a JSON event: an object with an ``id``, a ``type`` and ``data.object``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from shipkey.errors import BadRequest, ShipkeyError

TOLERANCE_SECONDS = 300
MAX_ID_LENGTH = 255


class NotConfigured(ShipkeyError):
    status_code = 503
    default_code = "WEBHOOK_NOT_CONFIGURED"


@dataclass(frozen=True)
class StripeEvent:
    id: str
    type: str
    livemode: bool
    object: dict[str, Any]
    payload: dict[str, Any]


def verify(body: bytes, header: str | None, secret: str | None) -> StripeEvent:
    """The event in ``body``, if Stripe signed it; 400 ``INVALID_SIGNATURE`` or
    ``INVALID_PAYLOAD`` otherwise, 503 when no webhook secret is configured."""
    if not secret:
        raise NotConfigured("SHIPKEY_STRIPE_WEBHOOK_SECRET is not set; Stripe events are refused.")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest("The body is not UTF-8 text.", "INVALID_PAYLOAD") from exc
    import stripe  # a large package: loaded with the first event, not with the app

    try:
        stripe.WebhookSignature.verify_header(text, header, secret, TOLERANCE_SECONDS)
    except stripe.SignatureVerificationError as exc:
        raise BadRequest(
            "The Stripe-Signature header does not match this body, or it is too old.",
            "INVALID_SIGNATURE",
        ) from exc
    return parse(text)


def parse(text: str) -> StripeEvent:
    """A Stripe event from its JSON (the body, decoded from UTF-8); 400 ``INVALID_PAYLOAD``
    when it is not one."""
    invalid = BadRequest("The body is not a Stripe event.", "INVALID_PAYLOAD")
    try:
        payload = json.loads(text, parse_constant=_not_json)
    except (ValueError, RecursionError) as exc:
        raise invalid from exc
    if not isinstance(payload, dict) or ("\\u" in text and _unstorable(payload)):
        raise invalid
    event_id, event_type, data = payload.get("id"), payload.get("type"), payload.get("data")
    if not isinstance(event_id, str) or not event_id or len(event_id) > MAX_ID_LENGTH:
        raise invalid
    if not isinstance(event_type, str) or not event_type or len(event_type) > 100:
        raise invalid
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise invalid
    return StripeEvent(
        id=event_id,
        type=event_type,
        livemode=payload.get("livemode") is True,
        object=data["object"],
        payload=payload,
    )


def _not_json(constant: str) -> None:
    """``NaN`` and ``Infinity`` are not JSON (Python accepts them; PostgreSQL does not)."""
    raise ValueError(f"{constant} is not JSON")


def _unstorable(value: object) -> bool:
    """Whether any string (key or value) holds U+0000 or a lone surrogate (JSON allows both as
    escapes; no database can store them as text). Only an escape (``\\u…``) can put either
    into decoded UTF-8 text: the decoder refuses a lone surrogate and the JSON parser a raw
    control character, so :func:`parse` looks only when the text has one."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False
