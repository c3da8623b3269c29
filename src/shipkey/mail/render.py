"""Rendering e-mail templates (Jinja2) in the buyer's language (Babel catalogs).

Catalogs are kept as ``.po`` files and compiled in memory when first used, so no binary ``.mo``
file lives in the repository. HTML templates are autoescaped; text templates are not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import Any

from babel.dates import format_date, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

PACKAGE_DIR = Path(__file__).resolve().parent.parent
TEMPLATE_DIR = PACKAGE_DIR / "templates" / "mail"
TRANSLATIONS_DIR = PACKAGE_DIR / "translations"
SOURCE_LOCALE = "en"
LOCALES = ("en", "de")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def normalise_locale(locale: str | None, default: str = SOURCE_LOCALE) -> str:
    """``de-DE``, ``de_AT`` → ``de``; anything unsupported → ``default``."""
    if locale:
        language = locale.replace("-", "_").split("_")[0].lower()
        if language in LOCALES:
            return language
    return default if default in LOCALES else SOURCE_LOCALE


@lru_cache(maxsize=len(LOCALES))
def translations(locale: str) -> NullTranslations:
    """The catalog for ``locale``, compiled from its ``.po`` file (English needs none)."""
    if locale == SOURCE_LOCALE:
        return NullTranslations()
    path = TRANSLATIONS_DIR / locale / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


def format_when(value: datetime, locale: str) -> str:
    """A point in time for people: ``29 November 2026 14:05 UTC`` in the buyer's language."""
    when = value.astimezone(UTC)
    date = format_date(when, "long", locale=locale)
    return f"{date} {format_time(when, 'HH:mm', tzinfo=UTC, locale=locale)} UTC"


@lru_cache(maxsize=len(LOCALES))
def environment(locale: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        auto_reload=False,  # the package's own templates: no stat() of the file per render
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_translations(  # type: ignore[attr-defined]
        translations(locale), newstyle=True
    )
    env.filters["when"] = lambda value: format_when(value, locale)
    return env


def render(kind: str, locale: str, context: dict[str, Any]) -> Rendered:
    """Subject, text and HTML of the message ``kind`` in ``locale``."""
    env = environment(normalise_locale(locale))
    values = {**context, "locale": locale}
    subject = env.get_template(f"{kind}.subject.txt").render(values)
    return Rendered(
        subject=_SPACE.sub(" ", subject).strip(),
        text=env.get_template(f"{kind}.txt").render(values).strip() + "\n",
        html=env.get_template(f"{kind}.html").render(values),
    )
