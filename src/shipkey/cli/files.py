"""``shipkey files …``: upload a product file over the API (resumable), verify stored files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from shipkey.cli.common import AdminToken, AdminUrl, admin_upload, database, group, settings
from shipkey.terminal import err, out

if TYPE_CHECKING:
    from rich.progress import TaskID

files_app = group(help="Product files: resumable uploads, integrity checks.", no_args_is_help=True)


@files_app.command("upload")
def files_upload(
    product: Annotated[str, typer.Argument(help="Product id or slug.")],
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    url: AdminUrl = None,
    token: AdminToken = None,
    name: Annotated[str | None, typer.Option(help="File name buyers see.")] = None,
) -> None:
    """Upload a product file of any size, with a progress bar; run again to resume."""
    import httpx

    from shipkey.catalog.upload_client import UploadError, upload

    with admin_upload(url, token) as (http, bar):
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

    config = settings()
    db = database(config, audited=False)
    try:
        with db.read_session() as session:
            try:
                results = verify_files(session, storage_for(config), products or ())
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
