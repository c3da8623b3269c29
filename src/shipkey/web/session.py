"""The session of a page visitor: one cookie, signed with ``SHIPKEY_SECRET_KEY`` (itsdangerous;
HttpOnly, SameSite=Lax, Secure when the base URL is https). It carries the signed-in buyer's
address or the seller's sign-in, the CSRF token, the chosen language and one-time notices.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.responses import Response

from shipkey.clock import utcnow
from shipkey.config import Settings
from shipkey.i18n import LOCALES

COOKIE = "shipkey_session"
CSRF_FIELD = "csrf_token"
COOKIE_MAX_AGE = 14 * 24 * 3600
BUYER_SESSION_SECONDS = 14 * 24 * 3600
ADMIN_SESSION_SECONDS = 12 * 3600


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


def safe_next(value: str | None, default: str) -> str:
    """A local path to go to after signing in (never another site)."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value[:500]
    return default
