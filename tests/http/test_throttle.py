"""Rate limits counted in Redis, shared by every process, and what happens when it is gone."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import uuid
from typing import Any

import pytest
import redis
from limits import parse

from shipkey.config import Settings
from shipkey.errors import ShipkeyError
from shipkey.http.throttle import Throttle
from shipkey.licensing.rate_limits import LicenseRateLimits
from shipkey.portal.service import LoginRateLimits

REDIS_URL = os.environ.get("SHIPKEY_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def test_processes_share_the_counts_in_redis() -> None:
    redis.Redis.from_url(REDIS_URL).ping()  # the store is there (CI runs one)
    key = f"SHARED-{uuid.uuid4().hex[:8]}"  # counts of other runs never collide
    first = LicenseRateLimits(enabled=True, per_key="3/minute", storage=REDIS_URL)
    second = LicenseRateLimits(enabled=True, per_key="3/minute", storage=REDIS_URL)
    first.hit_key(key)
    second.hit_key(key)
    first.hit_key(key)
    with pytest.raises(ShipkeyError) as refused:
        second.hit_key(key)  # the fourth, counted across both
    assert refused.value.code == "RATE_LIMITED"


@pytest.mark.parametrize(("storage", "off_the_loop"), [("memory://", False), (REDIS_URL, True)])
def test_from_the_event_loop_only_a_remote_store_is_counted_in_a_thread(
    storage: str, off_the_loop: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A round trip to Redis (up to its timeout) must not stop every request of the process;
    a dictionary update in memory costs less than the trip to a thread."""
    throttle = Throttle(enabled=True, storage=storage)
    counted_in: list[int] = []
    count = throttle.hit

    def recorded(*args: Any) -> None:
        counted_in.append(threading.get_ident())
        count(*args)

    monkeypatch.setattr(throttle, "hit", recorded)

    async def from_the_loop() -> int:
        await throttle.hit_async(parse("5/minute"), "test", "ip", uuid.uuid4().hex, "requests")
        return threading.get_ident()

    loop_thread = asyncio.run(from_the_loop())
    assert len(counted_in) == 1
    assert (counted_in[0] != loop_thread) is off_the_loop


def test_an_unreachable_store_lets_requests_through(caplog: pytest.LogCaptureFixture) -> None:
    limits = LicenseRateLimits(enabled=True, per_key="1/minute", storage="redis://127.0.0.1:1/0")
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            limits.hit_key("NOWHERE-1")
    warnings = [r for r in caplog.records if "rate limits not counted" in r.getMessage()]
    assert len(warnings) == 1  # at most one a minute


def test_the_store_is_a_setting(settings: Settings) -> None:
    assert settings.rate_limit_storage == "memory://"
    shared = settings.model_copy(update={"rate_limit_storage": "redis://cache:6379/2"})
    assert shared.rate_limit_storage.startswith("redis://")
    with pytest.raises(ValueError, match="memory://"):
        Settings(_env_file=None, rate_limit_storage="mysql://x")


def test_sign_in_limits_are_shared_too() -> None:
    address = f"{uuid.uuid4().hex[:8]}@example.com"
    first = LoginRateLimits(enabled=True, per_address="2/hour", storage=REDIS_URL)
    second = LoginRateLimits(enabled=True, per_address="2/hour", storage=REDIS_URL)
    assert first.hit("10.0.0.1", address)
    assert second.hit("10.0.0.2", address)
    # Over the address's limit, counted by both: nothing is sent (but no 429, see the portal).
    assert not first.hit("10.0.0.3", address)
    assert not second.hit("10.0.0.4", address)
