"""The session of a page visitor: one cookie, signed with ``SHIPKEY_SECRET_KEY`` (itsdangerous;
HttpOnly, SameSite=Lax, Secure when the base URL is https). It carries the CSRF token, the chosen
language, one-time notices and the ids of the visitor's sign-ins (a buyer's, the seller's).

Who is signed in is kept on the server (:mod:`shipkey.web.sign_ins`): the cookie's ids are read
once per request that needs the visitor (:func:`get_web_session`, one read by primary key), so
signing out, or revoking the admin token the seller signed in with, ends a session at once,
wherever its cookie was copied. Callers on the event loop (the CSRF check, the page's language)
use :func:`cookie_session`, which reads the cookie only.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session
from starlette.responses import Response

from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.i18n import LOCALES
from shipkey.web import sign_ins

COOKIE = "shipkey_session"
CSRF_FIELD = "csrf_token"
COOKIE_MAX_AGE = 14 * 24 * 3600


def _sid(value: object) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= sign_ins.MAX_ID_LENGTH else None


@dataclass
class WebSession:
    """The signed cookie's content. ``dirty`` sessions are written back on the response.

    ``email`` and ``admin`` (who is signed in) are known once the sign-ins were looked up
    (``resolved``, by :func:`get_web_session`)."""

    csrf: str
    buyer_sid: str | None = None
    admin_sid: str | None = None
    email: str | None = None
    admin: str | None = None
    resolved: bool = False
    locale: str | None = None
    after_sign_in: str | None = None
    notices: list[dict[str, str]] = field(default_factory=list)
    dirty: bool = False

    @classmethod
    def new(cls) -> WebSession:
        return cls(csrf=secrets.token_urlsafe(32), resolved=True, dirty=True)

    def to_cookie(self) -> dict[str, Any]:
        return {
            "c": self.csrf,
            "b": self.buyer_sid,
            "s": self.admin_sid,
            "l": self.locale,
            "x": self.after_sign_in,
            "n": self.notices,
        }

    @classmethod
    def from_cookie(cls, data: object) -> WebSession | None:
        if not isinstance(data, dict) or not isinstance(data.get("c"), str):
            return None
        session = cls(csrf=data["c"], buyer_sid=_sid(data.get("b")), admin_sid=_sid(data.get("s")))
        session.resolved = session.buyer_sid is None and session.admin_sid is None
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

    def resolve(self, db: Database) -> None:
        """Look the cookie's sign-ins up (once): sessions that ended are dropped."""
        if self.resolved:
            return
        self.resolved = True
        found = sign_ins.find(db, [sid for sid in (self.buyer_sid, self.admin_sid) if sid])
        buyer = found.get(self.buyer_sid or "")
        admin = found.get(self.admin_sid or "")
        if buyer is not None and buyer.kind == sign_ins.BUYER:
            self.email = buyer.name
        elif self.buyer_sid is not None:
            self.buyer_sid, self.dirty = None, True
        if admin is not None and admin.kind == sign_ins.ADMIN:
            self.admin = admin.name
        elif self.admin_sid is not None:
            self.admin_sid, self.dirty = None, True

    def remember_destination(self, path: str) -> None:
        """Where to go once the e-mailed link has been used (in this browser)."""
        self.after_sign_in = safe_next(path, "") or None
        self.dirty = True

    def take_destination(self, default: str) -> str:
        destination, self.after_sign_in = self.after_sign_in, None
        self.dirty = True
        return destination or default

    def sign_in_buyer(self, session: Session, email: str) -> None:
        """Sign a buyer in (a session on the server, in the caller's transaction); a fresh CSRF
        token, so nothing from before the sign-in carries on."""
        sign_ins.end(session, [self.buyer_sid] if self.buyer_sid else [])
        self.buyer_sid = sign_ins.start(session, sign_ins.BUYER, email)
        self.email = email
        self.csrf = secrets.token_urlsafe(32)
        self.dirty = True

    def sign_in_admin(self, session: Session, name: str, admin_token_id: str | None = None) -> None:
        """Sign the seller in; ``admin_token_id``: the stored admin token used (its revocation
        ends the session)."""
        sign_ins.end(session, [self.admin_sid] if self.admin_sid else [])
        self.admin_sid = sign_ins.start(session, sign_ins.ADMIN, name, admin_token_id)
        self.admin = name
        self.csrf = secrets.token_urlsafe(32)
        self.dirty = True

    def sign_out(self, session: Session) -> None:
        """End the browser's sign-ins on the server, for good (in the caller's transaction)."""
        sign_ins.end(session, [sid for sid in (self.buyer_sid, self.admin_sid) if sid])
        self.buyer_sid = self.admin_sid = self.email = self.admin = None
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


def cookie_session(request: Request) -> WebSession:
    """The request's session as its cookie has it (read once; a new one when missing or
    forged), without looking up who is signed in: for callers on the event loop."""
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
        session = WebSession.from_cookie(data)
    if session is None:
        session = WebSession.new()
    request.state.web_session = session
    return session


def get_web_session(request: Request) -> WebSession:
    """The request's session, with who is signed in looked up on the server (one read by
    primary key, once per request; not on the event loop)."""
    session = cookie_session(request)
    if not session.resolved:
        db: Database = request.app.state.db
        session.resolve(db)
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
