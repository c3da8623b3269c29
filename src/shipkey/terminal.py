"""Rich consoles for the command line.

Made per call so that they write to whatever ``sys.stdout`` is at that moment
(a test runner swaps it) and so that piped output is never cut to 80 columns:
ids and URLs in a table must survive ``shipkey … | grep``.
"""

from __future__ import annotations

import sys
from typing import TextIO

from rich.console import Console

PIPE_WIDTH = 240


def _for(stream: TextIO) -> Console:
    width = None if stream.isatty() else PIPE_WIDTH
    return Console(file=stream, soft_wrap=True, width=width)


def out() -> Console:
    """The console for results."""
    return _for(sys.stdout)


def err() -> Console:
    """The console for errors and progress."""
    return _for(sys.stderr)
