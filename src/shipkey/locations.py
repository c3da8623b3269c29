"""Where shipkey keeps its data: the data directory and the database, read without pydantic.

The names, the defaults and how the two resolve are defined here once;
:class:`shipkey.config.Settings` takes its environment rules (the ``SHIPKEY_`` prefix, the
``.env`` file) and these two fields' defaults and resolution from this module. :func:`read`
applies the same rules as pydantic-settings does for ``Settings`` (names in any case, the
environment before ``.env``, ``.env`` read by python-dotenv only when there is one) for a
command that needs nothing else: ``shipkey products list`` does not load pydantic for it
(pydantic-settings took about 0.055 s of its start). ``tests/test_locations.py`` compares the
two readings.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

ENV_PREFIX = "SHIPKEY_"
ENV_FILE = ".env"
ENV_FILE_ENCODING = "utf-8"
DEFAULT_DATA_DIR = Path("./var")
DATABASE_FILE = "shipkey.db"


def resolve_data_dir(data_dir: Path) -> Path:
    """The data directory as an absolute path, made when missing."""
    path = data_dir.expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def database_url(configured: str | None, data_dir: Path) -> str:
    """``SHIPKEY_DATABASE_URL`` when set (not empty), else the SQLite file in ``data_dir``
    (resolved)."""
    if configured:
        return configured
    return f"sqlite:///{data_dir / DATABASE_FILE}"


@dataclass(frozen=True)
class Locations:
    """The data directory and the database URL as configured (unresolved)."""

    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str | None = None

    @cached_property
    def resolved_data_dir(self) -> Path:
        return resolve_data_dir(self.data_dir)

    @cached_property
    def resolved_database_url(self) -> str:
        return database_url(self.database_url, self.resolved_data_dir)

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")


def read(environ: Mapping[str, str] | None = None, env_file: str = ENV_FILE) -> Locations:
    """:class:`Locations` from the environment and ``env_file``, as ``Settings()`` reads them."""
    names = {f"{ENV_PREFIX}{field}".lower(): field for field in ("data_dir", "database_url")}
    found: dict[str, str | None] = {}
    if _is_env_file(Path(env_file).expanduser()):
        from dotenv import dotenv_values

        for key, value in dotenv_values(env_file, encoding=ENV_FILE_ENCODING).items():
            if key.lower() in names:
                found[names[key.lower()]] = value
    for key, value in (os.environ if environ is None else environ).items():
        if key.lower() in names:
            found[names[key.lower()]] = value
    data_dir = found.get("data_dir")
    return Locations(
        data_dir=DEFAULT_DATA_DIR if data_dir is None else Path(data_dir),
        database_url=found.get("database_url"),
    )


def _is_env_file(path: Path) -> bool:
    """What pydantic-settings reads as an env file: a regular file or a FIFO."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return stat.S_ISREG(mode) or stat.S_ISFIFO(mode)
