"""Server-rendered pages: one Jinja2 environment over ``templates/pages`` (autoescaped)."""

from __future__ import annotations

from pathlib import Path

from fastapi.templating import Jinja2Templates

PAGES_DIR = Path(__file__).resolve().parent / "templates" / "pages"

templates = Jinja2Templates(directory=PAGES_DIR)
