"""What every command starts from: the settings from the environment, and the database."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from shipkey.terminal import err

if TYPE_CHECKING:
    import httpx
    from rich.progress import Progress

    from shipkey.actor import ActorSource
    from shipkey.config import Settings
    from shipkey.db.engine import Database
    from shipkey.locations import Locations

# Nothing heavy is imported at the top of the command modules: ``shipkey --help`` builds every
# command's options, and it should not wait for SQLAlchemy, pydantic or the app to load.


class CommandGroup(TyperGroup):
    """A command group whose ``--help`` flags (its own and its commands') need no pydantic.

    typer 0.29 checks every parameter's value with a pydantic ``TypeAdapter``, built the first
    time the parameter is processed, and the ``--help`` flag is processed on every command of
    the path (its value is ``None`` when it is not given): that alone loaded pydantic for
    ``shipkey products list`` (about 0.1 s of CPU). The flag's value is ``None`` or a ``bool``,
    which typer passes through as it is; the flag gets the pass-through check typer uses for
    types pydantic cannot describe, and commands with options of their own still build their
    adapters. A typer without that machinery (older, click-based) is left as it is."""

    def get_help_option(self, ctx: Any) -> Any:
        return _plain_flag(super().get_help_option(ctx))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _plain_flag(command.get_help_option(ctx))
        return command


def _plain_flag(option: Any) -> Any:
    if option is not None and getattr(option, "_runtime_param", False) is None:
        try:
            from typer._coercion import PassThroughRuntimeParam
        except ImportError:  # pragma: no cover - another typer
            return option
        option._runtime_param = PassThroughRuntimeParam(
            parameter_info=option.type_descriptor.parameter_info, annotation=bool
        )
    return option


def group(**options: Any) -> typer.Typer:
    """A ``typer.Typer`` of :class:`CommandGroup` (every command group of shipkey is one)."""
    return typer.Typer(cls=CommandGroup, **options)


def settings() -> Settings:
    from shipkey.config import Settings

    return Settings()


def locations() -> Locations:
    """The data directory and the database URL alone, read by the rules ``Settings()`` reads
    them with but without pydantic (:mod:`shipkey.locations`): for commands that only read the
    database and need no other setting."""
    from shipkey import locations

    return locations.read()


def database(settings: Settings | Locations, *, audited: bool = True) -> Database:
    """The database; with ``audited`` (every command that changes something) what the command
    changes is written to the audit log as ``cli.<command>`` by ``cli:<user>``, in the
    transaction of the change (see :mod:`shipkey.actor`). Commands that only read (and the
    worker) pass ``audited=False``: reading is no admin action, and the audit hooks load the
    ORM and every model."""
    from shipkey.db.engine import Database

    db = Database(settings.resolved_database_url)
    if audited:
        from shipkey.audit import service as audit

        audit.install()
        db.actor = command_actor()
    return db


def command_actor() -> ActorSource:
    """``cli:<user>`` as the actor, with the running command and its options noted."""
    from shipkey.actor import Actor, ActorSource, Note

    source = ActorSource()
    source.set_actor(Actor(f"cli:{_user()}"))
    ctx = _current_context()
    if ctx is not None:
        words = ctx.command_path.split()[1:]
        params: dict[str, Any] = {
            key: value
            if isinstance(value, str | int | float | bool) or value is None
            else str(value)
            for key, value in ctx.params.items()
        }
        source.note(Note("cli." + ".".join(words or ["shipkey"]), None, params))
    return source


def _current_context() -> Any:
    """The running command's context (typer keeps its own copy of click)."""
    import importlib

    try:
        module = importlib.import_module("typer._click.globals")
    except ImportError:  # a typer that uses click itself
        module = importlib.import_module("click.globals")
    return module.get_current_context(silent=True)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        return "unknown"


def migrate_sqlite(settings: Settings, db: Database) -> None:
    """Apply pending migrations when the database is SQLite (a one-machine install)."""
    if settings.is_sqlite:
        from shipkey import migrate as migrations

        migrations.upgrade(db.engine)


def fail(message: str) -> typer.Exit:
    """Print ``message`` in red on standard error; the exit (code 1) to raise after it."""
    err().print(f"[red]{message}[/red]", highlight=False)
    return typer.Exit(1)


AdminUrl = Annotated[str | None, typer.Option(help="shipkey's URL (default: SHIPKEY_BASE_URL).")]
"""The ``--url`` option of the commands that call the admin API."""
AdminToken = Annotated[
    str | None,
    typer.Option(envvar="SHIPKEY_ADMIN_TOKEN", help="Admin API token.", show_default=False),
]
"""The ``--token`` option of the commands that call the admin API."""


@contextmanager
def admin_upload(url: str | None, token: str | None) -> Iterator[tuple[httpx.Client, Progress]]:
    """What a command that sends files over the admin API works with: a client of ``url``
    (default: SHIPKEY_BASE_URL) with the admin token, whose reads wait long enough for a large
    body to be stored, and a progress bar of bytes on stderr. Exits (2) without a token."""
    import httpx
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    if not token:
        err().print("[red]Give an admin token with --token or SHIPKEY_ADMIN_TOKEN.[/red]")
        raise typer.Exit(2)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with (
        httpx.Client(
            base_url=url or settings().base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(60, read=600),
        ) as http,
        Progress(*columns, console=err(), transient=False) as bar,
    ):
        yield http, bar
