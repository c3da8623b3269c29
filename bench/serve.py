"""Serve a benchmark app with the server and options ``shipkey serve`` uses (Granian, ASGI),
or with uvicorn (uvloop and httptools, as ``uvicorn[standard]``) for comparison.

python -m bench.serve --port 8100 --workers 1 [--app bench.apps:create_bench_app] [--server uvicorn]
"""

from __future__ import annotations

import argparse

import uvicorn
from granian import Granian
from granian.constants import Interfaces, Loops, RuntimeModes


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--app", default="bench.apps:create_bench_app")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--runtime-mode", choices=[mode.value for mode in RuntimeModes], default="auto"
    )
    parser.add_argument("--server", choices=["granian", "uvicorn"], default="granian")
    args = parser.parse_args(argv)
    if args.server == "uvicorn":
        uvicorn.run(
            args.app,
            host=args.host,
            port=args.port,
            workers=args.workers,
            factory=True,
            loop="uvloop",
            http="httptools",
            access_log=False,
            log_level="warning",
        )
        return
    Granian(
        args.app,
        address=args.host,
        port=args.port,
        interface=Interfaces.ASGI,
        workers=args.workers,
        factory=True,
        log_access=False,
        runtime_mode=RuntimeModes(args.runtime_mode),
        loop=Loops.asyncio,  # as shipkey serve, whether or not uvloop is installed
    ).serve()


if __name__ == "__main__":
    main()
