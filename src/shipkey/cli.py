"""The ``shipkey`` command line."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from shipkey import migrate as migrations
from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.licensing.cli import keys_app, license_app
from shipkey.terminal import err, out

if TYPE_CHECKING:
    from rich.progress import TaskID

app = typer.Typer(
    help="shipkey: deliver digital products the moment they are paid for.",
    no_args_is_help=True,
    add_completion=False,
)
token_app = typer.Typer(help="Admin API tokens.", no_args_is_help=True)
products_app = typer.Typer(help="Products.", no_args_is_help=True)
purchases_app = typer.Typer(help="Purchases (manual sales).", no_args_is_help=True)
files_app = typer.Typer(
    help="Product files: resumable uploads, integrity checks.", no_args_is_help=True
)
app.add_typer(token_app, name="admin-token")
app.add_typer(products_app, name="products")
app.add_typer(purchases_app, name="purchases")
app.add_typer(files_app, name="files")
app.add_typer(keys_app, name="keys")
app.add_typer(license_app, name="license")

# Links are printed with soft_wrap so a narrow terminal never breaks a URL in two.


def _settings() -> Settings:
    return Settings()


def _database(settings: Settings) -> Database:
    return Database(settings.resolved_database_url)


@app.command()
def migrate() -> None:
    """Apply database migrations."""
    settings = _settings()
    db = _database(settings)
    try:
        migrations.upgrade(db.engine)
    finally:
        db.dispose()
    out().print("[green]Database is up to date.[/green]")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Web worker processes.")] = 1,
) -> None:
    """Run the web server (Granian). On SQLite, pending migrations are applied first."""
    from granian import Granian
    from granian.constants import Interfaces, Loops

    settings = _settings()
    if settings.is_sqlite:
        db = _database(settings)
        try:
            migrations.upgrade(db.engine)
        finally:
            db.dispose()
    # Resolve the generated secret once, before worker processes start.
    _ = settings.secret
    os.environ.setdefault("SHIPKEY_DATA_DIR", str(settings.resolved_data_dir))
    out().print(f"shipkey serving on http://{host}:{port}  (public URL {settings.base_url})")
    out().print(f"  API docs   {settings.base_url}/docs")
    out().print(f"  health     {settings.base_url}/healthz")
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


@app.command()
def worker(
    threads: Annotated[int, typer.Option(min=1, max=32, help="Jobs run in parallel.")] = 1,
) -> None:
    """Run the background worker alone (e-mail, retries); SIGTERM or Ctrl-C stops it cleanly.

    On SQLite, pending migrations are applied first.
    """
    import logging

    from shipkey.jobs.worker import run_until_signalled
    from shipkey.storage import storage_for

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = _settings()
    db = _database(settings)
    try:
        if settings.is_sqlite:
            migrations.upgrade(db.engine)
        out().print(f"shipkey worker: {threads} thread(s); stop with Ctrl-C or SIGTERM")
        run_until_signalled(settings, db, storage_for(settings), threads=threads)
    except KeyboardInterrupt:
        err().print("Stopped at once.")
    finally:
        db.dispose()


@app.command()
def demo() -> None:
    """Create the demo store (an e-book, software with a license, a course) and a demo sale."""
    from shipkey import demo as demo_store
    from shipkey.storage import storage_for

    settings = _settings()
    db = _database(settings)
    try:
        if settings.is_sqlite:
            migrations.upgrade(db.engine)
        storage = storage_for(settings)
        with db.session() as session:
            result = demo_store.seed(session, storage, settings)
            table = Table("product", "slug", "type", "price", "file")
            for product in result.products:
                new = " (new)" if product.slug in result.created else ""
                table.add_row(
                    product.name + new,
                    product.slug,
                    product.type.value,
                    f"{product.price / 100:.2f} {product.currency}",
                    product.file_name or "-",
                )
            out().print(table)
            if result.purchase is not None:
                out().print(f"Demo sale {result.purchase.id} to {result.purchase.email}")
            if result.download_url:
                out().print(f"  download link: {result.download_url}")
    finally:
        db.dispose()


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Option(help="A name to recognise the token by.")] = "",
) -> None:
    """Print a new admin API token (shown once; only its hash is kept)."""
    from shipkey.admin import service

    settings = _settings()
    db = _database(settings)
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

    settings = _settings()
    db = _database(settings)
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

    settings = _settings()
    db = _database(settings)
    try:
        with db.session() as session:
            if not service.revoke_token(session, token_id):
                err().print(f"No active token {token_id}.")
                raise typer.Exit(1)
    finally:
        db.dispose()
    out().print(f"Revoked {token_id}.")


@products_app.command("list")
def products_list() -> None:
    """List products."""
    from shipkey.catalog import service

    settings = _settings()
    db = _database(settings)
    try:
        with db.read_session() as session:
            table = Table("id", "slug", "name", "type", "price", "file", "size")
            for p in service.list_products(session):
                table.add_row(
                    p.id,
                    p.slug,
                    p.name,
                    p.type.value,
                    f"{p.price / 100:.2f} {p.currency}",
                    p.file_name or "-",
                    str(p.file_size or "-"),
                )
            out().print(table)
    finally:
        db.dispose()


@products_app.command("signed-url")
def products_signed_url(
    product: str,
    expires_in: Annotated[int, typer.Option(help="Seconds the link is valid.")] = 3600,
) -> None:
    """Print a stateless signed link to a product's file."""
    from shipkey.catalog import service as catalog
    from shipkey.downloads import signed as downloads
    from shipkey.errors import ShipkeyError

    settings = _settings()
    db = _database(settings)
    try:
        with db.read_session() as session:
            try:
                item = catalog.get_product(session, product)
                url, expires_at = downloads.make_signed_url(
                    session, settings.secret, settings.base_url, item, expires_in
                )
            except ShipkeyError as exc:
                err().print(f"[red]{exc.message}[/red]")
                raise typer.Exit(1) from exc
    finally:
        db.dispose()
    out().print(url)
    out().print(f"valid until {expires_at.isoformat()}")


