"""Rate limits of the public license API (``/api/licenses/*``).

Two moving-window limits, counted in memory per server process, or in Redis for every process
and machine at once (``SHIPKEY_RATE_LIMIT_STORAGE=redis://…``):

* **120 requests a minute per client IP**, across every public license endpoint. Generous
  enough for an office behind one NAT address starting its machines at nine, tight enough to
  make guessing keys pointless (the checksum refuses most guesses before any lookup anyway).
* **30 requests a minute per license key** (activate, deactivate, validate, license file).
  Software checks a key at start-up and every few hours; 30 a minute is only reached by a
  loop or a key shared far beyond its seats.

Over a limit the answer is 429 ``RATE_LIMITED`` with ``Retry-After`` (whole seconds until the
oldest counted request leaves the window). ``SHIPKEY_RATE_LIMITS=off`` turns both off. When
Redis cannot be reached, requests are let through (and a warning logged at most once a
minute): a limiter that fails must not stop licensed software from starting.
"""

from __future__ import annotations

import logging
import math
import time

from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from shipkey.errors import TooManyRequests
from shipkey.licensing.keys import MAX_KEY_LENGTH, normalize_key

PER_IP = "120/minute"
PER_KEY = "30/minute"
NAMESPACE = "licenses"
WARN_EVERY = 60.0

log = logging.getLogger(__name__)


class LicenseRateLimits:
    """The per-IP and per-key limits; a no-op when ``enabled`` is false."""

    def __init__(
        self,
        *,
        enabled: bool,
        per_ip: str = PER_IP,
        per_key: str = PER_KEY,
        storage: str = "memory://",
    ) -> None:
        self.enabled = enabled
        self.per_ip: RateLimitItem = parse(per_ip)
        self.per_key: RateLimitItem = parse(per_key)
        options = (
            {}
            if storage.startswith("memory")
            else {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}
        )
        self._limiter = MovingWindowRateLimiter(storage_from_string(storage, **options))
        self._warned_at = -WARN_EVERY

    def hit_ip(self, ip: str | None) -> None:
        """Count a request from ``ip``; 429 when over the limit."""
        self._hit(self.per_ip, "ip", ip or "unknown")

    def hit_key(self, raw_key: str) -> None:
        """Count a request for a license key (as typed: trimmed and upper-cased first).

        Strings longer than any key are not counted per key (they are refused as malformed,
        and the per-IP limit already covers them), so junk cannot fill the memory.
        """
        key = normalize_key(raw_key)
        if key and len(key) <= MAX_KEY_LENGTH:
            self._hit(self.per_key, "key", key)

    def _hit(self, item: RateLimitItem, scope: str, identifier: str) -> None:
        if not self.enabled:
            return
        try:
            if self._limiter.hit(item, NAMESPACE, scope, identifier):
                return
            stats = self._limiter.get_window_stats(item, NAMESPACE, scope, identifier)
        except Exception as exc:  # the shared store is down: let the request through
            now = time.monotonic()
            if now - self._warned_at >= WARN_EVERY:
                self._warned_at = now
                log.warning("rate limits not counted, their storage failed: %s", exc)
            return
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise TooManyRequests(
            f"Too many requests; try again in {retry_after} seconds.",
            "RATE_LIMITED",
            headers={"Retry-After": str(retry_after)},
            retryAfter=retry_after,
        )
