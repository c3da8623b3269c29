import hashlib
import re

import pytest

from shipkey.errors import ShipkeyError
from shipkey.licensing.keys import (
    KEY_ALPHABET,
    MAX_KEY_LENGTH,
    check_key,
    generate_key,
    key_checksum,
    key_prefix_for,
    normalize_key,
    parse_key,
    require_key,
)

SECRET = "test-license-secret"
KEY_RE = re.compile(r"[A-Z]{2,4}(-[ABCDEFGHJKLMNPQRSTUVWXYZ23456789]{5}){4}-[0-9A-F]{4}")


def independent_checksum(base: str, secret: str) -> str:
    """What the JavaScript seed computes: sha256(base + secret), first 4 hex, upper case."""
    return hashlib.sha256(f"{base}{secret}".encode()).hexdigest()[:4].upper()


def make_key(base: str, secret: str = SECRET) -> str:
    return f"{base}-{independent_checksum(base, secret)}"


def test_alphabet_has_no_ambiguous_characters() -> None:
    assert len(KEY_ALPHABET) == 32
    assert len(set(KEY_ALPHABET)) == 32
    assert not set("IO01") & set(KEY_ALPHABET)


def test_checksum_known_answer() -> None:
    base = "EBO-ABCDE-FGHJK-LMNPQ-RSTUV"
    # Fixed value computed once from hashlib; guards against silent formula changes.
    expected = hashlib.sha256(b"EBO-ABCDE-FGHJK-LMNPQ-RSTUVtest-license-secret").hexdigest()
    assert key_checksum(base, SECRET) == expected[:4].upper()
    assert check_key(f"{base}-{expected[:4].upper()}", SECRET)


def test_checksum_with_non_ascii_secret_uses_utf8() -> None:
    base = "KEY-22222-33333-44444-55555"
    secret = "geheim-ä€"
    expected = hashlib.sha256((base + secret).encode("utf-8")).hexdigest()[:4].upper()
    assert key_checksum(base, secret) == expected
    assert check_key(f"{base}-{expected}", secret)


@pytest.mark.parametrize(
    ("slug", "key_prefix", "expected"),
    [
        ("e-book-pro", None, "EBO"),
        ("x9-tool", None, "XTO"),
        ("photo-editor", None, "PHO"),
        ("ab", None, "AB"),
        ("a-1-b", None, "AB"),
        ("a", None, "KEY"),
        ("123-456", None, "KEY"),
        ("", None, "KEY"),
        ("über-app", None, "BER"),
        ("anything", "zz", "ZZ"),
        ("anything", "Shop", "SHOP"),
        ("anything", " abc ", "ABC"),
        ("anything", "", "ANY"),
    ],
)
def test_key_prefix_for(slug: str, key_prefix: str | None, expected: str) -> None:
    assert key_prefix_for(slug, key_prefix) == expected


@pytest.mark.parametrize("bad_prefix", ["A", "ABCDE", "A1", "AB-", "ÄB"])
def test_key_prefix_for_refuses_bad_explicit_prefix(bad_prefix: str) -> None:
    with pytest.raises(ValueError, match="2-4 letters"):
        key_prefix_for("slug", bad_prefix)


@pytest.mark.parametrize("prefix", ["AB", "EBO", "SHOP"])
def test_generate_then_check_round_trip(prefix: str) -> None:
    for _ in range(200):
        key = generate_key(prefix, SECRET)
        assert KEY_RE.fullmatch(key)
        assert key.startswith(f"{prefix}-")
        assert check_key(key, SECRET)
        assert key[-4:] == independent_checksum(key[:-5], SECRET)


def test_generated_keys_differ() -> None:
    keys = {generate_key("EBO", SECRET) for _ in range(1000)}
    assert len(keys) == 1000


def test_generated_keys_use_whole_alphabet() -> None:
    seen: set[str] = set()
    for _ in range(200):
        seen.update(generate_key("AB", SECRET)[3:-5].replace("-", ""))
    assert seen == set(KEY_ALPHABET)


@pytest.mark.parametrize("bad_prefix", ["A", "ABCDE", "ab", "A1"])
def test_generate_key_refuses_bad_prefix(bad_prefix: str) -> None:
    with pytest.raises(ValueError, match="2-4 letters"):
        generate_key(bad_prefix, SECRET)


def test_other_secret_fails() -> None:
    key = generate_key("EBO", SECRET)
    assert not check_key(key, "another-secret")


def test_normalize_key() -> None:
    key = make_key("EBO-ABCDE-FGHJK-LMNPQ-RSTUV")
    assert normalize_key(f"  {key.lower()}\n\t") == key
    assert check_key(normalize_key(f" {key.lower()} "), SECRET)


VALID = make_key("EBO-ABCDE-FGHJK-LMNPQ-RSTUV")


def _with_valid_checksum(base: str) -> str:
    """Malformed bodies get a correct checksum, so only the format check can refuse them."""
    return make_key(base)


