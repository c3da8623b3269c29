"""Talking to Stripe's API through the ``stripe`` package: Checkout Sessions, refunds (after an
early fraud warning) and dispute evidence.

``SHIPKEY_STRIPE_API_BASE`` points the client elsewhere (stripe-mock, the test suite's fake);
unset, it talks to Stripe with ``SHIPKEY_STRIPE_SECRET_KEY``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from shipkey.config import Settings
from shipkey.errors import ShipkeyError

if TYPE_CHECKING:
    import stripe

NETWORK_RETRIES = 2


class PaymentsNotConfigured(ShipkeyError):
    status_code = 503
    default_code = "PAYMENTS_NOT_CONFIGURED"


class PaymentProviderError(ShipkeyError):
    status_code = 502
    default_code = "PAYMENT_PROVIDER_ERROR"


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    url: str | None
    data: dict[str, Any]


class StripeGateway:
    def __init__(self, settings: Settings) -> None:
        if settings.stripe_secret_key is None or not settings.stripe_secret_key.get_secret_value():
            raise PaymentsNotConfigured(
                "Payments are not set up: SHIPKEY_STRIPE_SECRET_KEY is missing."
            )
        import stripe  # a large package: loaded when payments are first used

        addresses: dict[str, str | None] = {}
        if settings.stripe_api_base:
            addresses["api"] = settings.stripe_api_base.rstrip("/")
        self._client = stripe.StripeClient(
            settings.stripe_secret_key.get_secret_value(),
            base_addresses=cast(Any, addresses),
            max_network_retries=NETWORK_RETRIES,
        )

    def create_checkout_session(
        self, params: dict[str, Any], idempotency_key: str
    ) -> CheckoutSession:
        import stripe

        try:
            created = self._client.v1.checkout.sessions.create(
                cast(Any, params), {"idempotency_key": idempotency_key}
            )
        except stripe.StripeError as exc:
            raise _provider_error(exc) from exc
        return _session(created)

    def retrieve_checkout_session(
        self, session_id: str, *, expand: list[str] | None = None
    ) -> CheckoutSession:
        import stripe

        try:
            found = self._client.v1.checkout.sessions.retrieve(
                session_id, cast(Any, {"expand": expand} if expand else {})
            )
        except stripe.InvalidRequestError as exc:
            raise ShipkeyError(
                "No such checkout session.", "CHECKOUT_NOT_FOUND", status_code=404
            ) from exc
        except stripe.StripeError as exc:
            raise _provider_error(exc) from exc
        return _session(found)

    def refund_payment(self, payment_intent: str, idempotency_key: str) -> dict[str, Any]:
        """Refund a payment in full (``POST /v1/refunds``); the refund object."""
        try:
            refund = self._client.v1.refunds.create(
                {"payment_intent": payment_intent, "reason": "fraudulent"},
                {"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as exc:
            raise _provider_error(exc) from exc
        data: dict[str, Any] = refund.to_dict()
        return data

    def attach_dispute_evidence(
        self, dispute_id: str, evidence: dict[str, str], idempotency_key: str
    ) -> dict[str, Any]:
        """Fill in a dispute's evidence without submitting it (``POST /v1/disputes/{id}``)."""
        try:
            dispute = self._client.v1.disputes.update(
                dispute_id,
                cast(Any, {"evidence": evidence, "submit": False}),
                {"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as exc:
            raise _provider_error(exc) from exc
        data: dict[str, Any] = dispute.to_dict()
        return data

    def retrieve_invoice(self, invoice_id: str) -> dict[str, Any]:
        try:
            found = self._client.v1.invoices.retrieve(invoice_id)
        except stripe.StripeError as exc:
            raise _provider_error(exc) from exc
        data: dict[str, Any] = found.to_dict()
        return data


def _session(obj: stripe.checkout.Session) -> CheckoutSession:
    data: dict[str, Any] = obj.to_dict()
    return CheckoutSession(id=obj.id, url=data.get("url"), data=data)


def _provider_error(exc: stripe.StripeError) -> PaymentProviderError:
    message = exc.user_message or "Stripe did not accept the request."
    return PaymentProviderError(f"Stripe: {message}")
