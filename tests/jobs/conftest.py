"""Job fixtures: shipkey's handler registry (tests add theirs) and a hand-moved clock."""

from __future__ import annotations

import pytest

from shipkey.jobs.registry import Registry, default_registry
from tests.jobs.helpers import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def registry() -> Registry:
    return default_registry()
