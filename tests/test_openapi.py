"""The OpenAPI document is exact: ``schemathesis run --checks all`` against a live server finds
nothing (every status an operation answers is documented, with its body's shape; every input
the schema allows is accepted, everything it forbids refused; 405 names the allowed methods).

schemathesis runs as its command line does, in a process of its own, against the app behind
uvicorn; deterministic generation (the same cases on every run) and a bounded number of
examples per operation keep the run reproducible and within a minute per database.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from shipkey.config import Settings
from tests.conftest import ADMIN_TOKEN
from tests.factories import create_purchase, product_with_file
from tests.payments.fake_stripe import FakeStripe, stripe_settings

MAX_EXAMPLES = 25
TIME_LIMIT = 600
"""Seconds the whole run may take before the test fails (it takes a minute or two)."""
CONFIG = Path(__file__).with_name("schemathesis.toml")
"""Checks that are tuned for an operation, each with the reason."""


@pytest.fixture
def fake_stripe() -> Iterator[FakeStripe]:
    fake = FakeStripe()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def settings(settings: Settings, fake_stripe: FakeStripe) -> Settings:
    """Stripe configured (a fake on loopback): checkout and webhooks answer as in production."""
    return settings.model_copy(update=stripe_settings(fake_stripe))


def schemathesis_command(base_url: str, report: Path) -> list[str]:
    """The schemathesis run the test makes (``make test`` and the README's command alike)."""
    return [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(CONFIG),
        "run",
        f"{base_url}/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--generation-deterministic",
        "--workers",
        "1",
        "--header",
        f"Authorization: Bearer {ADMIN_TOKEN}",
        "--no-color",
        "--output-truncate",
        "false",
        "--report",
        "junit",
        "--report-junit-path",
        str(report),
    ]


def test_schemathesis_finds_nothing(live_server: str, admin: TestClient, tmp_path: Path) -> None:
    # A store with something in it: a product with a file, and a purchase of it.
    product, _ = product_with_file(admin, slug="openapi-book")
    create_purchase(admin, product["slug"])

    result = subprocess.run(
        schemathesis_command(live_server, tmp_path / "junit.xml"),
        capture_output=True,
        text=True,
        timeout=TIME_LIMIT,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
