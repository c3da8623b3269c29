"""The languages shipkey speaks: Babel catalogs (kept as ``.po`` files and compiled in memory
when first used, so no binary ``.mo`` file lives in the repository) and the formats every page
and e-mail shares."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from io import BytesIO
from pathlib import Path

from babel.dates import format_date, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from jinja2 import Environment, FileSystemLoader, Undefined, select_autoescape

PACKAGE_DIR = Path(__file__).resolve().parent
TRANSLATIONS_DIR = PACKAGE_DIR / "translations"
SOURCE_LOCALE = "en"
LOCALES = ("en", "de")


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


def spoken_locale(locale: str | None) -> str | None:
    """The language of a locale (``de-CH`` → ``de``) when shipkey speaks it, else None."""
    language = locale.replace("-", "_").split("_")[0].lower() if locale else None
    return language if language in LOCALES else None


def jinja_environment(
    template_dir: Path,
    locale: str,
    *,
    undefined: type[Undefined] = Undefined,
    escape_strings: bool,
    keep_trailing_newline: bool = False,
) -> Environment:
    """Jinja2 over the package's own ``template_dir``, speaking ``locale``: gettext from the
    catalog (``{% trans %}``, trimmed), ``.html`` templates autoescaped."""
    env = Environment(
        loader=FileSystemLoader(template_dir),
        auto_reload=False,  # the package's own templates: no stat() of the file per render
        autoescape=select_autoescape(
            enabled_extensions=("html",), default_for_string=escape_strings
        ),
        undefined=undefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=keep_trailing_newline,
        extensions=["jinja2.ext.i18n"],
    )
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_translations(  # type: ignore[attr-defined]
        translations(locale), newstyle=True
    )
    return env
