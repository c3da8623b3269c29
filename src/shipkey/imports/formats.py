"""The CSV exports shipkey reads, and how each column maps onto one imported sale.

A header names a column; headers are compared without case, spaces or punctuation
(``Purchase Email``, ``purchase_email`` and ``purchaseEmail`` are one column), so both a
platform's dashboard export and a file built from its API's fields are read. Each field lists
the headers it is read from, first match wins.

- ``generic``: ``email, name, product, orderId, amount`` (cents), ``currency, createdAt,
  licenseKey, maxActivations, expiresAt, status`` (``COMPLETED`` is imported).
- ``gumroad``: the sales CSV of Gumroad's dashboard (its columns are ``PURCHASE_FIELDS`` in
  ``app/services/exports/purchase_export_service.rb`` of Gumroad's source,
  https://github.com/antiwork/gumroad/blob/main/app/services/exports/purchase_export_service.rb):
  ``Purchase ID``, ``Buyer Name``, ``Purchase Email`` (else ``Buyer Email``), ``Purchase Time
  (UTC timezone)`` (else ``Purchase Date``), ``Sale Price ($)`` in dollars (a sale in USD),
  ``Product ID`` (the product's permalink), ``License Key``, ``License Key Enabled?`` (``0``:
  the license is imported suspended), ``Fully Refunded?``, ``Disputed?``, ``Dispute Won?``; its
  last row, ``Totals``, is no sale. A partly refunded sale (``Refunded?`` 1, ``Fully
  Refunded?`` 0) is imported. A file built from the sale object of Gumroad's API and pings
  (https://gumroad.com/webhooks: ``sale_id``, ``email``, ``full_name``, ``product_permalink``,
  ``price`` in USD cents, ``sale_timestamp``, ``license_key``, ``refunded``, ``disputed``,
  ``dispute_won``) is read too.
- ``lemonsqueezy``: files built from Lemon Squeezy's API objects, one a row (its dashboard has
  no documented export of either). License keys (https://docs.lemonsqueezy.com/api/license-keys:
  ``order_id``, ``user_name``, ``user_email``, ``key``, ``activation_limit``, ``disabled``,
  ``status`` ``inactive``/``active``/``expired``/``disabled``, ``expires_at``, ``created_at``)
  or orders (https://docs.lemonsqueezy.com/api/orders: ``identifier``, ``order_number``,
  ``user_name``, ``user_email``, ``currency``, ``total`` in cents, ``status``
  ``pending``/``failed``/``paid``/``refunded``/``partial_refund``, ``created_at``). Both name
  the order; a key's ``order_id`` is the order's API id, which an orders file has as ``id``.
- ``keygen``: Keygen's license attributes (https://keygen.sh/docs/api/licenses/: ``name``,
  ``key``, ``expiry``, ``status`` ``ACTIVE``/``INACTIVE``/``EXPIRING``/``EXPIRED``/
  ``SUSPENDED``/``BANNED``, ``uses``, ``suspended``, ``maxMachines``, ``metadata``,
  ``created``) with the license's ``id`` and the owner's ``email`` (Keygen keeps it on the
  license's owner, a user, or the seller in ``metadata``). A Keygen license has no order: its
  ``id`` is the order id an import is made once by.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from shipkey.licensing.models import LicenseStatus


class ImportFormat(enum.StrEnum):
    GENERIC = "generic"
    GUMROAD = "gumroad"
    LEMONSQUEEZY = "lemonsqueezy"
    KEYGEN = "keygen"


class RowError(ValueError):
    """A row that cannot be imported; the message says why (shown with its line number)."""


@dataclass(frozen=True, slots=True)
class SaleRow:
    """One sale as the file describes it, checked and in shipkey's terms."""

    line: int
    email: str
    name: str | None
    product: str | None
    order_id: str | None
    amount: int | None
    currency: str | None
    created_at: datetime | None
    license_key: str | None
    max_activations: int | None
    expires_at: datetime | None
    completed: bool
    """False: a refunded, disputed, failed or unpaid sale (not imported)."""
    state: str
    """The sale's state as the file says it (for the refusal's message)."""
    license_status: LicenseStatus


def header_key(header: str) -> str:
    """A header as columns are matched: lower case, letters and digits only."""
    return re.sub(r"[^a-z0-9]", "", header.lower())


_EMAIL = re.compile(r"[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+")
_TRUE = {"true", "1", "yes", "y", "t"}


def _text(value: str | None, limit: int, what: str) -> str | None:
    value = (value or "").strip()
    if not value:
        return None
    if len(value) > limit:
        raise RowError(f"{what} is longer than {limit} characters")
    return value


