"""The HTTP details of serving a file: ranges, validators, Content-Disposition, file names."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shipkey.http.files import (
    FILENAME_PATTERN,
    ByteRange,
    RangeNotSatisfiable,
    ascii_filename,
    content_disposition,
    format_http_date,
    if_range_allows,
    make_etag,
    parse_http_date,
    parse_range,
    sanitize_filename,
)

# No example database: the property tests leave no files behind in the work tree.
PROPERTY = settings(max_examples=300, database=None, deadline=None)

EXAMPLE_NAME = 'Ünïcode Büch – Teil 1 "final".pdf'
EXAMPLE_HEADER = (
    "attachment; "
    'filename="Unicode Buch - Teil 1 _final_.pdf"; '
    "filename*=UTF-8''%C3%9Cn%C3%AFcode%20B%C3%BCch%20%E2%80%93%20Teil%201%20%22final%22.pdf"
)

# --- ByteRange -------------------------------------------------------------------------------


def test_byte_range() -> None:
    byte_range = ByteRange(0, 499)

    assert byte_range.length == 500
    assert byte_range.content_range(1234) == "bytes 0-499/1234"


@pytest.mark.parametrize(("start", "end"), [(-1, 5), (5, 4)])
def test_byte_range_refuses_impossible_bounds(start: int, end: int) -> None:
    with pytest.raises(ValueError, match="invalid byte range"):
        ByteRange(start, end)


def test_range_not_satisfiable_content_range() -> None:
    assert RangeNotSatisfiable(1234).content_range == "bytes */1234"


# --- parse_range -----------------------------------------------------------------------------

SIZE = 1000


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param("bytes=0-0", ByteRange(0, 0), id="first byte"),
        pytest.param("bytes=999-999", ByteRange(999, 999), id="last byte"),
        pytest.param("bytes=100-199", ByteRange(100, 199), id="middle"),
        pytest.param("bytes=0-999", ByteRange(0, 999), id="whole"),
        pytest.param("bytes=0-", ByteRange(0, 999), id="open from 0"),
        pytest.param("bytes=500-", ByteRange(500, 999), id="open from 500"),
        pytest.param("bytes=500-5000", ByteRange(500, 999), id="end clamped"),
        pytest.param("bytes=0-" + "9" * 40, ByteRange(0, 999), id="huge end clamped"),
        pytest.param("bytes=-1", ByteRange(999, 999), id="suffix 1"),
        pytest.param("bytes=-100", ByteRange(900, 999), id="suffix 100"),
        pytest.param("bytes=-1000", ByteRange(0, 999), id="suffix = size"),
        pytest.param("bytes=-5000", ByteRange(0, 999), id="suffix > size"),
        pytest.param("bytes=-" + "9" * 5000, ByteRange(0, 999), id="suffix beyond int limits"),
        pytest.param("bytes=007-010", ByteRange(7, 10), id="leading zeros"),
        pytest.param("BYTES=1-2", ByteRange(1, 2), id="unit upper case"),
        pytest.param("Bytes=1-2", ByteRange(1, 2), id="unit mixed case"),
        pytest.param("  bytes = 1 - 2 ", ByteRange(1, 2), id="blanks"),
        pytest.param("bytes=\t1-2\t", ByteRange(1, 2), id="tabs"),
        pytest.param("bytes=1-2,", ByteRange(1, 2), id="empty list element"),
        pytest.param("bytes=, 1-2", ByteRange(1, 2), id="leading empty list element"),
    ],
)
def test_parse_range_satisfiable(header: str, expected: ByteRange) -> None:
    assert parse_range(header, SIZE) == expected


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(None, id="absent"),
        pytest.param("", id="empty"),
        pytest.param("bytes", id="no equals sign"),
        pytest.param("bytes 0-1", id="space for equals"),
        pytest.param("bytes=", id="no range"),
        pytest.param("bytes=-", id="dash only"),
        pytest.param("bytes=,", id="commas only"),
        pytest.param("items=0-1", id="other unit"),
        pytest.param("bytesx=0-1", id="unit prefix"),
        pytest.param("bytes=0-1,5-6", id="two ranges"),
        pytest.param("bytes=0-1, -5", id="range and suffix"),
        pytest.param("bytes=5-4", id="last before first"),
        pytest.param("bytes=" + "9" * 40 + "-1", id="huge first, small last"),
        pytest.param("bytes=" + "9" * 41 + "-" + "9" * 40, id="huge last before huger first"),
        pytest.param("bytes=a-b", id="letters"),
        pytest.param("bytes=1-2-3", id="two dashes"),
        pytest.param("bytes=--1", id="negative suffix"),
        pytest.param("bytes=-1-", id="dash around"),
        pytest.param("bytes=+1-2", id="plus sign"),
        pytest.param("bytes=1.5-2", id="decimal"),
        pytest.param("bytes=0x10-0x20", id="hex"),
        pytest.param("bytes=١-٢", id="arabic-indic digits"),
        pytest.param("bytes=²-³", id="superscript digits"),
        pytest.param("bytes=1\u00a0-2", id="no-break space"),
        pytest.param("bytes==1-2", id="double equals"),
        pytest.param("bytes=1-2\n", id="newline"),
    ],
)
def test_parse_range_ignored(header: str | None) -> None:
    assert parse_range(header, SIZE) is None


@pytest.mark.parametrize(
    ("header", "size"),
    [
        pytest.param("bytes=1000-", SIZE, id="start at size"),
        pytest.param("bytes=1000-1001", SIZE, id="start at size, closed"),
        pytest.param("bytes=5000-6000", SIZE, id="start past size"),
        pytest.param("bytes=" + "9" * 5000 + "-", SIZE, id="start beyond int limits"),
        pytest.param("bytes=-0", SIZE, id="empty suffix"),
        pytest.param("bytes=-000", SIZE, id="empty suffix, zeros"),
        pytest.param("bytes=0-0", 0, id="empty file, first byte"),
        pytest.param("bytes=0-", 0, id="empty file, open"),
        pytest.param("bytes=-5", 0, id="empty file, suffix"),
    ],
)
def test_parse_range_not_satisfiable(header: str, size: int) -> None:
    with pytest.raises(RangeNotSatisfiable) as caught:
        parse_range(header, size)

    assert caught.value.content_range == f"bytes */{size}"


def test_parse_range_refuses_negative_size() -> None:
    with pytest.raises(ValueError, match="size"):
        parse_range("bytes=0-1", -1)


def test_parse_range_long_header_is_fast_and_ignored() -> None:
    assert parse_range("bytes=" + " " * 10_000 + "1" + "-" * 10_000, SIZE) is None
    assert parse_range("bytes=" + "0-1," * 3_000, SIZE) is None


@PROPERTY
@given(header=st.text(max_size=200), size=st.integers(min_value=0, max_value=2**63))
def test_parse_range_never_fails_unexpectedly(header: str, size: int) -> None:
    try:
        result = parse_range(header, size)
    except RangeNotSatisfiable:
        return
    if result is not None:
        assert 0 <= result.start <= result.end < size


RANGE_LIKE = st.from_regex(
    r"\A[ \t]*[bB][yY][tT][eE][sS][ \t]*=[ \t]*[0-9]{0,25}[ \t]*-[ \t]*[0-9]{0,25}[ \t,]*\Z"
)


@PROPERTY
@given(header=RANGE_LIKE, size=st.integers(min_value=0, max_value=10**12))
def test_parse_range_near_valid_headers(header: str, size: int) -> None:
    try:
        result = parse_range(header, size)
    except RangeNotSatisfiable:
        return
    if result is not None:
        assert 0 <= result.start <= result.end < size


# --- ETag and If-Range -----------------------------------------------------------------------

DIGEST = hashlib.sha256(b"content").hexdigest()
ETAG = make_etag(DIGEST)
MODIFIED = datetime(2026, 11, 28, 9, 30, 15, 123456, tzinfo=UTC)


def test_make_etag() -> None:
    assert make_etag(DIGEST) == f'"{DIGEST[:32]}"'
    assert make_etag(DIGEST.upper()) == ETAG


@pytest.mark.parametrize("digest", ["", "abc", DIGEST[:-1], DIGEST + "0", "g" * 64, f'"{DIGEST}'])
def test_make_etag_refuses_non_digests(digest: str) -> None:
    with pytest.raises(ValueError, match="SHA-256"):
        make_etag(digest)


@pytest.mark.parametrize(
    ("if_range", "allowed"),
    [
        pytest.param(None, True, id="absent"),
        pytest.param(ETAG, True, id="same strong etag"),
        pytest.param(f" {ETAG}\t", True, id="same etag with blanks"),
        pytest.param(f"W/{ETAG}", False, id="weak etag"),
        pytest.param(f"w/{ETAG}", False, id="weak etag, lower case"),
        pytest.param('"other"', False, id="other etag"),
        pytest.param(ETAG.upper(), False, id="etag compared case-sensitively"),
        pytest.param(ETAG.strip('"'), False, id="unquoted etag"),
        pytest.param("Sat, 28 Nov 2026 09:30:15 GMT", True, id="same date"),
        pytest.param("Saturday, 28-Nov-26 09:30:15 GMT", True, id="same date, RFC 850"),
        pytest.param("Sat Nov 28 09:30:15 2026", True, id="same date, asctime"),
        pytest.param("Sat, 28 Nov 2026 09:30:14 GMT", False, id="one second earlier"),
        pytest.param("Sat, 28 Nov 2026 09:30:16 GMT", False, id="one second later"),
        pytest.param("Sat, 28 Nov 2026 09:30:15 +0000", False, id="not GMT"),
        pytest.param("2026-11-28T09:30:15Z", False, id="ISO 8601"),
        pytest.param("", False, id="empty"),
        pytest.param("garbage", False, id="garbage"),
        pytest.param("\x00", False, id="NUL"),
    ],
)
def test_if_range_allows(if_range: str | None, allowed: bool) -> None:
    assert if_range_allows(if_range, ETAG, MODIFIED) is allowed


def test_if_range_never_matches_a_weak_current_etag() -> None:
    assert not if_range_allows(f"W/{ETAG}", f"W/{ETAG}", MODIFIED)


def test_if_range_with_naive_or_other_zone_last_modified() -> None:
    naive = MODIFIED.replace(tzinfo=None)
    berlin = MODIFIED.astimezone(timezone(timedelta(hours=1)))
    header = "Sat, 28 Nov 2026 09:30:15 GMT"

    assert if_range_allows(header, ETAG, naive)
    assert if_range_allows(header, ETAG, berlin)


@PROPERTY
@given(value=st.text(max_size=100))
def test_if_range_never_fails(value: str) -> None:
    assert isinstance(if_range_allows(value, ETAG, MODIFIED), bool)


# --- HTTP dates ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"],
)
def test_parse_http_date_formats(value: str) -> None:
    assert parse_http_date(value) == datetime(1994, 11, 6, 8, 49, 37, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [
        "Sun, 31 Feb 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 23:59:60 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT",
        "sun, 06 nov 1994 08:49:37 gmt",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT ",
        "Sun, 00 Nov 0000 08:49:37 GMT",
    ],
)
def test_parse_http_date_invalid(value: str) -> None:
    assert parse_http_date(value) is None


def test_rfc850_two_digit_year_stays_within_fifty_years() -> None:
    parsed = parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT")
    assert parsed is not None
    assert abs(parsed.year - datetime.now(UTC).year) <= 50


def test_format_http_date() -> None:
    assert format_http_date(MODIFIED) == "Sat, 28 Nov 2026 09:30:15 GMT"
    assert format_http_date(MODIFIED.replace(tzinfo=None)) == "Sat, 28 Nov 2026 09:30:15 GMT"
    assert parse_http_date(format_http_date(MODIFIED)) == MODIFIED.replace(microsecond=0)


# --- Content-Disposition ---------------------------------------------------------------------


def assert_safe_header(value: str) -> None:
    assert value.isascii()
    value.encode("latin-1")
    assert all(" " <= char <= "~" for char in value), repr(value)


def test_content_disposition_example() -> None:
    assert content_disposition(EXAMPLE_NAME) == EXAMPLE_HEADER


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        pytest.param(
            "book.pdf", "attachment; filename=\"book.pdf\"; filename*=UTF-8''book.pdf", id="plain"
        ),
        pytest.param(
            "a b.pdf", "attachment; filename=\"a b.pdf\"; filename*=UTF-8''a%20b.pdf", id="space"
        ),
        pytest.param(
            "Gro\u00dfe \u00c6ra.pdf",
            "attachment; filename=\"Grosse AEra.pdf\"; filename*=UTF-8''Gro%C3%9Fe%20%C3%86ra.pdf",
            id="letters without decomposition",
        ),
        pytest.param(
            "\u201eZitat\u201c \u2018x\u2019 \u2014 y.pdf",
            "attachment; filename=\"'Zitat' 'x' - y.pdf\"; "
            "filename*=UTF-8''%E2%80%9EZitat%E2%80%9C%20%E2%80%98x%E2%80%99%20%E2%80%94%20y.pdf",
            id="typographic quotes and dashes",
        ),
        pytest.param(
            'a\\b%c;d"e.pdf',
            "attachment; filename=\"a_b_c_d_e.pdf\"; filename*=UTF-8''a%5Cb%25c%3Bd%22e.pdf",
            id="ascii specials",
        ),
        pytest.param(
            "!#$&+-.^_`|~.txt",
            "attachment; filename=\"!#$&+-.^_`|~.txt\"; filename*=UTF-8''!#$&+-.^_`|~.txt",
            id="attr-chars kept",
        ),
        pytest.param(
            "()<>@,'=?{}[]*.txt",
            'attachment; filename="()<>@,\'=?{}[]*.txt"; '
            "filename*=UTF-8''%28%29%3C%3E%40%2C%27%3D%3F%7B%7D%5B%5D%2A.txt",
            id="other ascii percent-encoded",
        ),
        pytest.param(
            "\u65e5\u672c.pdf",
            "attachment; filename=\"__.pdf\"; filename*=UTF-8''%E6%97%A5%E6%9C%AC.pdf",
            id="no ascii equivalent",
        ),
        pytest.param(
            "\ufb01le\u2026.pdf",
            "attachment; filename=\"file....pdf\"; filename*=UTF-8''%EF%AC%81le%E2%80%A6.pdf",
            id="compatibility decomposition",
        ),
        pytest.param(
            "\U0001f4da.epub",
            "attachment; filename=\"_.epub\"; filename*=UTF-8''%F0%9F%93%9A.epub",
            id="emoji",
        ),
        pytest.param(
            "", "attachment; filename=\"download\"; filename*=UTF-8''download", id="empty"
        ),
        pytest.param(
            "  ", "attachment; filename=\"download\"; filename*=UTF-8''download", id="blank"
        ),
        pytest.param(
            "\u65e5 ",
            "attachment; filename=\"_\"; filename*=UTF-8''%E6%97%A5%20",
            id="fallback of underscores",
        ),
    ],
)
def test_content_disposition(filename: str, expected: str) -> None:
    assert content_disposition(filename) == expected


def test_content_disposition_inline() -> None:
    assert content_disposition("a.pdf", "inline").startswith('inline; filename="a.pdf"; ')


@pytest.mark.parametrize("disposition", ["", "attachment; x=1", "attach ment", "a\r\nb"])
def test_content_disposition_refuses_bad_disposition_type(disposition: str) -> None:
    with pytest.raises(ValueError, match="disposition"):
        content_disposition("a.pdf", disposition)


@pytest.mark.parametrize(
    "filename",
    [
        "a\r\nSet-Cookie: x",
        "a\nb",
        "a\rb",
        "a\x00b",
        "a\u2028b",
        "a\u2029b",
        "a\x85b",
        "a\x7fb",
        "\ud800broken surrogate",
        "\r\n",
    ],
)
def test_content_disposition_header_injection(filename: str) -> None:
    value = content_disposition(filename)

    assert_safe_header(value)
    for forbidden in ("\r", "\n", "\x00", "%0D", "%0A", "%00", "Set-Cookie: x\r"):
        assert forbidden not in value


def test_content_disposition_injection_keeps_the_rest_of_the_name() -> None:
    assert content_disposition("a\r\nSet-Cookie: x") == (
        "attachment; filename=\"a__Set-Cookie: x\"; filename*=UTF-8''a__Set-Cookie%3A%20x"
    )


@PROPERTY
@given(filename=st.text(max_size=300))
def test_content_disposition_always_safe(filename: str) -> None:
    value = content_disposition(filename)

    assert_safe_header(value)
    fallback = value.split('filename="', 1)[1].split('"; filename*=', 1)[0]
    assert fallback
    assert '"' not in fallback
    assert "\\" not in fallback


@PROPERTY
@given(
    filename=st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=["Cc", "Cs", "Zl", "Zp"]),
        min_size=1,
        max_size=100,
    ).filter(str.strip)
)
def test_content_disposition_filename_star_round_trips(filename: str) -> None:
    from urllib.parse import unquote

    encoded = content_disposition(filename).split("filename*=UTF-8''", 1)[1]

    assert unquote(encoded, encoding="utf-8", errors="strict") == filename


@PROPERTY
@given(filename=st.text(max_size=100))
def test_ascii_filename_is_printable_ascii(filename: str) -> None:
    name = ascii_filename(filename)

    assert name
    assert all(" " <= char <= "~" for char in name)
    assert not set(name) & set('"\\%;')


# --- sanitize_filename -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(EXAMPLE_NAME, EXAMPLE_NAME, id="example unchanged"),
        pytest.param("book.pdf", "book.pdf", id="plain"),
        pytest.param("../../etc/passwd", "passwd", id="relative path"),
        pytest.param("/etc/passwd", "passwd", id="absolute path"),
        pytest.param("C:\\Users\\me\\Book.pdf", "Book.pdf", id="windows path"),
        pytest.param("a/b\\c.pdf", "c.pdf", id="mixed separators"),
        pytest.param("  book.pdf  ", "book.pdf", id="surrounding spaces"),
        pytest.param("...book.pdf..", "book.pdf", id="surrounding dots"),
        pytest.param(". . book.pdf . .", "book.pdf", id="dots and spaces mixed"),
        pytest.param("\u3000book.pdf\u00a0", "book.pdf", id="unicode spaces"),
        pytest.param(".bashrc", "bashrc", id="hidden file"),
        pytest.param("a\x00b.pdf", "ab.pdf", id="NUL"),
        pytest.param("a\r\nb.pdf", "ab.pdf", id="CR LF"),
        pytest.param("a\tb.pdf", "ab.pdf", id="tab"),
        pytest.param("a\x7f\x85\x9fb.pdf", "ab.pdf", id="DEL and C1"),
        pytest.param("a\u2028\u2029b.pdf", "ab.pdf", id="line and paragraph separators"),
        pytest.param("invoice\u202efdp.exe", "invoicefdp.exe", id="bidi override"),
        pytest.param("a\udc80b.pdf", "ab.pdf", id="lone surrogate"),
        pytest.param("Cafe\u0301.pdf", "Caf\u00e9.pdf", id="NFC"),
        pytest.param('it\'s "ok" (1).pdf', 'it\'s "ok" (1).pdf', id="quotes kept"),
        pytest.param("\u65e5\u672c\u8a9e.pdf", "\u65e5\u672c\u8a9e.pdf", id="CJK kept"),
        pytest.param("a. b.pdf", "a. b.pdf", id="inner dots and spaces kept"),
    ],
)
def test_sanitize_filename(raw: str, expected: str) -> None:
    assert sanitize_filename(raw) == expected


@pytest.mark.parametrize(
    "raw", ["", " ", ".", "..", "...", " . ", "a/", "a/..", "a\\.", "\x00", "\u2028", "\r\n"]
)
def test_sanitize_filename_refuses_empty_results(raw: str) -> None:
    with pytest.raises(ValueError, match="invalid file name"):
        sanitize_filename(raw)


def utf8_length(text: str) -> int:
    return len(text.encode("utf-8"))


def test_sanitize_filename_caps_length_and_keeps_extension() -> None:
    name = sanitize_filename("a" * 300 + ".pdf")

    assert name == "a" * 251 + ".pdf"
    assert utf8_length(name) == 255


def test_sanitize_filename_keeps_double_extension() -> None:
    name = sanitize_filename("a" * 300 + ".tar.gz")

    assert name == "a" * 248 + ".tar.gz"


def test_sanitize_filename_never_splits_a_character() -> None:
    name = sanitize_filename("\u00e9" * 200 + ".pdf")  # 2 bytes each

    assert name == "\u00e9" * 125 + ".pdf"
    assert utf8_length(name) == 254


def test_sanitize_filename_four_byte_characters() -> None:
    name = sanitize_filename("\U0001f4da" * 100)

    assert name == "\U0001f4da" * 63
    assert utf8_length(name) == 252


def test_sanitize_filename_without_usable_extension() -> None:
    name = sanitize_filename("b" * 300 + ".this extension has spaces")

    assert name == "b" * 255


def test_sanitize_filename_cut_does_not_end_in_dot_or_space() -> None:
    name = sanitize_filename("a" * 250 + " " * 10 + "b" * 10 + ".pdf")

    assert name == "a" * 250 + ".pdf"


def test_sanitize_filename_keeps_a_255_byte_name() -> None:
    raw = "x" * 251 + ".pdf"

    assert sanitize_filename(raw) == raw


@PROPERTY
@given(raw=st.text(max_size=400))
def test_sanitize_filename_properties(raw: str) -> None:
    try:
        name = sanitize_filename(raw)
    except ValueError:
        return  # the only failure allowed: nothing usable left

    assert name
    assert name not in {".", ".."}
    assert utf8_length(name) <= 255
    assert "/" not in name
    assert "\\" not in name
    assert not any(unicodedata.category(char) in {"Cc", "Cs"} for char in name)
    assert "\u2028" not in name
    assert "\u2029" not in name
    assert name == name.strip()
    assert not name.startswith(".")
    assert not name.endswith(".")
    assert unicodedata.is_normalized("NFC", name)
    assert sanitize_filename(name) == name


@settings(
    max_examples=100,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.large_base_example],
)
@given(raw=st.text(min_size=256, max_size=2000))
def test_sanitize_filename_long_names(raw: str) -> None:
    try:
        name = sanitize_filename(raw)
    except ValueError:
        return
    assert utf8_length(name) <= 255
    assert sanitize_filename(name) == name


@pytest.mark.parametrize(
    ("header", "matches"),
    [
        (None, False),
        ('"abc"', True),
        ('W/"abc"', True),
        (' "x", W/"abc" ', True),
        ("*", True),
        ('"abcd"', False),
        ("abc", False),
        ('"ab', False),
    ],
)
def test_none_match(header: str | None, matches: bool) -> None:
    from shipkey.http.files import none_match

    assert none_match(header, '"abc"') is matches


def _usable(raw: str) -> bool:
    try:
        sanitize_filename(raw)
    except ValueError:
        return False
    return True


def test_the_documented_file_name_pattern_is_the_sanitizer_s_rule() -> None:
    pattern = re.compile(FILENAME_PATTERN)
    # Each character alone (lone surrogates, which no URL or UTF-8 JSON carries, left out).
    disagree = [
        hex(code)
        for code in range(0x110000)
        if not 0xD800 <= code <= 0xDFFF and _usable(chr(code)) != bool(pattern.search(chr(code)))
    ]
    assert disagree == []
    for name in ["a/", "/a", "a/..", "dir\\.", " . ", "x\\ y", "..a", "\u202e.", "a\u2028", "é"]:
        assert _usable(name) == bool(pattern.search(name)), name


@PROPERTY
@given(st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=12))
def test_the_file_name_pattern_agrees_on_any_name(raw: str) -> None:
    assert _usable(raw) == bool(re.search(FILENAME_PATTERN, raw))
