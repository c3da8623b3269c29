"""Rate limits of the public license API: per client IP and per license key."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from shipkey.app import create_app
from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.errors import ShipkeyError
from shipkey.http.fast_lane import FastLane
from shipkey.licensing import rate_limits
from shipkey.licensing.rate_limits import LicenseRateLimits
from shipkey.storage import Storage
from tests.conftest import ADMIN_TOKEN
from tests.http.test_throttle import REDIS_URL
from tests.licensing.helpers import Response, licensed_key

PER_IP = int(rate_limits.PER_IP.split("/")[0])
PER_KEY = int(rate_limits.PER_KEY.split("/")[0])


@pytest.fixture
def limited_app(settings: Settings, db: Database, storage: Storage) -> FastLane:
    return create_app(settings.model_copy(update={"rate_limits": "on"}), db=db, storage=storage)


@pytest.fixture
def limited(limited_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(limited_app, client=("203.0.113.7", 40000)) as test_client:
        yield test_client


def _validate(client: TestClient, key: str) -> int:
    return client.post("/api/licenses/validate", json={"licenseKey": key}).status_code


def _assert_limited(response: Response) -> None:
    assert response.status_code == 429
    body = response.json()
    assert body["code"] == "RATE_LIMITED"
    assert isinstance(body["error"], str)
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    assert body["retryAfter"] == retry_after


def test_each_key_has_its_own_limit(limited_app: FastAPI, limited: TestClient) -> None:
    with TestClient(
        limited_app, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, client=("10.9.9.9", 1)
    ) as admin:
        key = licensed_key(admin)
    for _ in range(PER_KEY):
        assert _validate(limited, key) == 200
    _assert_limited(limited.post("/api/licenses/validate", json={"licenseKey": key.lower()}))
    _assert_limited(
        limited.post("/api/licenses/activate", json={"licenseKey": key, "machineId": "m"})
    )
    _assert_limited(limited.delete("/api/licenses/activate", params={"key": key, "machineId": "m"}))
    # Another key, from the same address, is still served.
    assert _validate(limited, "OTHER-KEY") == 200


def test_each_address_has_its_own_limit(limited_app: FastAPI, limited: TestClient) -> None:
    for number in range(PER_IP):
        assert _validate(limited, f"KEY-{number}") == 200
    _assert_limited(limited.post("/api/licenses/validate", json={"licenseKey": "KEY-NEW"}))
    _assert_limited(limited.get("/api/licenses/public-keys"))
    with TestClient(limited_app, client=("198.51.100.1", 40000)) as neighbour:
        assert _validate(neighbour, "KEY-0") == 200
    # Neither the rest of the API nor the admin side is limited.
    assert limited.get("/healthz").status_code == 200


def test_limits_counted_in_redis_apply_to_the_routes(
    settings: Settings, db: Database, storage: Storage
) -> None:
    """The routes count off the event loop with Redis (see shipkey.http.throttle): same answers."""
    shared = settings.model_copy(update={"rate_limits": "on", "rate_limit_storage": REDIS_URL})
    app = create_app(shared, db=db, storage=storage)
    run = uuid.uuid4().int  # counts of other runs (same Redis, same minute) never collide
    key = f"REDIS-{run % 10**8}"
    address = f"10.{run % 250}.{run // 250 % 250}.{run // 62500 % 250 + 1}"
    with TestClient(app, client=(address, 40000)) as remote:
        for _ in range(PER_KEY):
            assert _validate(remote, key) == 200
        _assert_limited(remote.post("/api/licenses/validate", json={"licenseKey": key}))
        for _ in range(PER_IP - PER_KEY - 1):
            assert remote.get("/api/licenses/public-keys").status_code == 200
        _assert_limited(remote.get("/api/licenses/public-keys"))  # the per-IP limit


def test_limits_are_off_in_the_suite(client: TestClient) -> None:
    for _ in range(PER_IP + 10):
        assert _validate(client, "SAME-KEY") == 200


def test_the_limiter_counts_normalised_keys_and_skips_junk() -> None:
    limits = LicenseRateLimits(enabled=True, per_ip="100/minute", per_key="2/minute")
    limits.hit_key("abc-1")
    limits.hit_key(" ABC-1 ")
    with pytest.raises(ShipkeyError) as refused:
        limits.hit_key("Abc-1")
    assert refused.value.code == "RATE_LIMITED"
    assert refused.value.headers is not None
    for _ in range(5):
        limits.hit_key("x" * 100)  # longer than any key: only the per-IP limit applies
    off = LicenseRateLimits(enabled=False, per_ip="1/minute", per_key="1/minute")
    for _ in range(3):
        asyncio.run(off.hit_ip_async("10.0.0.1"))
        off.hit_key("abc-1")


def test_malformed_validations_count_against_the_address(limited: TestClient) -> None:
    for _ in range(PER_IP):
        assert limited.post("/api/licenses/validate", json={"nonsense": 1}).status_code == 422
    _assert_limited(limited.post("/api/licenses/validate", json={"licenseKey": "KEY-1"}))


def test_behind_a_trusted_proxy_the_forwarded_client_is_counted(
    settings: Settings, db: Database, storage: Storage
) -> None:
    proxied = settings.model_copy(update={"rate_limits": "on", "trusted_proxies": "10.0.0.0/8"})
    app = create_app(proxied, db=db, storage=storage)
    with TestClient(app, client=("10.0.0.2", 40000)) as proxy:

        def from_client(address: str, key: str) -> Response:
            return proxy.post(
                "/api/licenses/validate",
                json={"licenseKey": key},
                headers={"X-Forwarded-For": f"{address}, 10.0.0.3"},
            )

        for number in range(PER_IP):
            assert from_client("192.0.2.10", f"KEY-{number}").status_code == 200
        _assert_limited(from_client("192.0.2.10", "KEY-NEW"))
        assert from_client("192.0.2.11", "KEY-NEW").status_code == 200  # another client


def test_an_ipv6_client_is_counted_per_64_and_mapped_ipv4_as_ipv4(
    settings: Settings, db: Database, storage: Storage
) -> None:
    proxied = settings.model_copy(update={"rate_limits": "on", "trusted_proxies": "10.0.0.0/8"})
    app = create_app(proxied, db=db, storage=storage)
    with TestClient(app, client=("10.0.0.2", 40000)) as proxy:

        def from_client(address: str, key: str) -> Response:
            return proxy.post(
                "/api/licenses/validate",
                json={"licenseKey": key},
                headers={"X-Forwarded-For": address},
            )

        # One customer's /64, a new address for every request, is one client.
        for number in range(PER_IP):
            assert from_client(f"2001:db8:1:2::{number + 1:x}", f"KEY-{number}").status_code == 200
        _assert_limited(from_client("2001:db8:1:2:ffff::1", "KEY-NEW"))
        assert from_client("2001:db8:1:3::1", "KEY-NEW").status_code == 200  # another /64
        # IPv4 written as IPv6 is the same IPv4 client.
        for number in range(PER_IP):
            assert from_client("192.0.2.20", f"KEY-{number}").status_code == 200
        _assert_limited(from_client("::ffff:192.0.2.20", "KEY-NEW"))
        assert from_client("192.0.2.21", "KEY-NEW").status_code == 200
