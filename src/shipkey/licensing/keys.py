"""License key format: ``PREFIX-XXXXX-XXXXX-XXXXX-XXXXX-CCCC``.

``PREFIX`` is 2-4 letters A-Z, each ``X`` comes from :data:`KEY_ALPHABET` (no ``I``, ``O``,
``0`` or ``1``, which people misread), and ``CCCC`` is the first four hex digits, upper case, of
SHA-256 over the UTF-8 bytes of the key without its checksum followed by the license secret.
This is the same formula as the JavaScript
``createHash('sha256').update(base + secret).digest('hex').substring(0, 4).toUpperCase()``,
so keys made elsewhere with the same secret are accepted here.

The checksum only lets us refuse typos and made-up keys before touching the database; it is
not what makes a key valid (the database row is). A key may be checked against several secrets
(``secret`` a tuple): new keys are made with the first, and keys made with an earlier secret are
still looked up.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import string

from shipkey.errors import BadRequest
from shipkey.ids import random_string

KEY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
GROUP_COUNT = 4
GROUP_LENGTH = 5
CHECKSUM_LENGTH = 4
DEFAULT_PREFIX = "KEY"
MAX_KEY_LENGTH = 64
"""Anything longer is refused before any further work (the longest valid key has 33 chars)."""

_LOOSE_GROUP = "[A-HJ-NP-Za-hj-np-z2-9]{5}"
KEY_PATTERN = rf"^\s*[A-Za-z]{{2,4}}(-{_LOOSE_GROUP}){{{GROUP_COUNT}}}-[0-9A-Fa-f]{{4}}\s*$"
"""The keys the API takes, for its OpenAPI document: the key format in any case, with
surrounding whitespace (the checksum is then checked: a key that fits and whose checksum is
wrong is still refused)."""

_PREFIX_RE = re.compile(r"[A-Z]{2,4}")
_GROUP_PATTERN = f"[{re.escape(KEY_ALPHABET)}]{{{GROUP_LENGTH}}}"
_KEY_RE = re.compile(
    rf"(?P<base>[A-Z]{{2,4}}(?:-{_GROUP_PATTERN}){{{GROUP_COUNT}}})"
    rf"-(?P<checksum>[0-9A-F]{{{CHECKSUM_LENGTH}}})"
)
_SLUG_PREFIX_LENGTH = 3

KeySecret = str | tuple[str, ...]
"""The secret of key checksums, or the secrets any of which a checksum may match."""


def is_valid_prefix(prefix: str) -> bool:
    """Whether ``prefix`` is 2-4 upper-case ASCII letters."""
    return _PREFIX_RE.fullmatch(prefix) is not None


def key_prefix_for(slug: str, key_prefix: str | None) -> str:
    """The key prefix of a product.

    An explicit ``key_prefix`` wins (upper-cased; it must be 2-4 letters A-Z, else
    :class:`ValueError`). Otherwise the first three ASCII letters of the slug are used, skipping
    every other character (``e-book-pro`` gives ``EBO``); a slug with fewer than two letters
    gives ``KEY``.
    """
    if key_prefix is not None and key_prefix.strip():
        prefix = key_prefix.strip().upper()
        if not is_valid_prefix(prefix):
            raise ValueError(f"key prefix must be 2-4 letters A-Z, got {key_prefix!r}")
        return prefix
    letters = [char for char in slug if char in string.ascii_letters]
    if len(letters) < 2:
        return DEFAULT_PREFIX
    return "".join(letters[:_SLUG_PREFIX_LENGTH]).upper()


def key_checksum(base: str, secret: str) -> str:
    """The four-character checksum of ``base`` (a key without its ``-CCCC`` suffix)."""
    digest = hashlib.sha256((base + secret).encode("utf-8")).hexdigest()
    return digest[:CHECKSUM_LENGTH].upper()


def generate_key(prefix: str, secret: str) -> str:
    """A new random key with the given prefix (2-4 letters A-Z) and a valid checksum."""
    if not is_valid_prefix(prefix):
        raise ValueError(f"key prefix must be 2-4 letters A-Z, got {prefix!r}")
    body = random_string(KEY_ALPHABET, GROUP_LENGTH * GROUP_COUNT)
    groups = (body[i : i + GROUP_LENGTH] for i in range(0, len(body), GROUP_LENGTH))
    base = "-".join((prefix, *groups))
    return f"{base}-{key_checksum(base, secret)}"


def normalize_key(raw: str) -> str:
    """A pasted key as it should be checked: surrounding whitespace removed, upper case."""
    return raw.strip().upper()


def check_key(key: str, secret: KeySecret) -> bool:
    """Whether ``key`` has the exact key format and a correct checksum (with any of the
    secrets, when ``secret`` is a tuple).

    The key is not normalised here (call :func:`normalize_key` first). Never raises: anything
    that is not a well-formed key, of whatever type or length, gives ``False``.
    """
    if not isinstance(key, str) or len(key) > MAX_KEY_LENGTH:
        return False
    match = _KEY_RE.fullmatch(key)
    if match is None:
        return False
    secrets = (secret,) if isinstance(secret, str) else secret
    base, checksum = match["base"], match["checksum"]
    return any(hmac.compare_digest(key_checksum(base, one), checksum) for one in secrets)


def parse_key(raw: str, secret: KeySecret) -> str | None:
    """The normalised key when ``raw`` is well-formed with a correct checksum, else None.

    Pure: no database involved, so made-up keys cost nothing.
    """
    key = normalize_key(raw)
    return key if check_key(key, secret) else None


def invalid_key_format() -> BadRequest:
    return BadRequest("This is not a valid license key.", "INVALID_KEY_FORMAT")


def require_key(raw: str, secret: KeySecret) -> str:
    """The normalised key, or 400 ``INVALID_KEY_FORMAT``."""
    key = parse_key(raw, secret)
    if key is None:
        raise invalid_key_format()
    return key


def verbatim_key(raw: str) -> str | None:
    """A key made elsewhere (imported, or from a key pool) as it is looked up: trimmed, case
    kept; None for what no stored key can be (empty, too long, control characters).

    Only keys that fail :func:`check_key` are looked up this way, only among the licenses
    marked ``verbatim``, and never a key in shipkey's own shape: one with a wrong checksum is
    still refused before any query (a made-up key, or one made with a secret that is not
    configured), and the native keys' path costs what it did."""
    if not isinstance(raw, str):
        return None
    key = raw.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        return None
    if has_native_shape(key):
        return None
    return key


def has_native_shape(raw: str) -> bool:
    """Whether ``raw`` (trimmed, any case) has shipkey's key format, whatever its checksum."""
    return _KEY_RE.fullmatch(normalize_key(raw)) is not None
