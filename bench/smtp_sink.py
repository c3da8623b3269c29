"""An SMTP server that only counts: each accepted message becomes a line in a file.

    python -m bench.smtp_sink --port 2525 --out received.txt

A line is ``<unix time> <recipient>``, one per recipient of each accepted message. It runs in
its own process so that it never competes with the load generator for the GIL.
"""

from __future__ import annotations

import argparse
import signal
import threading
import time
from pathlib import Path
from typing import IO

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


class Sink:
    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        now = time.time()
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.out.write(f"{now:.6f} {rcpt}\n")
            self.out.flush()
        return "250 OK"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    with args.out.open("a", encoding="utf-8") as out:
        controller = Controller(Sink(out), hostname="127.0.0.1", port=args.port)
        controller.start()
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        stop.wait()
        controller.stop()


if __name__ == "__main__":
    main()
