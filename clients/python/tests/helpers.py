"""Test doubles written from the API contract, independently of the package under test."""

from __future__ import annotations

import base64
import json
import textwrap
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
MACHINE = "machine-1"
KEY = "EBO-ABCDE-FGHJK-LMNPQ-RSTUV-1A2B"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def payload_dict(**changes: Any) -> dict[str, Any]:
    """A license file payload with the contract's field names."""
    payload: dict[str, Any] = {
        "licenseKey": KEY,
        "product": "e-book-pro",
        "machineId": MACHINE,
        "features": ["export", "sync"],
        "licenseExpiresAt": iso(NOW + timedelta(days=365)),
        "issuedAt": iso(NOW),
        "expiresAt": iso(NOW + timedelta(days=30)),
    }
    payload.update(changes)
    return payload


def armour(outer: dict[str, Any]) -> str:
    body = b64(json.dumps(outer).encode("utf-8"))
    lines = textwrap.wrap(body, 64)
    return (
        "\n".join(
            ["-----BEGIN SHIPKEY LICENSE FILE-----", *lines, "-----END SHIPKEY LICENSE FILE-----"]
        )
        + "\n"
    )


@dataclass
class Signer:
    """A server signing key: signs payloads into armoured license files."""

    kid: str = "20261128-0a1b2c3d"
    private_key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)

    @property
    def public_key_b64(self) -> str:
        raw = self.private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return b64(raw)

    def public_keys(self) -> dict[str, str]:
        return {self.kid: self.public_key_b64}

    def envelope(self, payload: dict[str, Any] | bytes) -> dict[str, Any]:
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode("utf-8")
        enc = b64(raw)
        sig = b64(self.private_key.sign(b"license/" + enc.encode("ascii")))
        return {"enc": enc, "sig": sig, "alg": "base64+ed25519", "kid": self.kid}

    def sign(self, payload: dict[str, Any] | bytes) -> str:
        return armour(self.envelope(payload))


class Clock:
    """A settable clock for the client."""

    def __init__(self, moment: datetime = NOW) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, delta: timedelta) -> None:
        self.moment += delta


@dataclass
class FakeLicense:
    key: str
    status: str = "ACTIVE"
    max_activations: int = 2
    machines: dict[str, str | None] = field(default_factory=dict)
    expires_at: datetime | None = NOW + timedelta(days=365)
    features: list[str] = field(default_factory=lambda: ["export", "sync"])
    product: str = "e-book-pro"


def error(status: int, code: str, message: str, **extra: Any) -> httpx.Response:
    return httpx.Response(status, json={"error": message, "code": code, **extra})


