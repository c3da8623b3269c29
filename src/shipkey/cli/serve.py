"""``shipkey migrate`` and ``shipkey serve``."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from shipkey.cli.common import database, settings
from shipkey.terminal import out

if TYPE_CHECKING:
    from shipkey.config import Settings


def _upgrade(config: Settings) -> None:
    """Apply pending migrations, then count the dashboard's settled days not kept yet (the
    first view after an upgrade does not wait for them)."""
    from shipkey import migrate as migrations
    from shipkey.admin_ui import daily

    db = database(config)
    try:
        migrations.upgrade(db.engine)
        daily.count_missing(db)
    finally:
        db.dispose()


def migrate() -> None:
    """Apply database migrations."""
    _upgrade(settings())
    out().print("[green]Database is up to date.[/green]")


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Web worker processes.")] = 1,
) -> None:
    """Run the web server (Granian). On SQLite, pending migrations are applied first."""
    from shipkey import server

    config = settings()
    if config.is_sqlite:
        _upgrade(config)
    # Resolve the generated secret once, before worker processes start.
    _ = config.secret
    os.environ.setdefault("SHIPKEY_DATA_DIR", str(config.resolved_data_dir))
    out().print(f"shipkey serving on http://{host}:{port}  (public URL {config.base_url})")
    out().print(f"  API docs   {config.base_url}/docs")
    out().print(f"  health     {config.base_url}/healthz")
    sys.stdout.flush()
    sys.stderr.flush()
    # The server process starts afresh with Granian alone (see shipkey.server): nothing loaded
    # here stays in memory, and only the worker processes import the app.
    args = server.arguments(host, port, workers, config.shutdown_grace)
    os.execv(sys.executable, [sys.executable, "-m", "shipkey.server", *args])  # noqa: S606