MALFORMED_KEYS = [
    "",
    " ",
    "-",
    VALID.lower(),
    f" {VALID}",
    f"{VALID} ",
    f"{VALID}\n",
    f"\n{VALID}",
    VALID[:-1],
    VALID + "A",
    VALID.replace("-", ""),
    VALID.replace("-", " "),
    VALID.replace("-", "_"),
    VALID[:-4] + VALID[-4:].lower(),
    _with_valid_checksum("EBO-ABCDO-FGHJK-LMNPQ-RSTUV"),  # O
    _with_valid_checksum("EBO-ABCD0-FGHJK-LMNPQ-RSTUV"),  # zero
    _with_valid_checksum("EBO-ABCDI-FGHJK-LMNPQ-RSTUV"),  # I
    _with_valid_checksum("EBO-ABCD1-FGHJK-LMNPQ-RSTUV"),  # one
    _with_valid_checksum("E-ABCDE-FGHJK-LMNPQ-RSTUV"),  # prefix too short
    _with_valid_checksum("EBOOK-ABCDE-FGHJK-LMNPQ-RSTUV"),  # prefix too long
    _with_valid_checksum("EB1-ABCDE-FGHJK-LMNPQ-RSTUV"),  # digit in prefix
    _with_valid_checksum("EBO-ABCDEF-GHJK-LMNPQ-RSTUV"),  # group lengths
    _with_valid_checksum("EBO-ABCD-FGHJK-LMNPQ-RSTUV"),
    _with_valid_checksum("EBO-ABCDE-FGHJK-LMNPQ"),  # three groups
    _with_valid_checksum("EBO-ABCDE-FGHJK-LMNPQ-RSTUV-WXYZ2"),  # five groups
    _with_valid_checksum("ebo-abcde-fghjk-lmnpq-rstuv"),  # lower case
    _with_valid_checksum("ÉBO-ABCDE-FGHJK-LMNPQ-RSTUV"),  # non-ASCII letter
    _with_valid_checksum("EBO-ＡBCDE-FGHJK-LMNPQ-RSTUV"),  # fullwidth A
    _with_valid_checksum("EBO-ABCDE-FGHJK-LMNPQ-RSTU٣"),  # Arabic-Indic digit
    "EBO-ABCDE-FGHJK-LMNPQ-RSTUV-GGGG",  # checksum not hex
    "EBO-ABCDE-FGHJK-LMNPQ-RSTUV-12345",
    "EBO-ABCDE-FGHJK-LMNPQ-RSTUV-",
    "\x00" * 33,
    "🔑" * 33,
    VALID * 2,
    "A" * 10_000,
    VALID + " " * 10_000,
    "EBO-" * 2_500,
]


@pytest.mark.parametrize("key", MALFORMED_KEYS, ids=range(len(MALFORMED_KEYS)))
def test_malformed_keys_are_refused(key: str) -> None:
    assert key != VALID
    assert not check_key(key, SECRET)


def test_every_wrong_checksum_is_refused() -> None:
    base = VALID[:-5]
    correct = VALID[-4:]
    for value in range(0x10000):
        checksum = f"{value:04X}"
        assert check_key(f"{base}-{checksum}", SECRET) is (checksum == correct)


def test_every_single_character_change_is_refused() -> None:
    assert check_key(VALID, SECRET)
    replacements = KEY_ALPHABET + "IO01-abc xyz"
    for position, original in enumerate(VALID):
        for replacement in replacements:
            if replacement == original:
                continue
            tampered = VALID[:position] + replacement + VALID[position + 1 :]
            # Only a chance 16-bit checksum collision may pass, and then by the formula.
            if check_key(tampered, SECRET):
                assert tampered[-4:] == independent_checksum(tampered[:-5], SECRET)


def test_long_input_is_refused_quickly() -> None:
    assert MAX_KEY_LENGTH == 64
    huge = VALID + "A" * 10_000_000
    assert not check_key(huge, SECRET)


@pytest.mark.parametrize("value", [None, 42, b"EBO-ABCDE", ["EBO"]])
def test_check_key_never_raises_on_other_types(value: object) -> None:
    assert not check_key(value, SECRET)  # type: ignore[arg-type]


def test_parse_key_normalises_and_checks() -> None:
    key = generate_key("ABC", SECRET)
    assert parse_key(f"  {key.lower()} ", SECRET) == key
    assert parse_key(key, "another secret") is None
    assert parse_key("ABC", SECRET) is None
    with pytest.raises(ShipkeyError) as refused:
        require_key("nope", SECRET)
    assert refused.value.code == "INVALID_KEY_FORMAT"


def test_a_key_passes_with_any_of_several_secrets() -> None:
    key = generate_key("ABC", "old-secret")
    assert check_key(key, ("new-secret", "old-secret"))
    assert parse_key(key.lower(), ("new-secret", "old-secret")) == key
    assert not check_key(key, ("new-secret",))
    assert not check_key(key, ())