def _moment(value: str | None, what: str) -> datetime | None:
    value = (value or "").strip()
    if not value:
        return None
    text = value.replace("Z", "+00:00").replace(" UTC", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        for pattern in ("%m/%d/%Y %H:%M:%S", "%m/%d/%Y", "%d.%m.%Y"):
            try:
                moment = datetime.strptime(text, pattern)  # noqa: DTZ007 (UTC, set below)
                break
            except ValueError:
                continue
        else:
            raise RowError(f"{what} {value!r} is not an ISO 8601 time") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _count(value: str | None, what: str) -> int | None:
    value = (value or "").strip()
    if not value:
        return None
    if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= 100_000:
        raise RowError(f"{what} {value!r} is not a whole number from 1 to 100000")
    return int(value)


def _money(value: str | None, *, cents: bool) -> int | None:
    """An amount in cents: ``cents`` columns hold whole cents (``999``); the others, and any
    value with a decimal point, hold major units (``9.99``, ``$9.99``)."""
    value = (value or "").strip()
    if not value:
        return None
    digits = re.sub(r"[^0-9.\-]", "", value.replace(",", "."))
    try:
        number = Decimal(digits)
    except InvalidOperation:
        raise RowError(f"amount {value!r} is not a number") from None
    whole = cents and "." not in digits
    amount = int(number) if whole else int((number * 100).to_integral_value())
    if not 0 <= amount <= 100_000_000:
        raise RowError(f"amount {value!r} is out of range")
    return amount


def _currency(value: str | None) -> str | None:
    value = (value or "").strip().upper()
    if not value:
        return None
    if len(value) != 3 or not value.isascii() or not value.isalpha():
        raise RowError(f"currency {value!r} is not a three-letter code")
    return value


@dataclass(frozen=True)
class Columns:
    """Which column (by position) holds each field; None where the file has none."""

    positions: dict[str, int | None]

    def get(self, values: Sequence[str], field: str) -> str | None:
        position = self.positions.get(field)
        if position is None or position >= len(values):
            return None
        return values[position]


_ALIASES: dict[ImportFormat, dict[str, tuple[str, ...]]] = {
    ImportFormat.GENERIC: {
        "email": ("email",),
        "name": ("name",),
        "product": ("product",),
        "order_id": ("orderid",),
        "amount": ("amount",),
        "currency": ("currency",),
        "created_at": ("createdat",),
        "license_key": ("licensekey",),
        "max_activations": ("maxactivations",),
        "expires_at": ("expiresat",),
        "status": ("status",),
    },
    ImportFormat.GUMROAD: {
        "email": ("purchaseemail", "email", "buyeremail"),
        "name": ("buyername", "fullname"),
        "product": ("productpermalink", "productid", "permalink"),
        "order_id": ("purchaseid", "saleid", "id"),
        "amount_cents": ("price",),
        "amount": ("saleprice",),
        "currency": ("buyercurrency", "currency"),
        "buyer_total": ("buyertotal",),
        "created_at": ("purchasetimeutctimezone", "saletimestamp", "purchasedate", "createdat"),
        "license_key": ("licensekey",),
        "license_enabled": ("licensekeyenabled",),
        "refunded": ("fullyrefunded", "refunded"),
        "disputed": ("disputed",),
        "dispute_won": ("disputewon",),
    },
    ImportFormat.LEMONSQUEEZY: {
        "email": ("useremail", "customeremail", "email"),
        "name": ("username", "customername", "name"),
        "product": ("product", "productname"),
        "order_id": ("orderid", "id", "identifier", "ordernumber"),
        "amount_cents": ("total",),
        "currency": ("currency",),
        "created_at": ("createdat", "date"),
        "license_key": ("key", "licensekey"),
        "max_activations": ("activationlimit",),
        "expires_at": ("expiresat",),
        "status": ("status",),
    },
    ImportFormat.KEYGEN: {
        "email": ("email", "useremail", "owneremail", "metadataemail"),
        "name": ("username", "ownername", "userfullname"),
        "product": ("product", "productcode"),
        "order_id": ("id", "licenseid"),
        "created_at": ("created", "createdat"),
        "license_key": ("key",),
        "max_activations": ("maxmachines",),
        "expires_at": ("expiry",),
        "status": ("status",),
    },
}


def columns_for(fmt: ImportFormat, header: Sequence[str]) -> Columns:
    """The columns of a file with this header; :class:`RowError` without an e-mail column."""
    keys = [header_key(name) for name in header]
    positions: dict[str, int | None] = {}
    for field, aliases in _ALIASES[fmt].items():
        positions[field] = next((keys.index(a) for a in aliases if a in keys), None)
    if positions.get("email") is None:
        wanted = ", ".join(_ALIASES[fmt]["email"])
        raise RowError(f"the header has no e-mail column (one of: {wanted})")
    return Columns(positions)


Judge = Callable[[Columns, Sequence[str]], tuple[bool, str, LicenseStatus]]


def _generic_state(columns: Columns, values: Sequence[str]) -> tuple[bool, str, LicenseStatus]:
    state = (columns.get(values, "status") or "COMPLETED").strip().upper()
    return state == "COMPLETED", state, LicenseStatus.ACTIVE


def _gumroad_state(columns: Columns, values: Sequence[str]) -> tuple[bool, str, LicenseStatus]:
    def yes(field: str) -> bool:
        return (columns.get(values, field) or "").strip().lower() in _TRUE

    if yes("refunded"):
        return False, "refunded", LicenseStatus.ACTIVE
    if yes("disputed") and not yes("dispute_won"):
        return False, "disputed", LicenseStatus.ACTIVE
    enabled = (columns.get(values, "license_enabled") or "").strip().lower()
    if enabled and enabled not in _TRUE:
        return True, "successful", LicenseStatus.SUSPENDED
    return True, "successful", LicenseStatus.ACTIVE


_LEMON_SQUEEZY_STATES = {
    # orders
    "paid": LicenseStatus.ACTIVE,
    "partial_refund": LicenseStatus.ACTIVE,
    # license keys
    "inactive": LicenseStatus.ACTIVE,
    "active": LicenseStatus.ACTIVE,
    "expired": LicenseStatus.EXPIRED,
    "disabled": LicenseStatus.SUSPENDED,
}


def _lemon_squeezy_state(
    columns: Columns, values: Sequence[str]
) -> tuple[bool, str, LicenseStatus]:
    state = (columns.get(values, "status") or "paid").strip().lower()
    status = _LEMON_SQUEEZY_STATES.get(state)
    return status is not None, state, status or LicenseStatus.ACTIVE


_KEYGEN_STATES = {
    "ACTIVE": LicenseStatus.ACTIVE,
    "INACTIVE": LicenseStatus.ACTIVE,
    "EXPIRING": LicenseStatus.ACTIVE,
    "EXPIRED": LicenseStatus.EXPIRED,
    "SUSPENDED": LicenseStatus.SUSPENDED,
    "BANNED": LicenseStatus.REVOKED,
}


def _keygen_state(columns: Columns, values: Sequence[str]) -> tuple[bool, str, LicenseStatus]:
    state = (columns.get(values, "status") or "ACTIVE").strip().upper()
    status = _KEYGEN_STATES.get(state)
    return status is not None, state, status or LicenseStatus.ACTIVE


_JUDGES: dict[ImportFormat, Judge] = {
    ImportFormat.GENERIC: _generic_state,
    ImportFormat.GUMROAD: _gumroad_state,
    ImportFormat.LEMONSQUEEZY: _lemon_squeezy_state,
    ImportFormat.KEYGEN: _keygen_state,
}


def is_summary(fmt: ImportFormat, columns: Columns, values: Sequence[str]) -> bool:
    """Whether a row sums up the others instead of being a sale: the ``Totals`` row that ends
    Gumroad's sales CSV (no e-mail address, ``Totals`` in its first column)."""
    return (
        fmt is ImportFormat.GUMROAD
        and bool(values)
        and values[0].strip() == "Totals"
        and not (columns.get(values, "email") or "").strip()
    )


def _amount(
    fmt: ImportFormat, columns: Columns, values: Sequence[str]
) -> tuple[int | None, str | None]:
    """The amount in cents and its currency (None: the file does not say)."""
    currency = _currency(columns.get(values, "currency"))
    if fmt is ImportFormat.GUMROAD:
        # The dollar columns and the API's cents are USD; a sale charged in the buyer's own
        # currency also has that currency and its total in major units.
        buyer_total = _money(columns.get(values, "buyer_total"), cents=False)
        if buyer_total is not None and currency is not None:
            return buyer_total, currency
        amount = _money(columns.get(values, "amount_cents"), cents=True)
        if amount is None:
            amount = _money(columns.get(values, "amount"), cents=False)
        return amount, "USD" if amount is not None else None
    amount = _money(columns.get(values, "amount_cents"), cents=True)
    if amount is None:
        amount = _money(columns.get(values, "amount"), cents=fmt is ImportFormat.GENERIC)
    return amount, currency


def read_row(fmt: ImportFormat, columns: Columns, values: Sequence[str], line: int) -> SaleRow:
    """One data row as a sale; :class:`RowError` saying what is wrong with it."""
    email = (columns.get(values, "email") or "").strip().lower()
    if not email:
        raise RowError("no e-mail address")
    if len(email) > 320 or not _EMAIL.fullmatch(email):
        raise RowError(f"{email!r} is not an e-mail address")
    completed, state, license_status = _JUDGES[fmt](columns, values)
    amount, currency = _amount(fmt, columns, values)
    key = _text(columns.get(values, "license_key"), 64, "the license key")
    return SaleRow(
        line=line,
        email=email,
        name=_text(columns.get(values, "name"), 200, "the name"),
        product=_text(columns.get(values, "product"), 64, "the product"),
        order_id=_text(columns.get(values, "order_id"), 255, "the order id"),
        amount=amount,
        currency=currency,
        created_at=_moment(columns.get(values, "created_at"), "the time"),
        license_key=key,
        max_activations=_count(columns.get(values, "max_activations"), "the activation limit"),
        expires_at=_moment(columns.get(values, "expires_at"), "the expiry"),
        completed=completed,
        state=state,
        license_status=license_status,
    )
