"""The data directory and database URL read without pydantic are the ones ``Settings()`` reads."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from shipkey import locations
from shipkey.config import Settings


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory of its own (where ``.env`` is looked for), and no SHIPKEY_ variable."""
    for name in list(os.environ):
        if name.upper().startswith(locations.ENV_PREFIX):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def assert_same() -> None:
    settings = Settings()
    found = locations.read()
    assert (found.data_dir, found.database_url) == (settings.data_dir, settings.database_url)
    assert found.resolved_data_dir == settings.resolved_data_dir
    assert found.resolved_database_url == settings.resolved_database_url
    assert found.is_sqlite == settings.is_sqlite


def test_the_defaults(here: Path) -> None:
    assert_same()
    assert locations.read().resolved_database_url == f"sqlite:///{here / 'var' / 'shipkey.db'}"


def test_the_environment_in_any_case(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIPKEY_DATA_DIR", str(here / "data"))
    monkeypatch.setenv("shipkey_database_url", "postgresql+psycopg://postgres@db.invalid/shop")
    assert_same()
    assert not locations.read().is_sqlite


def test_an_empty_database_url_is_the_sqlite_file(
    here: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHIPKEY_DATABASE_URL", "")
    monkeypatch.setenv("SHIPKEY_DATA_DIR", "~/shipkey-data-dir")
    monkeypatch.setenv("HOME", str(here))
    assert_same()
    assert locations.read().resolved_data_dir == here / "shipkey-data-dir"


def test_the_env_file_and_the_environment_before_it(
    here: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (here / ".env").write_text(
        "# settings\nSHIPKEY_DATA_DIR=from-file\nexport shipkey_database_url='sqlite:///${HOME}/x.db'\n"
        "SHIPKEY_BASE_URL=https://shop.example\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("HOME", str(here))
    assert_same()
    assert locations.read().database_url == f"sqlite:///{here}/x.db"
    monkeypatch.setenv("SHIPKEY_DATABASE_URL", f"sqlite:///{here / 'env.db'}")
    assert_same()
    assert locations.read().data_dir == Path("from-file")


def test_settings_take_their_names_and_defaults_from_locations() -> None:
    config = Settings.model_config
    assert config.get("env_prefix") == locations.ENV_PREFIX
    assert config.get("env_file") == locations.ENV_FILE
    assert Settings.model_fields["data_dir"].default == locations.DEFAULT_DATA_DIR
    assert Settings.model_fields["database_url"].default is None
