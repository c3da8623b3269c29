"""What the command line, the server process and the app load: a fresh interpreter imports
the module and lists what ended up in ``sys.modules`` (no timing)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from shipkey.cli.products import MAX_LINK_SECONDS
from shipkey.downloads.signed import MAX_SIGNED_URL_SECONDS

LARGE = ("stripe", "boto3", "botocore", "pypdf", "cryptography", "psycopg", "alembic")


def loaded_after(statement: str) -> set[str]:
    """The top-level packages (and shipkey's modules) a fresh interpreter holds after it runs
    ``statement``."""
    script = f"{statement}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    names: list[str] = json.loads(done.stdout.splitlines()[-1])
    return {name if name.startswith("shipkey.") else name.split(".")[0] for name in names}


def test_the_command_line_loads_no_framework_nor_database_until_a_command_runs() -> None:
    loaded = loaded_after("import shipkey.cli")
    for package in (*LARGE, "fastapi", "sqlalchemy", "pydantic", "granian", "jinja2"):
        assert package not in loaded, package
    assert not {name for name in loaded if name.startswith("shipkey.")} - {
        name for name in loaded if name.startswith(("shipkey.cli", "shipkey.terminal"))
    }


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


def test_the_link_lifetime_limit_of_the_command_line_is_the_downloads_one() -> None:
    assert MAX_LINK_SECONDS == MAX_SIGNED_URL_SECONDS
