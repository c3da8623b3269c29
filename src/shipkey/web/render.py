"""Pages in the visitor's language: rendering Jinja2 templates with the Babel catalogs the
e-mails use, and the formats (money, numbers, dates) they show."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from fastapi import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from shipkey.clock import utcnow
from shipkey.i18n import (
    LOCALES,
    PACKAGE_DIR,
    format_when,
    jinja_environment,
    label,
    normalise_locale,
    translations,
)
from shipkey.web.session import (
    CSRF_FIELD,
    _settings,
    cookie_session,
    get_web_session,
    save_session,
)

if TYPE_CHECKING:
    from jinja2 import Environment

# Babel and Jinja2 load with the first page or format (see shipkey.i18n).

TEMPLATE_DIR = PACKAGE_DIR / "templates"
STATIC_DIR = PACKAGE_DIR / "static"
LANGUAGE_NAMES = {"en": "English", "de": "Deutsch"}


def tr(request: Request, message: str, **values: Any) -> str:
    """``message`` translated into the request's language."""
    text = translations(page_locale(request)).gettext(message)
    return text % values if values else text


# --- language -------------------------------------------------------------------------------


_QVALUE = re.compile(r"0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?")
"""A weight (RFC 9110 §12.4.2) in ASCII: float() would take "inf", "1_0" or "١"."""


def _accept_language(header: str | None) -> str | None:
    """The first language of ``Accept-Language`` (by q) that shipkey speaks."""
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header[:500].split(",")):
        tag, _sep, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            qvalue = params.strip()[2:]
            quality = float(qvalue) if _QVALUE.fullmatch(qvalue) else 0.0
        if tag and quality > 0:
            ranked.append((-quality, index, tag))
    for _q, _i, tag in sorted(ranked):
        language = tag.replace("_", "-").split("-")[0].lower()
        if language in LOCALES:
            return language
    return None


def page_locale(request: Request, purchase_locale: str | None = None) -> str:
    """The page's language: the one chosen on the site, else the browser's, else the
    purchase's, else ``SHIPKEY_DEFAULT_LOCALE``."""
    session = cookie_session(request)
    settings = _settings(request)
    if session.locale:
        return session.locale
    browser = _accept_language(request.headers.get("accept-language"))
    if browser:
        return browser
    if purchase_locale:
        return normalise_locale(purchase_locale, settings.default_locale)
    return settings.default_locale


# --- rendering ------------------------------------------------------------------------------


def money(amount: int, currency: str, locale: str) -> str:
    from babel.core import UnknownLocaleError
    from babel.numbers import format_currency

    try:
        return format_currency(amount / 100, currency, locale=locale)
    except (ValueError, UnknownLocaleError):
        return f"{amount / 100:.2f} {currency}"


def number(value: int, locale: str) -> str:
    from babel.numbers import format_decimal

    return format_decimal(value, locale=locale)


def short_date(value: datetime, locale: str) -> str:
    from babel.dates import format_date

    return format_date(value.astimezone(UTC), "medium", locale=locale)


def short_date_plain(value: date, locale: str) -> str:
    from babel.dates import format_date

    return format_date(value, "medium", locale=locale)


def when(value: datetime | str | None, locale: str) -> str:
    """A point in time for the pages; an ISO 8601 string (as risk evidence keeps its times in
    JSON) is read first, and anything else is shown as it is."""
    if not value:
        return "—"
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        value = moment
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return format_when(value, locale)


@lru_cache(maxsize=len(LOCALES))
def environment(locale: str) -> Environment:
    from babel.core import Locale

    env = jinja_environment(TEMPLATE_DIR, locale, escape_strings=True)
    env.filters["when"] = lambda value: when(value, locale)
    env.filters["date"] = lambda value: short_date(value, locale) if value else "—"
    env.filters["money"] = lambda amount, currency: money(amount, currency, locale)
    env.filters["number"] = lambda value: number(value, locale)
    env.filters["label"] = lambda value, kind=None: label(value, locale, kind)
    env.globals["language_name"] = Locale.parse(locale).get_display_name(locale)
    return env


TOKEN_PATHS = ("/login/", "/access/")
"""Pages whose address holds a secret token: they send no ``Referer`` at all."""


def page_headers(request: Request) -> dict[str, str]:
    """What every HTML page sends: never cached (they show one visitor's things), never framed
    (clickjacking), never sniffed as another type, and its address never sent to another site
    (none of it from a page with a token in its address)."""
    token_in_path = request.url.path.startswith(TOKEN_PATHS)
    return {
        "Cache-Control": "no-store",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer" if token_in_path else "same-origin",
        "X-Content-Type-Options": "nosniff",
    }


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    locale: str | None = None,
) -> HTMLResponse:
    """Render a page in the request's language and write the session back."""
    session = get_web_session(request)
    lang = locale or page_locale(request)
    values = {
        "request_path": request.url.path,
        "csrf_token": session.csrf,
        "csrf_field": CSRF_FIELD,
        "locale": lang,
        "languages": LANGUAGE_NAMES,
        "notices": session.take_notices(),
        "buyer_email": session.email,
        "admin_name": session.admin,
        "imprint": _settings(request).seller_imprint,
        "now": utcnow(),
        **(context or {}),
    }
    html = environment(lang).get_template(template).render(values)
    response = HTMLResponse(html, status_code=status_code, headers=page_headers(request))
    return save_session(request, response)  # type: ignore[return-value]


def redirect(request: Request, url: str) -> Response:
    """303 See Other to a local page (after a form), writing the session back."""
    return save_session(request, RedirectResponse(url, status_code=303))


def page(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    purchase_locale: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """A public page outside the portal (after checkout, behind an access link):
    ``templates/pages/<template>`` in the language chosen on the site, else the browser's, else
    the purchase's, with every page's headers (:func:`page_headers`)."""
    locale = page_locale(request, purchase_locale)
    html = (
        environment(locale)
        .get_template(f"pages/{template}")
        .render({"locale": locale, "imprint": _settings(request).seller_imprint, **context})
    )
    return HTMLResponse(html, status_code=status_code, headers=page_headers(request))
