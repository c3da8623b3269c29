"""The environment a command runs in: the test database and data directory."""

from __future__ import annotations

import pytest

from shipkey.config import Settings


@pytest.fixture
def env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {
        "SHIPKEY_DATA_DIR": str(settings.data_dir),
        "SHIPKEY_DATABASE_URL": settings.resolved_database_url,
        "SHIPKEY_SECRET_KEY": settings.secret.decode(),
        "SHIPKEY_BASE_URL": "http://shop.example",
        "COLUMNS": "200",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(settings.data_dir.parent)
    return values
