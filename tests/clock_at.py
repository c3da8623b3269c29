"""A pytest plugin that sets the project's clock to a chosen time of day, for the tests whose
outcome could depend on the hour (the daily jobs every starting worker queues):

    SHIPKEY_TEST_CLOCK_AT=03:29:50 python -m pytest -p tests.clock_at tests/upkeep

Every ``shipkey.clock.utcnow()`` (the product's one clock, and the tests' through it) then
reads today's date at that time, moving on in real time from there."""

from __future__ import annotations

import os
from datetime import UTC, datetime, time, timedelta

from shipkey import clock

_real = clock.utcnow


def _offset(at: str) -> timedelta:
    now = datetime.now(UTC)
    target = datetime.combine(now.date(), time.fromisoformat(at), tzinfo=UTC)
    return target - now


def _shifted_now() -> datetime:  # compiled into shipkey.clock's utcnow, its names from there
    return datetime.now(UTC) + _shipkey_test_offset  # type: ignore[name-defined,no-any-return]  # noqa: F821


def pytest_configure() -> None:
    at = os.environ.get("SHIPKEY_TEST_CLOCK_AT")
    if at:
        # Every module holds the same function object (``from shipkey.clock import utcnow``,
        # default arguments too): its code is what changes.
        clock._shipkey_test_offset = _offset(at)  # type: ignore[attr-defined]
        _real.__code__ = _shifted_now.__code__.replace(co_name="utcnow")
