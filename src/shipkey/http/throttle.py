"""Counting requests against moving-window limits, for every rate limit in shipkey.

The counts live in memory (each server process on its own) or in Redis, shared by every
process and machine (``SHIPKEY_RATE_LIMIT_STORAGE=redis://…``). Over a limit the caller gets 429
``RATE_LIMITED`` with ``Retry-After`` (whole seconds until the oldest counted request leaves
the window). When the store cannot be reached, requests are let through and a warning is logged
at most once a minute: a limiter that fails must not take the service down with it.

A client address is counted under :func:`shipkey.http.net.limit_key` (IPv6 per /64).

Routes that run on the event loop count with :meth:`Throttle.hit_async`: in memory the count
is a dictionary update and stays on the loop; with Redis it is a network round trip (up to
:data:`REDIS_TIMEOUT` when Redis is slow), which would stop every other request of the
process meanwhile, so it is made from a worker thread.
"""

from __future__ import annotations

import logging
import math
import time

from limits import RateLimitItem
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from starlette.concurrency import run_in_threadpool

from shipkey.errors import TooManyRequests

WARN_EVERY = 60.0
REDIS_TIMEOUT = 0.5
"""Seconds a Redis store may take to connect or answer before the request is let through."""

log = logging.getLogger(__name__)


class Throttle:
    """Moving-window counters in one store; a no-op when ``enabled`` is false."""

    def __init__(self, *, enabled: bool, storage: str = "memory://") -> None:
        self.enabled = enabled
        options = (
            {}
            if storage.startswith("memory")
            else {"socket_timeout": REDIS_TIMEOUT, "socket_connect_timeout": REDIS_TIMEOUT}
        )
        self._limiter = MovingWindowRateLimiter(storage_from_string(storage, **options))
        self._warned_at = -WARN_EVERY
        self.remote = not storage.startswith("memory")
        """Whether counting is a round trip to another server (Redis)."""

    async def hit_async(
        self, item: RateLimitItem, namespace: str, scope: str, identifier: str, what: str
    ) -> None:
        """:meth:`hit` for a caller on the event loop, which a remote store never blocks."""
        if not self.enabled:
            return
        if self.remote:
            await run_in_threadpool(self.hit, item, namespace, scope, identifier, what)
        else:
            self.hit(item, namespace, scope, identifier, what)

    def hit(
        self, item: RateLimitItem, namespace: str, scope: str, identifier: str, what: str
    ) -> None:
        """Count one request; 429 ``RATE_LIMITED`` saying "Too many ``what``" over the limit."""
        if not self.enabled:
            return
        try:
            if self._limiter.hit(item, namespace, scope, identifier):
                return
            stats = self._limiter.get_window_stats(item, namespace, scope, identifier)
        except Exception as exc:  # the shared store is down: let the request through
            now = time.monotonic()
            if now - self._warned_at >= WARN_EVERY:
                self._warned_at = now
                log.warning("rate limits not counted, their storage failed: %s", exc)
            return
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise TooManyRequests(
            f"Too many {what}; try again in {retry_after} seconds.",
            "RATE_LIMITED",
            headers={"Retry-After": str(retry_after)},
            retryAfter=retry_after,
        )
