"""Seats under real parallel requests against a real HTTP server."""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from shipkey.db.engine import Database
from shipkey.licensing.models import License, LicenseActivation
from tests.licensing.helpers import activate, buy, deactivate, licensed_product

PARALLEL = 50
T = TypeVar("T")


def _in_parallel(base_url: str, calls: list[Callable[[httpx.Client], T]]) -> list[T]:
    """Run every call at once, released together; each in-flight call has its own connection.

    One client is shared (it is thread-safe): building one per thread would spend seconds
    loading CA certificates.
    """
    barrier = threading.Barrier(len(calls))
    limits = httpx.Limits(max_connections=len(calls), max_keepalive_connections=len(calls))
    with httpx.Client(base_url=base_url, timeout=60, limits=limits) as http:

        def run(call: Callable[[httpx.Client], T]) -> T:
            barrier.wait()
            return call(http)

        with ThreadPoolExecutor(max_workers=len(calls)) as pool:
            return list(pool.map(run, calls))


def _seats(db: Database, key: str) -> tuple[int, int, int]:
    """The counter, the number of active activation rows, and the limit."""
    with db.read_session() as session:
        lic = session.scalars(select(License).where(License.key == key)).one()
        active = session.scalar(
            select(func.count())
            .select_from(LicenseActivation)
            .where(
                LicenseActivation.license_id == lic.id,
                LicenseActivation.deactivated_at.is_(None),
            )
        )
    return lic.activation_count, int(active or 0), lic.max_activations


@pytest.mark.parametrize("free", [1, 6])
def test_parallel_activations_take_exactly_the_free_seats(
    admin: TestClient, live_server: str, db: Database, free: int
) -> None:
    licensed_product(admin, maxActivations=free + 2)
    _, key = buy(admin)
    for machine in ["old-1", "old-2"]:
        assert activate(admin, key, machine).status_code == 200

    def call(machine: str) -> Callable[[httpx.Client], tuple[int, str]]:
        def run(http: httpx.Client) -> tuple[int, str]:
            response = activate(http, key, machine)
            return response.status_code, response.json().get("code", "")

        return run

    results = _in_parallel(live_server, [call(f"machine-{i}") for i in range(PARALLEL)])
    assert Counter(status for status, _ in results) == {200: free, 403: PARALLEL - free}
    assert {code for status, code in results if status == 403} == {"TOO_MANY_ACTIVATIONS"}
    assert _seats(db, key) == (free + 2, free + 2, free + 2)


def test_parallel_activations_of_one_machine_take_one_seat(
    admin: TestClient, live_server: str, db: Database
) -> None:
    licensed_product(admin, maxActivations=3)
    _, key = buy(admin)

    def run(http: httpx.Client) -> tuple[int, str]:
        response = activate(http, key, "same")
        return response.status_code, response.json().get("message", "")

    results = _in_parallel(live_server, [run] * 20)
    assert Counter(results) == {(200, "License activated"): 1, (200, "Already activated"): 19}
    assert _seats(db, key) == (1, 1, 3)


def test_a_random_mix_of_activations_and_deactivations_keeps_the_count(
    admin: TestClient, live_server: str, db: Database
) -> None:
    licensed_product(admin, maxActivations=4, maxDeactivations=10_000)  # the seat counter here
    _, key = buy(admin)
    rng = random.Random(20261128)
    machines = [f"box-{i}" for i in range(8)]
    for machine in machines[:3]:
        activate(admin, key, machine)

    def step(machine: str, on: bool) -> Callable[[httpx.Client], int]:
        def run(http: httpx.Client) -> int:
            if on:
                return activate(http, key, machine).status_code
            return deactivate(http, key, machine).status_code

        return run

    for _ in range(3):
        calls = [step(rng.choice(machines), rng.random() < 0.6) for _ in range(40)]
        statuses = Counter(_in_parallel(live_server, calls))
        assert set(statuses) <= {200, 403, 404}
        count, active, limit = _seats(db, key)
        assert count == active
        assert 0 <= count <= limit
    # Whatever happened, every seat can still be freed and taken again.
    for machine in machines:
        deactivate(admin, key, machine)
    assert _seats(db, key)[:2] == (0, 0)
    assert activate(admin, key, "after").status_code == 200


def test_parallel_deactivations_stop_at_the_limit(
    admin: TestClient, live_server: str, db: Database
) -> None:
    licensed_product(admin, maxActivations=10, maxDeactivations=3)
    _, key = buy(admin)
    machines = [f"box-{i}" for i in range(10)]
    for machine in machines:
        assert activate(admin, key, machine).status_code == 200

    def off(machine: str) -> Callable[[httpx.Client], int]:
        return lambda http: deactivate(http, key, machine).status_code

    statuses = Counter(_in_parallel(live_server, [off(machine) for machine in machines]))
    assert statuses == {200: 3, 403: 7}
    assert _seats(db, key) == (7, 7, 10)
