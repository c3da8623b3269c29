"""What the command line, the server process and the app load: a fresh interpreter imports
the module and lists what ended up in ``sys.modules`` (no timing)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shipkey.cli.products import MAX_LINK_SECONDS
from shipkey.downloads.signed import MAX_SIGNED_URL_SECONDS

LARGE = ("stripe", "boto3", "botocore", "pypdf", "cryptography", "psycopg", "alembic")


def loaded_after(
    statement: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> set[str]:
    """The top-level packages (and shipkey's modules) a fresh interpreter holds after it runs
    ``statement``."""
    script = f"{statement}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env=env,
        cwd=cwd,
    )
    names: list[str] = json.loads(done.stdout.splitlines()[-1])
    return {
        name if name.startswith(("shipkey.", "sqlalchemy.orm", "typer.")) else name.split(".")[0]
        for name in names
    }


def test_the_command_line_loads_no_framework_nor_database_until_a_command_runs() -> None:
    loaded = loaded_after("import shipkey.cli")
    for package in (*LARGE, "fastapi", "sqlalchemy", "pydantic", "granian", "jinja2"):
        assert package not in loaded, package
    assert not {name for name in loaded if name.startswith("shipkey.")} - {
        name for name in loaded if name.startswith(("shipkey.cli", "shipkey.terminal"))
    }


def test_products_list_reads_with_sqlite3_alone(tmp_path: Path) -> None:
    """``shipkey products list`` runs (on a migrated SQLite database) with the sqlite3 module
    only: no SQLAlchemy, no pydantic (neither for the settings nor for typer's help flags), no
    models, no audit hooks, no migrations, no framework."""
    env = {**os.environ, "SHIPKEY_DATA_DIR": str(tmp_path)}
    env.pop("SHIPKEY_DATABASE_URL", None)
    subprocess.run(
        [sys.executable, "-m", "shipkey", "migrate"], env=env, check=True, capture_output=True
    )
    loaded = loaded_after(
        "import sys\nfrom shipkey.cli import app\nsys.argv = ['shipkey', 'products', 'list']\n"
        "try:\n    app()\nexcept SystemExit as exit:\n    assert not exit.code, exit.code",
        env,
        cwd=tmp_path,  # no .env here: python-dotenv is not loaded either
    )
    assert "sqlite3" in loaded
    for package in (*LARGE, "fastapi", "starlette", "jinja2", "granian", "email_validator"):
        assert package not in loaded, package
    for package in ("sqlalchemy", "pydantic", "pydantic_core", "pydantic_settings", "dotenv"):
        assert package not in loaded, package
    assert "typer._adapters" not in loaded
    for module in (
        "shipkey.config",
        "shipkey.db.engine",
        "shipkey.models",
        "shipkey.catalog.models",
        "shipkey.audit",
        "shipkey.migrate",
    ):
        assert module not in loaded, module


def test_the_server_process_imports_granian_and_not_the_app() -> None:
    loaded = loaded_after("import shipkey.server")
    assert {name for name in loaded if name.startswith("shipkey.")} == {"shipkey.server"}
    for package in ("fastapi", "sqlalchemy", "pydantic", "typer", *LARGE):
        assert package not in loaded, package


@pytest.mark.parametrize("module", ["shipkey.app", "shipkey.jobs.worker"])
def test_the_app_loads_large_packages_only_when_they_are_used(module: str) -> None:
    loaded = loaded_after(f"import {module}")
    for package in LARGE:
        assert package not in loaded, package


def test_a_made_app_loads_no_template_engine_until_a_page_or_mail_is_rendered(
    tmp_path: Path,
) -> None:
    """Babel and Jinja2 come with the first page, e-mail or formatted date, not with the app."""
    env = {**os.environ, "SHIPKEY_DATA_DIR": str(tmp_path)}
    env.pop("SHIPKEY_DATABASE_URL", None)
    loaded = loaded_after("from shipkey.app import create_app_from_env\ncreate_app_from_env()", env)
    for package in (*LARGE, "jinja2", "babel"):
        assert package not in loaded, package
    rendered = loaded_after(
        "from shipkey.mail.render import environment\nenvironment('de')", env, cwd=tmp_path
    )
    assert {"jinja2", "babel"} <= rendered


def test_the_link_lifetime_limit_of_the_command_line_is_the_downloads_one() -> None:
    assert MAX_LINK_SECONDS == MAX_SIGNED_URL_SECONDS
