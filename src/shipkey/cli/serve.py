"""``shipkey migrate`` and ``shipkey serve``."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from shipkey import migrate as migrations
from shipkey.cli.common import database, settings
from shipkey.terminal import out


def migrate() -> None:
    """Apply database migrations."""
    db = database(settings())
    try:
        migrations.upgrade(db.engine)
    finally:
        db.dispose()
    out().print("[green]Database is up to date.[/green]")


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Web worker processes.")] = 1,
) -> None:
    """Run the web server (Granian). On SQLite, pending migrations are applied first."""
    from granian import Granian
    from granian.constants import Interfaces, Loops

    config = settings()
    if config.is_sqlite:
        db = database(config)
        try:
            migrations.upgrade(db.engine)
        finally:
            db.dispose()
    # Resolve the generated secret once, before worker processes start.
    _ = config.secret
    os.environ.setdefault("SHIPKEY_DATA_DIR", str(config.resolved_data_dir))
    out().print(f"shipkey serving on http://{host}:{port}  (public URL {config.base_url})")
    out().print(f"  API docs   {config.base_url}/docs")
    out().print(f"  health     {config.base_url}/healthz")
    Granian(
        "shipkey.app:create_app_from_env",
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        factory=True,
        log_access=False,
        loop=Loops.asyncio,  # uvloop made no measurable difference here (bench/README.md)
    ).serve()
