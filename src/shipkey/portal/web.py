"""What every server-rendered page shares: the signed session cookie, CSRF, the language, and
rendering Jinja2 templates with the Babel catalogs the e-mails use.

The session lives in one cookie, signed with ``SHIPKEY_SECRET_KEY`` (itsdangerous; HttpOnly,
SameSite=Lax, Secure when the base URL is https). It carries the signed-in buyer's address or
the seller's sign-in, the CSRF token, the chosen language and one-time notices. Every POST from
a page carries the session's CSRF token in a hidden field (or the ``X-CSRF-Token`` header for
the upload script); anything else is refused with 403 before the handler runs.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Annotated, Any

from babel.core import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal
from fastapi import Depends, FastAPI, Request
from fastapi.staticfiles import StaticFiles
from itsdangerous import BadSignature, URLSafeTimedSerializer
from jinja2 import Environment, FileSystemLoader, Undefined, select_autoescape
from starlette.responses import HTMLResponse, RedirectResponse, Response

from shipkey.config import Settings
from shipkey.db import utcnow
from shipkey.mail.render import LOCALES, PACKAGE_DIR, format_when, normalise_locale, translations

TEMPLATE_DIR = PACKAGE_DIR / "templates"
STATIC_DIR = PACKAGE_DIR / "static"
COOKIE = "shipkey_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
COOKIE_MAX_AGE = 14 * 24 * 3600
BUYER_SESSION_SECONDS = 14 * 24 * 3600
ADMIN_SESSION_SECONDS = 12 * 3600
LANGUAGE_NAMES = {"en": "English", "de": "Deutsch"}


# --- the session ----------------------------------------------------------------------------


@dataclass
class WebSession:
    """The signed cookie's content. ``dirty`` sessions are written back on the response."""

    csrf: str
    email: str | None = None
    email_since: float | None = None
    admin: str | None = None
    admin_since: float | None = None
    locale: str | None = None
    after_sign_in: str | None = None
    notices: list[dict[str, str]] = field(default_factory=list)
    dirty: bool = False

    @classmethod
    def new(cls) -> WebSession:
        return cls(csrf=secrets.token_urlsafe(32), dirty=True)

    def to_cookie(self) -> dict[str, Any]:
        return {
            "c": self.csrf,
            "e": self.email,
            "es": self.email_since,
            "a": self.admin,
            "as": self.admin_since,
            "l": self.locale,
            "x": self.after_sign_in,
            "n": self.notices,
        }

    @classmethod
    def from_cookie(cls, data: object, now: float) -> WebSession | None:
        if not isinstance(data, dict) or not isinstance(data.get("c"), str):
            return None
        session = cls(csrf=data["c"])
        email, since = data.get("e"), data.get("es")
        if isinstance(email, str) and isinstance(since, int | float):
            if now - since < BUYER_SESSION_SECONDS:
                session.email, session.email_since = email, float(since)
            else:
                session.dirty = True
        admin, admin_since = data.get("a"), data.get("as")
        if isinstance(admin, str) and isinstance(admin_since, int | float):
            if now - admin_since < ADMIN_SESSION_SECONDS:
                session.admin, session.admin_since = admin, float(admin_since)
            else:
                session.dirty = True
        locale = data.get("l")
        if isinstance(locale, str) and locale in LOCALES:
            session.locale = locale
        after = data.get("x")
        if isinstance(after, str):
            session.after_sign_in = safe_next(after, "") or None
        notices = data.get("n")
        if isinstance(notices, list):
            session.notices = [
                {str(k): str(v) for k, v in item.items()}
                for item in notices[:5]
                if isinstance(item, dict)
            ]
        return session

    def remember_destination(self, path: str) -> None:
        """Where to go once the e-mailed link has been used (in this browser)."""
        self.after_sign_in = safe_next(path, "") or None
        self.dirty = True

    def take_destination(self, default: str) -> str:
        destination, self.after_sign_in = self.after_sign_in, None
        self.dirty = True
        return destination or default

    def sign_in_buyer(self, email: str) -> None:
        """Sign a buyer in; a fresh CSRF token, so nothing from before the sign-in carries on."""
        self.email, self.email_since = email, utcnow().timestamp()
        self.csrf = secrets.token_urlsafe(32)
        self.dirty = True

    def sign_in_admin(self, name: str) -> None:
        self.admin, self.admin_since = name, utcnow().timestamp()
        self.csrf = secrets.token_urlsafe(32)
        self.dirty = True

    def sign_out(self) -> None:
        self.email = self.email_since = self.admin = self.admin_since = None
        self.csrf = secrets.token_urlsafe(32)
        self.notices = []
        self.dirty = True

    def notify(self, message: str, kind: str = "ok", **extra: str) -> None:
        """A notice shown once, on the next page (after a redirect)."""
        self.notices = [*self.notices[-4:], {"kind": kind, "message": message, **extra}]
        self.dirty = True

    def take_notices(self) -> list[dict[str, str]]:
        notices, self.notices = self.notices, []
        if notices:
            self.dirty = True
        return notices

    def set_locale(self, locale: str) -> None:
        self.locale = locale if locale in LOCALES else None
        self.dirty = True


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret, salt="shipkey.web-session")


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_web_session(request: Request) -> WebSession:
    """The request's session (read from the cookie once; a new one when missing or forged)."""
    cached = getattr(request.state, "web_session", None)
    if isinstance(cached, WebSession):
        return cached
    session: WebSession | None = None
    raw = request.cookies.get(COOKIE)
    if raw and len(raw) < 4096:
        try:
            data = _serializer(_settings(request)).loads(raw, max_age=COOKIE_MAX_AGE)
        except BadSignature:
            data = None
        session = WebSession.from_cookie(data, utcnow().timestamp())
    if session is None:
        session = WebSession.new()
    request.state.web_session = session
    return session


