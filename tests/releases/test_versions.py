"""The one rule of who may get a release, as a table; and how versions are read."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shipkey.errors import BadRequest
from shipkey.licensing.models import LicenseStatus
from shipkey.releases.models import Channel
from shipkey.releases.versions import Holder, may_get, normalize, parse_version

A, E, S, R = (
    LicenseStatus.ACTIVE,
    LicenseStatus.EXPIRED,
    LicenseStatus.SUSPENDED,
    LicenseStatus.REVOKED,
)
STABLE, BETA, ALPHA = Channel.STABLE, Channel.BETA, Channel.ALPHA
ENDED = datetime(2026, 6, 1, tzinfo=UTC)
BEFORE = datetime(2026, 5, 31, 23, 59, tzinfo=UTC)
AFTER = datetime(2026, 6, 1, 0, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "ends_at", "wanted", "channel", "published", "yanked", "allowed"),
    [
        # ACTIVE: its channel and the more stable ones
        (A, None, STABLE, STABLE, AFTER, False, True),
        (A, None, STABLE, BETA, AFTER, False, False),
        (A, None, STABLE, ALPHA, AFTER, False, False),
        (A, None, BETA, STABLE, AFTER, False, True),
        (A, None, BETA, BETA, AFTER, False, True),
        (A, None, BETA, ALPHA, AFTER, False, False),
        (A, None, ALPHA, STABLE, AFTER, False, True),
        (A, None, ALPHA, BETA, AFTER, False, True),
        (A, None, ALPHA, ALPHA, AFTER, False, True),
        (A, ENDED, STABLE, STABLE, AFTER, False, True),  # published after a future end date
        # yanked: no one
        (A, None, STABLE, STABLE, BEFORE, True, False),
        (E, ENDED, STABLE, STABLE, BEFORE, True, False),
        # EXPIRED: what was published before it ended (perpetual fallback)
        (E, ENDED, STABLE, STABLE, BEFORE, False, True),
        (E, ENDED, STABLE, STABLE, ENDED, False, False),
        (E, ENDED, STABLE, STABLE, AFTER, False, False),
        (E, ENDED, BETA, BETA, BEFORE, False, True),
        (E, ENDED, STABLE, BETA, BEFORE, False, False),
        (E, None, STABLE, STABLE, BEFORE, False, False),
        # SUSPENDED and REVOKED: nothing
        (S, None, STABLE, STABLE, BEFORE, False, False),
        (S, None, ALPHA, ALPHA, AFTER, False, False),
        (R, None, STABLE, STABLE, BEFORE, False, False),
        (R, ENDED, ALPHA, STABLE, BEFORE, False, False),
    ],
)
def test_who_may_get_a_release(
    status: LicenseStatus,
    ends_at: datetime | None,
    wanted: Channel,
    channel: Channel,
    published: datetime,
    yanked: bool,
    allowed: bool,
) -> None:
    assert may_get(Holder(status, ends_at), wanted, channel, published, yanked) is allowed


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("1.2.0", "1.2.0"),
        ("v1.2.0", "1.2.0"),
        ("1.2.0-beta.1", "1.2.0b1"),
        ("1.2.0-alpha", "1.2.0a0"),
        ("2.0.0-rc.1", "2.0.0rc1"),
        ("1.0.0+build.5", "1.0.0+build.5"),
        ("2026.12", "2026.12"),
        (" 1.0 ", "1.0"),
    ],
)
def test_versions_are_read_as_pep_440(text: str, normal: str) -> None:
    assert normalize(text) == normal


@pytest.mark.parametrize("text", ["", "banana", "1.0.0-x.7.z.92", "1..0", "1" * 65])
def test_unreadable_versions_are_refused(text: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_version(text)
    assert caught.value.code == "INVALID_VERSION"


def test_versions_order_as_pep_440() -> None:
    ordered = ["1.0.0-alpha.1", "1.0.0-beta.1", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.10.0"]
    assert sorted(ordered[3:] + ordered[:3], key=parse_version) == ordered
