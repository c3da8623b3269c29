"""Rendering e-mail templates (Jinja2) in the buyer's language (Babel catalogs).

Catalogs are kept as ``.po`` files and compiled in memory when first used, so no binary ``.mo``
file lives in the repository. HTML templates are autoescaped; text templates are not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from shipkey.i18n import (
    LOCALES,
    PACKAGE_DIR,
    format_when,
    jinja_environment,
    normalise_locale,
)

if TYPE_CHECKING:
    from jinja2 import Environment

TEMPLATE_DIR = PACKAGE_DIR / "templates" / "mail"
_NOT_IN_HEADERS = re.compile(r"[\s\x00-\x1f\x7f-\x9f]+")
"""Whitespace and control characters: nothing in a header but plain spaces (line breaks would
start another header; a NUL or an escape sequence can confuse mail servers and clients)."""


def header_line(value: str) -> str:
    """``value`` as one header line: every run of whitespace or control characters (line breaks
    included) becomes one space, so a name in a subject can never add a header."""
    return _NOT_IN_HEADERS.sub(" ", value).strip()


def fit_for_address(value: str) -> bool:
    """Whether ``value`` has no whitespace or control character (it goes into ``To``)."""
    return bool(value) and _NOT_IN_HEADERS.search(value) is None


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@lru_cache(maxsize=len(LOCALES))
def environment(locale: str) -> Environment:
    from jinja2 import StrictUndefined

    env = jinja_environment(
        TEMPLATE_DIR,
        locale,
        undefined=StrictUndefined,
        escape_strings=False,
        keep_trailing_newline=True,
    )
    env.filters["when"] = lambda value: format_when(value, locale)
    return env


def render(kind: str, locale: str, context: dict[str, Any]) -> Rendered:
    """Subject, text and HTML of the message ``kind`` in ``locale``."""
    env = environment(normalise_locale(locale))
    values = {**context, "locale": locale}
    subject = env.get_template(f"{kind}.subject.txt").render(values)
    return Rendered(
        subject=header_line(subject),
        text=env.get_template(f"{kind}.txt").render(values).strip() + "\n",
        html=env.get_template(f"{kind}.html").render(values),
    )
