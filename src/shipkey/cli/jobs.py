"""``shipkey worker``: the background jobs (e-mail, retries) in a process of their own."""

from __future__ import annotations

from typing import Annotated

import typer

from shipkey.cli.common import database, migrate_sqlite, settings
from shipkey.terminal import err, out


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
    config = settings()
    db = database(config, audited=False)
    try:
        migrate_sqlite(config, db)
        out().print(f"shipkey worker: {threads} thread(s); stop with Ctrl-C or SIGTERM")
        run_until_signalled(config, db, storage_for(config), threads=threads)
    except KeyboardInterrupt:
        err().print("Stopped at once.")
    finally:
        db.dispose()
