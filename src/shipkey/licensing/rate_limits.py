"""Rate limits of the public license API (``/api/licenses/*``).

Two moving-window limits, counted in memory per server process, or in Redis for every process
and machine at once (``SHIPKEY_RATE_LIMIT_STORAGE=redis://…``):

* **120 requests a minute per client IP** (per /64 for IPv6, see
  :func:`shipkey.http.net.limit_key`), across every public license endpoint. Generous
  enough for an office behind one NAT address starting its machines at nine, tight enough to
  make guessing keys pointless (the checksum refuses most guesses before any lookup anyway).
* **30 requests a minute per license key** (activate, deactivate, validate, license file).
  Software checks a key at start-up and every few hours; 30 a minute is only reached by a
  loop or a key shared far beyond its seats.

Over a limit the answer is 429 ``RATE_LIMITED`` with ``Retry-After`` (see
:mod:`shipkey.http.throttle`, which also lets requests through when Redis cannot be reached: a
limiter that fails must not stop licensed software from starting). ``SHIPKEY_RATE_LIMITS=off``
turns both off.
"""

from __future__ import annotations

from limits import RateLimitItem, parse

from shipkey.http.net import limit_key
from shipkey.http.throttle import Throttle
from shipkey.licensing.keys import MAX_KEY_LENGTH, normalize_key

PER_IP = "120/minute"
PER_KEY = "30/minute"
NAMESPACE = "licenses"


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
        self._throttle = Throttle(enabled=enabled, storage=storage)

    async def hit_ip_async(self, ip: str | None) -> None:
        """Count a request from ``ip``; 429 when over the limit. Called from the event loop
        (see :meth:`shipkey.http.throttle.Throttle.hit_async`)."""
        client = limit_key(ip)
        await self._throttle.hit_async(self.per_ip, NAMESPACE, "ip", client, "requests")

    def hit_key(self, raw_key: str) -> None:
        """Count a request for a license key (as typed: trimmed and upper-cased first).

        Strings longer than any key are not counted per key (they are refused as malformed,
        and the per-IP limit already covers them), so junk cannot fill the memory.
        """
        key = _countable(raw_key)
        if key is not None:
            self._throttle.hit(self.per_key, NAMESPACE, "key", key, "requests")

    async def hit_key_async(self, raw_key: str) -> None:
        """:meth:`hit_key` from the event loop."""
        key = _countable(raw_key)
        if key is not None:
            await self._throttle.hit_async(self.per_key, NAMESPACE, "key", key, "requests")


def _countable(raw_key: str) -> str | None:
    key = normalize_key(raw_key)
    return key if key and len(key) <= MAX_KEY_LENGTH else None