WebSessionDep = Annotated[WebSession, Depends(get_web_session)]


def save_session(request: Request, response: Response) -> Response:
    """Write the session cookie when it changed."""
    session = getattr(request.state, "web_session", None)
    if isinstance(session, WebSession) and session.dirty:
        settings = _settings(request)
        response.set_cookie(
            COOKIE,
            _serializer(settings).dumps(session.to_cookie()),
            max_age=COOKIE_MAX_AGE,
            path="/",
            httponly=True,
            samesite="lax",
            secure=settings.base_url.startswith("https://"),
        )
    return response


# --- errors shown as pages ------------------------------------------------------------------


class PageError(Exception):
    """An error answered with an HTML page (status, a title and a sentence for people)."""

    def __init__(self, status_code: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.title = title
        self.message = message


class NeedsSignIn(Exception):
    """The page needs a signed-in buyer (or seller): redirect to the sign-in page."""

    def __init__(self, login_path: str, next_path: str) -> None:
        super().__init__(next_path)
        self.login_path = login_path
        self.next_path = next_path


def tr(request: Request, message: str, **values: Any) -> str:
    """``message`` translated into the request's language."""
    text = translations(page_locale(request)).gettext(message)
    return text % values if values else text


async def check_csrf(request: Request) -> None:
    """Refuse (403) a POST whose CSRF token is missing or not the session's."""
    if request.method != "POST" and request.method != "PUT":
        return
    session = get_web_session(request)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent.encode(), session.csrf.encode()):
        raise PageError(
            403,
            tr(request, "This form has expired"),
            tr(
                request,
                "The form was sent without a valid security token. "
                "Go back, reload the page and try again.",
            ),
        )


CsrfChecked = Depends(check_csrf)


def safe_next(value: str | None, default: str) -> str:
    """A local path to go to after signing in (never another site)."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value[:500]
    return default


# --- language -------------------------------------------------------------------------------


def _accept_language(header: str | None) -> str | None:
    """The first language of ``Accept-Language`` (by q) that shipkey speaks."""
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header[:500].split(",")):
        tag, _sep, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
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
    session = get_web_session(request)
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
    try:
        return format_currency(amount / 100, currency, locale=locale)
    except (ValueError, UnknownLocaleError):
        return f"{amount / 100:.2f} {currency}"


def number(value: int, locale: str) -> str:
    return format_decimal(value, locale=locale)


def short_date(value: datetime, locale: str) -> str:
    return format_date(value.astimezone(UTC), "medium", locale=locale)


def short_date_plain(value: date, locale: str) -> str:
    return format_date(value, "medium", locale=locale)


@lru_cache(maxsize=len(LOCALES))
def environment(locale: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        auto_reload=False,  # the package's own templates: no stat() of the file per render
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=Undefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_translations(  # type: ignore[attr-defined]
        translations(locale), newstyle=True
    )
    env.filters["when"] = lambda value: format_when(value, locale) if value else "—"
    env.filters["date"] = lambda value: short_date(value, locale) if value else "—"
    env.filters["money"] = lambda amount, currency: money(amount, currency, locale)
    env.filters["number"] = lambda value: number(value, locale)
    env.globals["language_name"] = Locale.parse(locale).get_display_name(locale)
    return env


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
        "now": utcnow(),
        **(context or {}),
    }
    html = environment(lang).get_template(template).render(values)
    response = HTMLResponse(
        html,
        status_code=status_code,
        headers={
            "Cache-Control": "no-store",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "same-origin",
            "X-Content-Type-Options": "nosniff",
        },
    )
    return save_session(request, response)  # type: ignore[return-value]


def redirect(request: Request, url: str) -> Response:
    """303 See Other to a local page (after a form), writing the session back."""
    return save_session(request, RedirectResponse(url, status_code=303))


def install(app: FastAPI) -> None:
    """The static files and the HTML error pages of both the portal and the admin."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.exception_handler(PageError)
    async def _page_error(request: Request, exc: PageError) -> Response:
        return render(
            request,
            "error.html",
            {"title": exc.title, "message": exc.message},
            status_code=exc.status_code,
        )

    @app.exception_handler(NeedsSignIn)
    async def _needs_sign_in(request: Request, exc: NeedsSignIn) -> Response:
        from urllib.parse import urlencode

        return redirect(request, f"{exc.login_path}?{urlencode({'next': exc.next_path})}")
