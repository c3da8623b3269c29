"""``shipkey products …``: list products, sign a link to a product's file."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from shipkey.cli.common import database, group, locations, settings
from shipkey.terminal import err, out

MAX_LINK_SECONDS = 90 * 24 * 3600
"""shipkey.downloads.signed.MAX_SIGNED_URL_SECONDS (a test keeps them equal), written out so
that the command line's help does not load the downloads package."""

products_app = group(help="Products.", no_args_is_help=True)


@products_app.command("list")
def products_list() -> None:
    """List products."""
    # One plain SQL statement: on SQLite through sqlite3 alone, otherwise on the engine's plain
    # connection. No ORM, no models, no audit hooks (reading changes nothing), no migrations
    # check, and no pydantic (only the database's location is read from the settings).
    from shipkey.catalog.listing import QUERY, product_rows
    from shipkey.db.plain import sqlite_file, sqlite_reader

    found = locations()
    path = sqlite_file(found.resolved_database_url)
    if path is not None:
        with sqlite_reader(path) as reader:
            rows = product_rows(reader.execute(QUERY))
    else:
        db = database(found, audited=False)
        try:
            with db.read_connection() as conn:
                rows = product_rows(conn.exec_driver_sql(QUERY))
        finally:
            db.dispose()
    table = Table("id", "slug", "name", "type", "price", "file", "size")
    for p in rows:
        table.add_row(
            p.id,
            p.slug,
            p.name,
            p.type,
            f"{p.price / 100:.2f} {p.currency}",
            p.file_name or "-",
            str(p.file_size or "-"),
        )
    out().print(table)


@products_app.command("signed-url")
def products_signed_url(
    product: str,
    expires_in: Annotated[
        int,
        typer.Option(min=1, max=MAX_LINK_SECONDS, help="Seconds the link is valid."),
    ] = 3600,
) -> None:
    """Print a stateless signed link to a product's file."""
    from shipkey.catalog import service as catalog
    from shipkey.downloads import signed as downloads
    from shipkey.errors import ShipkeyError

    config = settings()
    db = database(config, audited=False)
    try:
        with db.read_session() as session:
            try:
                item = catalog.get_product(session, product)
                url, expires_at = downloads.make_signed_url(
                    session, config.secret, config.base_url, item, expires_in
                )
            except ShipkeyError as exc:
                err().print(f"[red]{exc.message}[/red]")
                raise typer.Exit(1) from exc
    finally:
        db.dispose()
    out().print(url)
    out().print(f"valid until {expires_at.isoformat()}")


key_pool_app = group(help="A product's pool of license keys made elsewhere.")
products_app.add_typer(key_pool_app, name="key-pool")


@key_pool_app.command("add")
def key_pool_add(
    product: Annotated[str, typer.Argument(help="Product id or slug.")],
    file: Annotated[
        typer.FileText, typer.Argument(help="The keys, one a line (- for standard input).")
    ],
) -> None:
    """Add keys to a product's pool: its sales get them, in this order, instead of generated
    keys; sales that waited for a key get theirs by e-mail."""
    from shipkey.errors import ShipkeyError
    from shipkey.sales import key_pools

    config = settings()
    db = database(config)
    try:
        with db.session() as session:
            added = key_pools.add_keys(session, config, product, file)
    except ShipkeyError as exc:
        err().print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    finally:
        db.dispose()
    out().print(f"{added.added} added, {added.duplicates} duplicates, {added.available} available")


@key_pool_app.command("show")
def key_pool_show(product: Annotated[str, typer.Argument(help="Product id or slug.")]) -> None:
    """How many keys of a product's pool are free."""
    from shipkey.errors import ShipkeyError
    from shipkey.licensing import pools
    from shipkey.sales import key_pools

    db = database(settings(), audited=False)
    try:
        with db.read_session() as session:
            found = key_pools.licensed_product(session, product)
            out().print(f"{pools.available(session, found.id)} available")
    except ShipkeyError as exc:
        err().print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    finally:
        db.dispose()
