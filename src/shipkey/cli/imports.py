"""``shipkey import FILE.csv --format …``: buyers, sales and keys from another platform."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from shipkey.cli.common import database, migrate_sqlite, settings
from shipkey.terminal import err, out


class Format(enum.StrEnum):
    generic = "generic"
    gumroad = "gumroad"
    lemonsqueezy = "lemonsqueezy"
    keygen = "keygen"


def import_file(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="The CSV export.")
    ],
    format: Annotated[  # noqa: A002
        Format, typer.Option("--format", help="Whose export the file is.")
    ] = Format.generic,
    product: Annotated[
        str | None, typer.Option(help="Every row's product (id or slug), whatever the file says.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check and count only: nothing is written.")
    ] = False,
    notify: Annotated[
        bool, typer.Option("--notify", help="Send each new buyer the delivery e-mail.")
    ] = False,
) -> None:
    """Import buyers, COMPLETED purchases and license keys (kept verbatim) from another
    platform's CSV export. Nothing is sent unless --notify; running it again creates nothing
    twice; bad rows are refused with their line number (the header is line 1)."""
    import io

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from shipkey.imports.formats import ImportFormat
    from shipkey.imports.service import run_import

    config = settings()
    db = database(config)
    try:
        migrate_sqlite(config, db)
        size = file.stat().st_size
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TextColumn("{task.fields[rows]} rows"),
            TimeElapsedColumn(),
        )
        with (
            file.open("rb") as raw,
            io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="") as text,
            Progress(*columns, console=err()) as bar,
        ):
            task = bar.add_task("Checking" if dry_run else "Importing", total=size, rows=0)

            def progress(rows: int) -> None:
                bar.update(task, completed=raw.tell(), rows=rows)

            result = run_import(
                db,
                config,
                text,
                ImportFormat(format.value),
                product=product,
                dry_run=dry_run,
                notify=notify,
                progress=progress,
            )
            bar.update(task, completed=size)
    finally:
        db.dispose()
    what = "would be created" if dry_run else "created"
    out().print(
        f"{result.created} {what}, {result.skipped} skipped (imported before), "
        f"{result.refused_count} refused"
    )
    for refusal in result.refused:
        out().print(f"  line {refusal.line}: {refusal.reason}")
    if result.refused_count > len(result.refused):
        out().print(f"  … and {result.refused_count - len(result.refused)} more")
