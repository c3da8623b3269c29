"""The Granian supervisor that ``shipkey serve`` becomes once it has checked the settings.

``shipkey serve`` loads the settings, applies SQLite migrations and prints where it listens;
then it replaces itself (``exec``) with ``python -m shipkey.server …``. This module imports
Granian and nothing of shipkey: the supervisor only watches its workers, and each worker
process imports the app through the factory's import string. What the command line loaded
before (typer, rich, pydantic, SQLAlchemy, Alembic) is gone with the old process image, so it
takes no memory in the supervisor nor in the workers forked from it.

    python -m shipkey.server --host 127.0.0.1 --port 8000 --workers 1 --grace 30
"""

from __future__ import annotations

import argparse

APP_FACTORY = "shipkey.app:create_app_from_env"


def arguments(host: str, port: int, workers: int, grace: int) -> list[str]:
    """The command-line arguments :func:`main` reads, for these options."""
    return ["--host", host, "--port", str(port), "--workers", str(workers), "--grace", str(grace)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="shipkey.server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--grace",
        type=int,
        default=30,
        help="seconds a stopping worker may finish its requests before it is killed",
    )
    args = parser.parse_args(argv)

    from granian import Granian
    from granian.constants import Interfaces, Loops

    Granian(
        APP_FACTORY,
        address=args.host,
        port=args.port,
        interface=Interfaces.ASGI,
        workers=args.workers,
        factory=True,
        log_access=False,
        loop=Loops.asyncio,  # uvloop made no measurable difference here (bench/README.md)
        # On SIGTERM a worker stops accepting and finishes the requests it has (a download
        # may take minutes); after this many seconds it is killed (SHIPKEY_SHUTDOWN_GRACE).
        workers_kill_timeout=max(1, args.grace),
    ).serve()


if __name__ == "__main__":
    main()
