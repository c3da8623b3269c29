"""The HTTP details of serving a file, as pure functions.

Byte ranges and ``If-Range`` (RFC 9110 §14 and §13.1.5), strong entity tags, HTTP dates,
``Content-Disposition`` with an RFC 5987 ``filename*`` (RFC 6266), and cleaning file names that
sellers upload. Nothing here touches a request or a response, so every branch is easy to test.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import quote

__all__ = [
    "ByteRange",
    "RangeNotSatisfiable",
    "ascii_filename",
    "content_disposition",
    "format_http_date",
    "if_range_allows",
    "make_etag",
    "none_match",
    "parse_http_date",
    "parse_range",
    "sanitize_filename",
]

_OWS = " \t"
"""Optional whitespace in HTTP fields (RFC 9110 §5.6.3)."""

# --- byte ranges ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ByteRange:
    """The bytes ``start`` to ``end`` of a representation, both included."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if self.start < 0 or self.end < self.start:
            raise ValueError(f"invalid byte range {self.start}-{self.end}")

    @property
    def length(self) -> int:
        """How many bytes the range covers (the ``Content-Length`` of a 206)."""
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        """The ``Content-Range`` value of a 206 answer, e.g. ``bytes 0-499/1234``."""
        return f"bytes {self.start}-{self.end}/{size}"


class RangeNotSatisfiable(Exception):
    """A well-formed ``Range`` that selects no byte of the representation: answer 416."""

    def __init__(self, size: int) -> None:
        super().__init__(f"no requested range lies within the {size} bytes of the file")
        self.size = size

    @property
    def content_range(self) -> str:
        """The ``Content-Range`` value of the 416 answer, e.g. ``bytes */1234``."""
        return f"bytes */{self.size}"


_RANGE_SPEC = re.compile(r"([0-9]*)[ \t]*-[ \t]*([0-9]*)")
_MAX_DIGITS = 30
"""Longer positions are beyond any file; they are capped instead of parsed (int() limits)."""
_HUGE = 10**_MAX_DIGITS


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """Parse a ``Range`` header for a representation of ``size`` bytes.

    Understands one range of the ``bytes`` unit: ``bytes=a-b``, ``bytes=a-`` and the suffix
    ``bytes=-n``, with the unit in any case and blanks around the parts. ``b`` is clamped to the
    last byte. Returns ``None`` (serve the whole file, which RFC 9110 allows) when the header is
    absent, of another unit, malformed, or asks for several ranges. Raises
    :class:`RangeNotSatisfiable` when the range is well-formed but selects nothing: it starts at
    or after the end, it is an empty suffix, or the file is empty.
    """
    if size < 0:
        raise ValueError("size must not be negative")
    if header is None:
        return None
    unit, equals, ranges = header.partition("=")
    if not equals or unit.strip(_OWS).lower() != "bytes":
        return None
    specs = [spec for spec in (part.strip(_OWS) for part in ranges.split(",")) if spec]
    if len(specs) != 1:
        return None
    match = _RANGE_SPEC.fullmatch(specs[0])
    if match is None:
        return None
    first, last = match.groups()
    if first:
        return _int_range(first, last, size)
    if last:
        return _suffix_range(last, size)
    return None


def _int_range(first: str, last: str, size: int) -> ByteRange | None:
    if last and _digits_key(last) < _digits_key(first):
        return None  # last < first: an invalid range-spec, ignored
    start = _position(first)
    if start >= size:
        raise RangeNotSatisfiable(size)
    end = size - 1 if not last else min(_position(last), size - 1)
    return ByteRange(start, end)


def _suffix_range(last: str, size: int) -> ByteRange:
    length = _position(last)
    if length == 0 or size == 0:
        raise RangeNotSatisfiable(size)
    return ByteRange(max(0, size - length), size - 1)


def _digits_key(digits: str) -> tuple[int, str]:
    """Order ASCII digit strings numerically without converting them."""
    significant = digits.lstrip("0")
    return len(significant), significant


def _position(digits: str) -> int:
    significant = digits.lstrip("0") or "0"
    return int(significant) if len(significant) <= _MAX_DIGITS else _HUGE


# --- validators ------------------------------------------------------------------------------


def make_etag(sha256_hex: str) -> str:
    """A strong, quoted entity tag made from the content's SHA-256 (its first 128 bits)."""
    if re.fullmatch(r"[0-9a-fA-F]{64}", sha256_hex) is None:
        raise ValueError("expected the 64 hex digits of a SHA-256 digest")
    return f'"{sha256_hex[:32].lower()}"'


