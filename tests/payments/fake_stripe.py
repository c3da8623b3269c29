"""A fake of the part of Stripe's HTTP API shipkey uses, answering with Stripe's object shapes.

It runs on loopback in a thread; the ``stripe`` package talks to it through
``SHIPKEY_STRIPE_API_BASE``, so requests are encoded, sent and decoded exactly as against
Stripe. Implemented: ``POST /v1/checkout/sessions`` (with idempotency keys),
``GET /v1/checkout/sessions/{id}`` (``expand[]=invoice`` too), ``GET /v1/invoices/{id}``,
``POST /v1/refunds`` (with idempotency keys) and ``POST /v1/disputes/{id}`` (evidence). Tests
change a session's state with :meth:`FakeStripe.pay`, which ticks the terms box when the
session asked for it and makes an invoice when it asked for one, as Checkout does.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from pydantic import SecretStr

from tests.payments.stripe_objects import API_KEY, WEBHOOK_SECRET, fixture, new_id

_KEY = re.compile(r"[^\[\]]+")


def unflatten(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding (``line_items[0][price_data][currency]=eur``) back to objects;
    numeric keys become lists."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = _KEY.findall(key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value

    def listify(value: Any) -> Any:
        if isinstance(value, dict):
            items = {k: listify(v) for k, v in value.items()}
            if items and all(k.isdigit() for k in items):
                return [items[k] for k in sorted(items, key=int)]
            return items
        return value

    result: dict[str, Any] = listify(root)
    return result


class FakeStripe:
    def __init__(self) -> None:
        self.sessions: dict[str, dict[str, Any]] = {}
        self.invoices: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, dict[str, Any]]] = []
        self.by_idempotency_key: dict[str, str] = {}
        self.failures: list[int] = []
        """Statuses to answer the next requests with, one each (Stripe having a bad day)."""
        self.idempotency_keys: list[str | None] = []
        self.refunds: list[dict[str, Any]] = []
        """The parameters of every refund created (one per idempotency key)."""
        self.refunds_by_key: dict[str, dict[str, Any]] = {}
        self.disputes: dict[str, dict[str, Any]] = {}
        self.dispute_updates: list[tuple[str, dict[str, Any]]] = []
        """(dispute id, parameters) of every ``POST /v1/disputes/{id}``."""
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

            def do_POST(self) -> None:  # noqa: N802
                fake._handle(self, "POST")

            def do_GET(self) -> None:  # noqa: N802
                fake._handle(self, "GET")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    # --- what tests do --------------------------------------------------------------------

    def pay(
        self,
        session_id: str,
        *,
        email: str = "buyer@example.com",
        payment_status: str = "paid",
        locale: str | None = None,
    ) -> dict[str, Any]:
        """The buyer finished Checkout: the session is complete (paid, or unpaid for SEPA)."""
        with self._lock:
            session = self.sessions[session_id]
            session.update(status="complete", payment_status=payment_status)
            if (session.get("consent_collection") or {}).get("terms_of_service") == "required":
                session["consent"] = {"promotions": None, "terms_of_service": "accepted"}
            if (session.get("invoice_creation") or {}).get("enabled") is True:
                invoice = fixture("invoice")
                invoice_id = new_id("in")
                invoice.update(
                    id=invoice_id,
                    hosted_invoice_url=f"https://invoice.stripe.com/i/{invoice_id}",
                    invoice_pdf=f"https://pay.stripe.com/invoice/{invoice_id}/pdf",
                )
                self.invoices[invoice_id] = invoice
                session["invoice"] = invoice_id
            session["customer_details"]["email"] = email
            if locale:
                session["locale"] = locale
            if session["mode"] == "subscription":
                session["subscription"] = new_id("sub")
            else:
                session["payment_intent"] = new_id("pi")
            return dict(session)

    def created(self) -> list[dict[str, Any]]:
        return [params for method, path, params in self.requests if method == "POST"]

    # --- the API --------------------------------------------------------------------------

    def _handle(self, request: BaseHTTPRequestHandler, method: str) -> None:
        if request.headers.get("Authorization") != f"Bearer {API_KEY}":
            self._send(request, 401, _error("authentication_error", "Invalid API Key provided."))
            return
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length).decode() if length else ""
        params = unflatten(parse_qsl(raw, keep_blank_values=True))
        path, _sep, query = request.path.partition("?")
        expand = [value for key, value in parse_qsl(query) if key.startswith("expand")]
        with self._lock:
            self.requests.append((method, path, params))
            self.idempotency_keys.append(request.headers.get("Idempotency-Key"))
            if self.failures:
                status = self.failures.pop(0)
                self._send(request, status, _error("api_error", "Something went wrong."))
                return
            if method == "POST" and path == "/v1/checkout/sessions":
                key = request.headers.get("Idempotency-Key")
                existing = self.by_idempotency_key.get(key) if key else None
                session = self.sessions[existing] if existing else self._create(params)
                if key:
                    self.by_idempotency_key[key] = session["id"]
                self._send(request, 200, session)
                return
            match = re.fullmatch(r"/v1/checkout/sessions/([^/]+)", path)
            if method == "GET" and match:
                found = self.sessions.get(match.group(1))
                if found is None:
                    self._send(
                        request,
                        404,
                        _error(
                            "invalid_request_error",
                            f"No such checkout.session: '{match.group(1)}'",
                            code="resource_missing",
                        ),
                    )
                    return
                answer = dict(found)
                if "invoice" in expand and isinstance(found.get("invoice"), str):
                    answer["invoice"] = self.invoices[found["invoice"]]
                self._send(request, 200, answer)
                return
            match = re.fullmatch(r"/v1/invoices/([^/]+)", path)
            if method == "GET" and match and match.group(1) in self.invoices:
                self._send(request, 200, self.invoices[match.group(1)])
                return
            if method == "POST" and path == "/v1/refunds":
                self._send(
                    request, 200, self._refund(params, request.headers.get("Idempotency-Key"))
                )
                return
            match = re.fullmatch(r"/v1/disputes/([^/]+)", path)
            if method == "POST" and match:
                self._send(request, 200, self._update_dispute(match.group(1), params))
                return
        self._send(request, 404, _error("invalid_request_error", f"Unrecognized URL {path}"))

    def _create(self, params: dict[str, Any]) -> dict[str, Any]:
        session = fixture("checkout_session")
        session_id = new_id("cs")
        amount = sum(
            int(line.get("price_data", {}).get("unit_amount", 0)) for line in params["line_items"]
        )
        currency = params["line_items"][0].get("price_data", {}).get("currency", "eur")
        session.update(
            id=session_id,
            url=f"https://checkout.stripe.com/c/pay/{session_id}",
            mode=params.get("mode", "payment"),
            metadata=params.get("metadata", {}),
            client_reference_id=params.get("client_reference_id"),
            customer_email=params.get("customer_email"),
            success_url=params["success_url"].replace("{CHECKOUT_SESSION_ID}", session_id),
            cancel_url=params.get("cancel_url"),
            locale=params.get("locale"),
            status="open",
            payment_status="unpaid",
            payment_intent=None,
            subscription=None,
            amount_total=amount,
            amount_subtotal=amount,
            currency=currency,
            consent=None,
            consent_collection=params.get("consent_collection"),
            custom_text=params.get("custom_text") or {},
            automatic_tax={"enabled": params.get("automatic_tax", {}).get("enabled") == "true"},
            tax_id_collection={
                "enabled": params.get("tax_id_collection", {}).get("enabled") == "true"
            },
            invoice_creation={
                "enabled": params.get("invoice_creation", {}).get("enabled") == "true"
            },
            invoice=None,
        )
        session["customer_details"]["email"] = params.get("customer_email")
        self.sessions[session_id] = session
        return session

    def _refund(self, params: dict[str, Any], key: str | None) -> dict[str, Any]:
        existing = self.refunds_by_key.get(key) if key else None
        if existing is not None:
            return existing
        refund = fixture("refund")
        refund.update(
            id=new_id("re"),
            payment_intent=params.get("payment_intent"),
            reason=params.get("reason"),
            status="succeeded",
        )
        self.refunds.append(params)
        if key:
            self.refunds_by_key[key] = refund
        return refund

    def _update_dispute(self, dispute_id: str, params: dict[str, Any]) -> dict[str, Any]:
        dispute = self.disputes.get(dispute_id) or {**fixture("dispute"), "id": dispute_id}
        dispute["evidence"] = {**dispute["evidence"], **params.get("evidence", {})}
        self.disputes[dispute_id] = dispute
        self.dispute_updates.append((dispute_id, params))
        return dispute

    @staticmethod
    def _send(request: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        request.send_header("Request-Id", new_id("req"))
        request.end_headers()
        request.wfile.write(data)


def _error(kind: str, message: str, code: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"type": kind, "message": message}
    if code:
        error["code"] = code
    return {"error": error}


def stripe_settings(fake: FakeStripe) -> dict[str, Any]:
    """Settings that send shipkey's Stripe calls to ``fake`` and accept its signed events."""
    return {
        "stripe_secret_key": SecretStr(API_KEY),
        "stripe_webhook_secret": SecretStr(WEBHOOK_SECRET),
        "stripe_api_base": fake.url,
    }
