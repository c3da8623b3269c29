"""``shipkey admin-token …``: create, list and revoke admin API tokens."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from shipkey.cli.common import database, group, settings
from shipkey.terminal import err, out

token_app = group(help="Admin API tokens.", no_args_is_help=True)


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Option(help="A name to recognise the token by.")] = "",
) -> None:
    """Print a new admin API token (shown once; only its hash is kept)."""
    from shipkey.admin import service

    db = database(settings())
    try:
        with db.session() as session:
            _, raw = service.create_token(session, name)
    finally:
        db.dispose()
    print(raw)


@token_app.command("list")
def token_list() -> None:
    """List admin tokens (never their values)."""
    from shipkey.admin import service

    db = database(settings(), audited=False)
    try:
        with db.read_session() as session:
            table = Table("id", "name", "created", "last used", "revoked")
            for token in service.list_tokens(session):
                table.add_row(
                    token.id,
                    token.name,
                    token.created_at.isoformat(timespec="seconds"),
                    token.last_used_at.isoformat(timespec="seconds") if token.last_used_at else "-",
                    token.revoked_at.isoformat(timespec="seconds") if token.revoked_at else "-",
                )
            out().print(table)
    finally:
        db.dispose()


@token_app.command("revoke")
def token_revoke(token_id: str) -> None:
    """Revoke an admin token by id."""
    from shipkey.admin import service

    db = database(settings())
    try:
        with db.session() as session:
            if not service.revoke_token(session, token_id):
                err().print(f"No active token {token_id}.")
                raise typer.Exit(1)
    finally:
        db.dispose()
    out().print(f"Revoked {token_id}.")
