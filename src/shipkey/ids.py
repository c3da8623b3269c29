"""Ids and secret tokens: one id maker, one way to store a token (its SHA-256)."""

from __future__ import annotations

import hashlib
import secrets

ID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def random_string(alphabet: str, length: int) -> str:
    """``length`` characters drawn uniformly and independently from ``alphabet``, from the
    system's CSPRNG: one draw of a number below ``len(alphabet) ** length``, written in that
    base (a tenth of the cost of drawing each character on its own)."""
    base = len(alphabet)
    number = secrets.randbelow(base**length)
    chars = []
    for _ in range(length):
        number, digit = divmod(number, base)
        chars.append(alphabet[digit])
    return "".join(chars)


def new_id(prefix: str) -> str:
    """A short, unguessable, URL-safe id such as ``pur_4k9x2m...`` (about 103 random bits)."""
    return prefix + "_" + random_string(ID_ALPHABET, 20)


def hash_token(token: str) -> str:
    """What is stored of a secret token (download links, sign-in links, admin tokens): its
    SHA-256, hex. The raw value is shown once and never kept."""
    return hashlib.sha256(token.encode()).hexdigest()
