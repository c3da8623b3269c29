"""The filters the seller's lists share: by the buyer's address and by product. The admin API's
lists (purchases, buyers, licenses) and the admin pages' searches build them here, so each
filter has one shape and one index behind it.

The API's filters take a whole address and look it up as it is, from the b-tree indexes on
``purchases.email`` (``ix_purchases_email_created_at_id``) and ``customers.email`` (unique).
The admin pages' search box (:func:`seller_match`) does the same for a whole address
(``name@host.tld``, no spaces) that is on file, and matches anything else anywhere in the
address, which PostgreSQL answers from the trigram indexes: a whole address on file is not
searched that way, because its trigrams (``@ex``, ``.co``, ``com`` …) are shared by nearly every
address and the trigram index would read them all; one not on file (part of a longer one, or
mistyped) still finds the addresses that contain it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.orm import QueryableAttribute, Session

from shipkey.catalog.models import Product
from shipkey.orders.models import Customer

MAX_QUERY = 320
"""The longest search text used (an address's longest length)."""

_WHOLE_ADDRESS = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")


def normal_address(text: str) -> str:
    """An address as stored: trimmed, lower case."""
    return text.strip().lower()[:MAX_QUERY]


def is_whole_address(text: str) -> bool:
    """True for a whole e-mail address (a name, ``@``, a host with a dot), False for part of
    one such as ``@example.com`` or ``buyer12``."""
    return _WHOLE_ADDRESS.fullmatch(text.strip()) is not None


def like_anywhere(text: str) -> str:
    """A ``LIKE`` pattern (escape ``\\``) matching ``text`` anywhere, its wildcards literal."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def address_matches(
    column: QueryableAttribute[Any], text: str, *, anywhere: bool
) -> ColumnElement[bool]:
    """``column`` (a stored address) is ``text``'s address, or with ``anywhere`` contains it."""
    address = normal_address(text)
    if anywhere:
        return column.like(like_anywhere(address), escape="\\")
    return column == address


def seller_match(
    session: Session, column: QueryableAttribute[Any], text: str
) -> ColumnElement[bool]:
    """What the seller's search box means by ``text`` in the addresses of ``column``: a whole
    address that ``column`` holds is that address only (one index lookup decides); anything
    else, a whole address not on file included, is matched anywhere."""
    address = normal_address(text)
    if is_whole_address(address):
        on_file = session.scalar(select(column).where(column == address).limit(1))
        if on_file is not None:
            return column == address
    return address_matches(column, address, anywhere=True)


def customers_matching(condition: ColumnElement[bool]) -> Select[str]:
    """The ids of the buyers whose address meets ``condition`` (one of the above on
    ``Customer.email``), as a subquery."""
    return select(Customer.id).where(condition)


def product_ids(ref: str) -> Select[str]:
    """The id of the product with this id or slug (none for an unknown one), as a subquery."""
    return select(Product.id).where(or_(Product.slug == ref, Product.id == ref))


def customer_emails(session: Session, customer_ids: Iterable[str | None]) -> dict[str, str]:
    """The addresses of these buyers, by id (one query)."""
    ids = {customer_id for customer_id in customer_ids if customer_id}
    if not ids:
        return {}
    rows = session.execute(select(Customer.id, Customer.email).where(Customer.id.in_(ids)))
    return {row[0]: row[1] for row in rows}
