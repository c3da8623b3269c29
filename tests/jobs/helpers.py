"""A clock that tests move by hand, and waiting for something a thread does."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

from shipkey.clock import utcnow


class Clock:
    """A clock the test moves forward by hand, so retries never wait for real time.

    It starts a minute ahead, so what the test queues (stamped with the real time) is due.
    """

    def __init__(self) -> None:
        self.now = utcnow() + timedelta(minutes=1)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def wait_for(condition: Callable[[], bool], timeout: float = 30) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` seconds pass; its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()
