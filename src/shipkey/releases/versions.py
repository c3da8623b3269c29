"""Versions, channels, and the one rule of who may get a release.

Versions compare as PEP 440 (:mod:`packaging.version`). Semantic versions are read the way
PEP 440 reads them: ``1.2.0-beta.1`` is ``1.2.0b1``, ``2.0.0-rc.1`` is ``2.0.0rc1``, a leading
``v`` is dropped, ``+build`` stays a local label. Anything else is refused (400
``INVALID_VERSION``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from packaging.version import InvalidVersion, Version

from shipkey.errors import BadRequest
from shipkey.licensing.models import LicenseStatus
from shipkey.releases.models import Channel

MAX_VERSION_LENGTH = 64

CHANNEL_RANK: dict[Channel, int] = {Channel.STABLE: 0, Channel.BETA: 1, Channel.ALPHA: 2}
"""Lower is more stable; a channel includes every channel of a lower rank."""


def parse_version(text: str) -> Version:
    """``text`` as a PEP 440 version, or 400 ``INVALID_VERSION``."""
    cleaned = text.strip()
    if not cleaned or len(cleaned) > MAX_VERSION_LENGTH:
        raise BadRequest("A version needs 1 to 64 characters.", "INVALID_VERSION")
    try:
        return Version(cleaned)
    except InvalidVersion:
        raise BadRequest(
            f"{cleaned!r} is not a version (PEP 440 or semantic, such as 1.2.0 or 1.2.0-beta.1).",
            "INVALID_VERSION",
        ) from None


def normalize(text: str) -> str:
    """The PEP 440 normal form of a version (``1.2.0-beta.1`` → ``1.2.0b1``)."""
    return str(parse_version(text))


def includes(wanted: Channel, channel: Channel) -> bool:
    """Whether asking for ``wanted`` offers releases of ``channel`` (the same or more stable)."""
    return CHANNEL_RANK[channel] <= CHANNEL_RANK[wanted]


@dataclass(frozen=True)
class Holder:
    """What the rule needs to know of a license: its status now and when it ended."""

    status: LicenseStatus
    """The effective status (an ACTIVE license past its expiry is EXPIRED)."""
    ends_at: datetime | None
    """When an EXPIRED license ended (its ``expires_at``)."""


def may_get(
    holder: Holder, wanted: Channel, channel: Channel, published_at: datetime, yanked: bool
) -> bool:
    """THE rule: whether a license may download a release.

    An ACTIVE license gets every release of the channel it asks for and of the more stable
    ones; an EXPIRED one keeps, on the same terms, the releases published before it expired
    (perpetual fallback); SUSPENDED and REVOKED ones get nothing; a yanked release goes to no
    one.
    """
    if yanked or not includes(wanted, channel):
        return False
    if holder.status is LicenseStatus.ACTIVE:
        return True
    if holder.status is LicenseStatus.EXPIRED:
        return holder.ends_at is not None and published_at < holder.ends_at
    return False