@purchases_app.command("create")
def purchases_create(
    product: Annotated[str, typer.Option(help="Product id or slug.")],
    email: Annotated[str, typer.Option(help="The buyer's e-mail address.")],
    name: Annotated[str | None, typer.Option(help="The buyer's name.")] = None,
    pending: Annotated[bool, typer.Option(help="Record as PENDING instead of COMPLETED.")] = False,
) -> None:
    """Record a manual sale; a completed one is delivered at once."""
    from pydantic import ValidationError

    from shipkey.errors import ShipkeyError
    from shipkey.orders.models import PurchaseStatus
    from shipkey.orders.schemas import PurchaseCreate
    from shipkey.sales import flows

    settings = _settings()
    db = _database(settings)
    try:
        data = PurchaseCreate(
            product=product,
            email=email,
            name=name,
            status=PurchaseStatus.PENDING if pending else PurchaseStatus.COMPLETED,
        )
        with db.session() as session:
            purchase, delivery = flows.create_purchase(session, settings, data)
            out().print(f"Purchase {purchase.id}: {purchase.status.value}")
            for link in delivery.links if delivery else []:
                out().print(f"  download link: {link.url}")
    except (ShipkeyError, ValidationError) as exc:
        err().print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    finally:
        db.dispose()


@files_app.command("upload")
def files_upload(
    product: Annotated[str, typer.Argument(help="Product id or slug.")],
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    url: Annotated[
        str | None, typer.Option(help="shipkey's URL (default: SHIPKEY_BASE_URL).")
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(envvar="SHIPKEY_ADMIN_TOKEN", help="Admin API token.", show_default=False),
    ] = None,
    name: Annotated[str | None, typer.Option(help="File name buyers see.")] = None,
) -> None:
    """Upload a product file of any size, with a progress bar; run again to resume."""
    import httpx
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    from shipkey.catalog.upload_client import UploadError, upload

    settings = _settings()
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
            base_url=url or settings.base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(60, read=600),
        ) as http,
        Progress(*columns, console=err(), transient=False) as bar,
    ):
        tasks: dict[str, TaskID] = {}

        def progress(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase.capitalize(), total=total)
            bar.update(tasks[phase], completed=done)

        try:
            answer = upload(http, product, file, progress=progress, file_name=name)
        except (UploadError, httpx.HTTPError) as exc:
            err().print(f"[red]Upload failed: {exc}[/red]")
            err().print("Run the same command again to resume.")
            raise typer.Exit(1) from exc
    stored = answer["file"]
    out().print(f"Uploaded {stored['fileName']} ({stored['fileSize']} bytes) to {product}")
    out().print(f"SHA-256 {stored['sha256']}")


@files_app.command("verify")
def files_verify(
    products: Annotated[
        list[str] | None, typer.Argument(help="Products to check (default: all).")
    ] = None,
) -> None:
    """Read every stored product file again and compare its SHA-256 with the recorded one."""
    from shipkey.catalog.verify import verify_files
    from shipkey.errors import ShipkeyError
    from shipkey.storage import storage_for

    settings = _settings()
    db = _database(settings)
    try:
        with db.read_session() as session:
            try:
                results = verify_files(session, storage_for(settings), products or ())
            except ShipkeyError as exc:
                err().print(f"[red]{exc.message}[/red]")
                raise typer.Exit(1) from exc
    finally:
        db.dispose()
    table = Table("product", "status", "size", "sha256")
    for item in results:
        if item.actual is None:
            status = "[red]MISSING[/red]"
        elif item.ok:
            status = "[green]OK[/green]"
        else:
            status = "[red]CHANGED[/red]"
        table.add_row(item.product, status, str(item.size or "-"), item.actual or item.expected)
    out().print(table)
    bad = [item for item in results if not item.ok]
    if bad:
        err().print(f"[red]{len(bad)} of {len(results)} file(s) failed the check.[/red]")
        raise typer.Exit(1)
    out().print(f"{len(results)} file(s) verified.")


def main() -> None:
    app()
