"""What every command starts from: the settings from the environment, and the database."""

from __future__ import annotations

import typer

from shipkey import migrate as migrations
from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.terminal import err


def settings() -> Settings:
    return Settings()


def database(settings: Settings) -> Database:
    return Database(settings.resolved_database_url)


def migrate_sqlite(settings: Settings, db: Database) -> None:
    """Apply pending migrations when the database is SQLite (a one-machine install)."""
    if settings.is_sqlite:
        migrations.upgrade(db.engine)


def fail(message: str) -> typer.Exit:
    """Print ``message`` in red on standard error; the exit (code 1) to raise after it."""
    err().print(f"[red]{message}[/red]", highlight=False)
    return typer.Exit(1)
