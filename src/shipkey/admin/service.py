"""Admin API tokens: created by the CLI, shown once, kept as SHA-256 hashes."""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shipkey.admin.models import AdminToken
from shipkey.clock import utcnow
from shipkey.ids import hash_token
from shipkey.web import sign_ins

TOKEN_PREFIX = "sk_admin_"  # noqa: S105 - a public prefix, not a secret
LAST_USED_RESOLUTION = timedelta(minutes=1)


def create_token(session: Session, name: str = "") -> tuple[AdminToken, str]:
    """A new admin token; the raw value is returned once and never stored."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = AdminToken(name=name, token_hash=hash_token(raw))
    session.add(token)
    session.flush()
    return token, raw


def find_token(session: Session, raw: str) -> AdminToken | None:
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 128:
        return None
    token = session.scalars(
        select(AdminToken).where(AdminToken.token_hash == hash_token(raw))
    ).first()
    if token is None or token.revoked_at is not None:
        return None
    return token


def matches_static(raw: str, configured: str | None) -> bool:
    """The ``SHIPKEY_ADMIN_TOKEN`` check, in constant time."""
    return bool(configured) and hmac.compare_digest(raw.encode(), str(configured).encode())


def touch(session: Session, token_id: str, now: datetime | None = None) -> None:
    """Record use, at most once a minute per token (no write on every request)."""
    now = now or utcnow()
    session.execute(
        update(AdminToken)
        .where(
            AdminToken.id == token_id,
            (AdminToken.last_used_at.is_(None))
            | (AdminToken.last_used_at < now - LAST_USED_RESOLUTION),
        )
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )


def list_tokens(session: Session) -> list[AdminToken]:
    return list(session.scalars(select(AdminToken).order_by(AdminToken.created_at)))


def revoke_token(session: Session, token_id: str) -> bool:
    token = session.get(AdminToken, token_id)
    if token is None or token.revoked_at is not None:
        return False
    token.revoked_at = utcnow()
    sign_ins.end_for_admin_token(session, token.id)  # the pages signed in with it
    return True