@dataclass
class FakeServer:
    """Imitates the shipkey license endpoints of the public contract."""

    signer: Signer = field(default_factory=Signer)
    extra_signers: list[Signer] = field(default_factory=list)
    licenses: dict[str, FakeLicense] = field(default_factory=dict)
    clock: Clock = field(default_factory=Clock)
    requests: list[httpx.Request] = field(default_factory=list)
    rate_limited: bool = False
    offline: bool = False
    file_days: int = 7
    ignore_product: bool = False
    """Imitates an older server that does not check the product a request names."""

    def add_license(self, key: str = KEY, **fields: Any) -> FakeLicense:
        license_ = FakeLicense(key=key, **fields)
        self.licenses[key] = license_
        return license_

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self.handle))

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.offline:
            raise httpx.ConnectError("network is unreachable", request=request)
        self.requests.append(request)
        if self.rate_limited:
            return httpx.Response(
                429,
                json={"error": "Too many requests", "code": "RATE_LIMITED"},
                headers={"Retry-After": "30"},
            )
        route = (request.method, request.url.path)
        if route == ("POST", "/api/licenses/activate"):
            return self.activate(json.loads(request.content))
        if route == ("DELETE", "/api/licenses/activate"):
            return self.deactivate(request.url.params)
        if route == ("POST", "/api/licenses/validate"):
            return self.validate(json.loads(request.content))
        if route == ("GET", "/api/licenses/public-keys"):
            return self.public_keys()
        return error(404, "NOT_FOUND", "Not found")

    def license_json(self, license_: FakeLicense) -> dict[str, Any]:
        return {
            "productName": "E-Book Pro",
            "licenseType": "SUBSCRIPTION",
            "status": license_.status,
            "expiresAt": None if license_.expires_at is None else iso(license_.expires_at),
            "features": license_.features,
            "activations": len(license_.machines),
            "maxActivations": license_.max_activations,
        }

    def license_file(self, license_: FakeLicense, machine_id: str) -> str:
        now = self.clock()
        return self.signer.sign(
            payload_dict(
                licenseKey=license_.key,
                product=license_.product,
                machineId=machine_id,
                features=license_.features,
                licenseExpiresAt=None if license_.expires_at is None else iso(license_.expires_at),
                issuedAt=iso(now),
                expiresAt=iso(now + timedelta(days=self.file_days)),
            )
        )

    def activate(self, body: dict[str, Any]) -> httpx.Response:
        key = str(body.get("licenseKey", ""))
        machine_id = body.get("machineId")
        if not key.startswith("EBO-") or not isinstance(machine_id, str):
            return error(400, "INVALID_KEY_FORMAT", "Invalid license key format")
        license_ = self.licenses.get(key)
        if license_ is None:
            return error(404, "LICENSE_NOT_FOUND", "License not found")
        if not self.ignore_product and body.get("product", license_.product) != license_.product:
            return error(403, "PRODUCT_MISMATCH", "This license key is for another product.")
        if license_.status != "ACTIVE":
            return error(403, f"LICENSE_{license_.status}", f"License is {license_.status.lower()}")
        if machine_id in license_.machines:
            message = "Already activated"
        elif len(license_.machines) >= license_.max_activations:
            return error(
                403,
                "TOO_MANY_ACTIVATIONS",
                "Maximum activations reached",
                maxActivations=license_.max_activations,
                currentActivations=len(license_.machines),
            )
        else:
            license_.machines[machine_id] = body.get("machineName")
            message = "License activated"
        return httpx.Response(
            200,
            json={
                "success": True,
                "message": message,
                "license": self.license_json(license_),
                "licenseFile": self.license_file(license_, machine_id),
            },
        )

    def deactivate(self, params: httpx.QueryParams) -> httpx.Response:
        key, machine_id = params.get("key"), params.get("machineId")
        if not key or not machine_id:
            return error(400, "MISSING_PARAMETERS", "key and machineId are required")
        license_ = self.licenses.get(key)
        if license_ is None:
            return error(404, "LICENSE_NOT_FOUND", "License not found")
        if machine_id not in license_.machines:
            return error(404, "ACTIVATION_NOT_FOUND", "Activation not found")
        del license_.machines[machine_id]
        return httpx.Response(200, json={"success": True, "message": "Deactivated"})

    def validate(self, body: dict[str, Any]) -> httpx.Response:
        key = str(body.get("licenseKey", ""))
        if not key.startswith("EBO-"):
            return httpx.Response(
                200, json={"valid": False, "code": "INVALID_FORMAT", "license": None}
            )
        license_ = self.licenses.get(key)
        if license_ is None:
            return httpx.Response(200, json={"valid": False, "code": "NOT_FOUND", "license": None})
        if body.get("product", license_.product) != license_.product:
            return httpx.Response(
                200, json={"valid": False, "code": "PRODUCT_MISMATCH", "license": None}
            )
        code = "VALID" if license_.status == "ACTIVE" else license_.status
        machine_id = body.get("machineId")
        if code == "VALID" and machine_id is not None and machine_id not in license_.machines:
            code = "NOT_ACTIVATED"
        return httpx.Response(
            200,
            json={"valid": code == "VALID", "code": code, "license": self.license_json(license_)},
        )

    def public_keys(self) -> httpx.Response:
        keys = [
            {"kid": signer.kid, "alg": "Ed25519", "publicKey": signer.public_key_b64}
            for signer in (self.signer, *self.extra_signers)
        ]
        keys.append({"kid": "future-1", "alg": "ML-DSA-65", "publicKey": "AAAA"})
        return httpx.Response(200, json={"keys": keys})