def if_range_allows(if_range: str | None, etag: str, last_modified: datetime) -> bool:
    """Whether a ``Range`` may be honoured under the request's ``If-Range`` (RFC 9110 §13.1.5).

    True when there is no ``If-Range``; when it is an entity tag that strongly matches ``etag``
    (a weak ``W/`` tag never matches); or when it is an HTTP date equal to ``last_modified`` to
    the second. False otherwise, unparseable values included: then the whole file is sent.
    A naive ``last_modified`` is taken as UTC.
    """
    if if_range is None:
        return True
    value = if_range.strip(_OWS)
    if value.startswith('"'):
        return value == etag and etag.startswith('"')
    if value.startswith(("W/", "w/")):
        return False
    when = parse_http_date(value)
    return when is not None and when == _utc(last_modified).replace(microsecond=0)


_ENTITY_TAG = re.compile(r'(?:W/)?("[\x21\x23-\x7e\x80-\xff]*")')


def none_match(if_none_match: str | None, etag: str) -> bool:
    """Whether ``If-None-Match`` names ``etag`` (RFC 9110 §13.1.2): ``*``, or any listed tag
    equal to it under the weak comparison (``W/`` is ignored). Unparseable values match nothing.
    """
    if if_none_match is None:
        return False
    value = if_none_match.strip(_OWS)
    if value == "*":
        return True
    return etag in _ENTITY_TAG.findall(value)


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def format_http_date(moment: datetime) -> str:
    """Format a time as an IMF-fixdate, e.g. ``Sun, 06 Nov 1994 08:49:37 GMT``.

    A naive ``moment`` is taken as UTC. The names are English whatever the process locale.
    """
    return format_datetime(_utc(moment).replace(microsecond=0), usegmt=True)


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH = f"(?P<month>{'|'.join(_MONTHS)})"
_TIME = "(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})"
_DAY_NAME = "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_LONG_DAY_NAME = "(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_HTTP_DATES = (
    # IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
    re.compile(f"{_DAY_NAME}, (?P<day>[0-9]{{2}}) {_MONTH} (?P<year>[0-9]{{4}}) {_TIME} GMT"),
    # obsolete RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
    re.compile(f"{_LONG_DAY_NAME}, (?P<day>[0-9]{{2}})-{_MONTH}-(?P<year>[0-9]{{2}}) {_TIME} GMT"),
    # obsolete asctime: Sun Nov  6 08:49:37 1994
    re.compile(f"{_DAY_NAME} {_MONTH} (?P<day>[ 0-9][0-9]) {_TIME} (?P<year>[0-9]{{4}})"),
)


def parse_http_date(value: str) -> datetime | None:
    """Parse the three HTTP-date formats recipients must accept (RFC 9110 §5.6.7).

    Returns an aware UTC datetime, or ``None`` when ``value`` is not a valid HTTP date.
    """
    for pattern in _HTTP_DATES:
        match = pattern.fullmatch(value)
        if match is not None:
            return _build_date(match)
    return None


def _build_date(match: re.Match[str]) -> datetime | None:
    year = int(match["year"])
    if len(match["year"]) == 2:
        year = _expand_two_digit_year(year)
    try:
        return datetime(
            year,
            _MONTHS.index(match["month"]) + 1,
            int(match["day"]),
            int(match["hour"]),
            int(match["minute"]),
            int(match["second"]),
            tzinfo=UTC,
        )
    except ValueError:  # 31 Feb, hour 24, a leap second, year 0...
        return None


def _expand_two_digit_year(two_digits: int) -> int:
    """A year that would be more than 50 years ahead is the latest past one (RFC 9110)."""
    this_year = datetime.now(UTC).year
    year = this_year - this_year % 100 + two_digits
    if year > this_year + 50:
        year -= 100
    return year


# --- file names ------------------------------------------------------------------------------

_DISPOSITION_TYPE = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")
"""A token (RFC 9110 §5.6.2): ``attachment``, ``inline``."""

_ATTR_CHARS = "!#$&+-.^_`|~"
"""RFC 5987 attr-char besides letters and digits: left as they are in ``filename*``."""

_LINE_SEPARATORS = frozenset("\u2028\u2029")
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")

_TO_ASCII = str.maketrans(
    {
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"),
        **dict.fromkeys("\u2018\u2019\u201a\u201b\u201c\u201d\u201e\u201f", "'"),
        **dict.fromkeys("\u00ab\u00bb\u2039\u203a\u2032\u2033", "'"),
        "\u00df": "ss",
        "\u1e9e": "SS",
        "\u00e6": "ae",
        "\u00c6": "AE",
        "\u0153": "oe",
        "\u0152": "OE",
        "\u00f8": "o",
        "\u00d8": "O",
        "\u0142": "l",
        "\u0141": "L",
        "\u0111": "d",
        "\u0110": "D",
        "\u00f0": "d",
        "\u00d0": "D",
        "\u00fe": "th",
        "\u00de": "Th",
        "\u0131": "i",
    }
)
"""Letters and punctuation that Unicode decomposition alone would not turn into ASCII."""

_UNSAFE_IN_FALLBACK = frozenset('"\\%;')
"""Printable ASCII still replaced in ``filename=``: quoting, escapes, decoding, splitting."""

_FALLBACK_NAME = "download"


def content_disposition(filename: str, disposition: str = "attachment") -> str:
    """A ``Content-Disposition`` value naming ``filename`` for every client (RFC 6266).

    ``attachment; filename="<ASCII fallback>"; filename*=UTF-8''<percent-encoded UTF-8>``.
    The result is printable ASCII whatever ``filename`` holds: no CR, LF or NUL can reach the
    header. A blank name becomes ``download``.
    """
    if _DISPOSITION_TYPE.fullmatch(disposition) is None:
        raise ValueError(f"invalid disposition type {disposition!r}")
    name = "".join("_" if _is_invisible(char) else char for char in filename)
    if not name.strip():
        name = _FALLBACK_NAME
    encoded = quote(name.encode("utf-8"), safe=_ATTR_CHARS)
    return f"{disposition}; filename=\"{ascii_filename(name)}\"; filename*=UTF-8''{encoded}"


def ascii_filename(filename: str) -> str:
    """The closest printable-ASCII name: accents dropped, typographic dashes and quotes made
    plain, and anything else that could not travel in a quoted header value replaced by ``_``.
    Never empty.
    """
    decomposed = unicodedata.normalize("NFKD", filename.translate(_TO_ASCII))
    kept = (char for char in decomposed if not unicodedata.category(char).startswith("M"))
    text = "".join(
        char if " " <= char <= "~" and char not in _UNSAFE_IN_FALLBACK else "_" for char in kept
    )
    return text.strip() or _FALLBACK_NAME


def _is_invisible(char: str) -> bool:
    """Control characters, lone surrogates and line or paragraph separators."""
    return char in _LINE_SEPARATORS or unicodedata.category(char) in {"Cc", "Cs"}


FILENAME_PATTERN = (
    "[^\\x00-\\x20./\\\\\\x7f-\\xa0\\u1680\\u2000-\\u200a\\u2028-\\u202f\\u205f"
    "\\u2066-\\u2069\\u3000][^/\\\\]*$"
)
"""The names :func:`sanitize_filename` takes, for the OpenAPI document: after the last ``/``
or ``\\`` a character that is none of what it removes or strips (control characters, line
and paragraph separators, bidirectional controls, whitespace, dots). Lone surrogates, which it
removes too, are left out of the pattern: no URL or UTF-8 JSON carries them, and a pattern
that names them is one that validators and generators do not compile."""

MAX_FILENAME_BYTES = 255
"""The longest file name most file systems store, in UTF-8 bytes."""

_MAX_EXTENSION_CHARS = 16


def sanitize_filename(raw: str) -> str:
    """Clean a file name supplied by a seller at upload.

    Keeps the last path component (after ``/`` or ``\\``), removes control characters (C0,
    DEL, C1), line and paragraph separators, bidirectional overrides (which can disguise an
    extension) and lone surrogates, normalises to NFC, strips surrounding whitespace and dots,
    and cuts to 255 UTF-8 bytes at a character boundary, keeping the extension where possible.
    Quotes, spaces and letters of any script are kept. Raises ``ValueError`` when nothing
    usable is left.
    """
    name = re.split(r"[/\\]", raw)[-1]
    name = "".join(char for char in name if not _is_removed_from_name(char))
    name = _strip_dots_and_spaces(unicodedata.normalize("NFC", name))
    name = _shorten(name, MAX_FILENAME_BYTES)
    if not name or name in {".", ".."}:
        shown = raw if len(raw) <= 60 else raw[:60] + "..."
        raise ValueError(
            f"invalid file name {shown!r}: nothing is left once folders, control characters "
            "and surrounding dots and spaces are removed"
        )
    return name


def _is_removed_from_name(char: str) -> bool:
    return _is_invisible(char) or char in _BIDI_CONTROLS


def _strip_dots_and_spaces(text: str) -> str:
    start, end = 0, len(text)
    while start < end and (text[start] == "." or text[start].isspace()):
        start += 1
    while end > start and (text[end - 1] == "." or text[end - 1].isspace()):
        end -= 1
    return text[start:end]


def _shorten(name: str, limit: int) -> str:
    """Cut ``name`` to ``limit`` UTF-8 bytes without splitting a character, keeping its
    extension (up to two short suffixes, like ``.tar.gz``) when there is one."""
    if len(name.encode("utf-8")) <= limit:
        return name
    suffix = _extension(name)
    stem = name[: len(name) - len(suffix)]
    room = limit - len(suffix.encode("utf-8"))
    return _strip_dots_and_spaces(_cut_utf8(stem, room)) + suffix


def _extension(name: str) -> str:
    suffix = ""
    rest = name
    for _ in range(2):
        head, dot, tail = rest.rpartition(".")
        if not dot or not head or not (len(tail) <= _MAX_EXTENSION_CHARS and tail.isalnum()):
            break
        suffix = f".{tail}{suffix}"
        rest = head
    return suffix


def _cut_utf8(text: str, limit: int) -> str:
    return text.encode("utf-8")[:limit].decode("utf-8", "ignore")
