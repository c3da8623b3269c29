"""The filters the seller's lists share: by the buyer's address and by product. The admin API's
lists (purchases, buyers, licenses) and the admin pages' searches build them here, so each
filter has one shape and one index behind it.

A whole address (``name@host.tld``, no spaces) is looked up as it is, from the b-tree indexes
on ``purchases.email`` (``ix_purchases_email_created_at_id``) and ``customers.email`` (unique).
Part of an address is matched anywhere in it, which PostgreSQL answers from the trigram
indexes; a whole address is not searched that way, because its trigrams (``@ex``, ``.co``,
``com`` …) are shared by nearly every address and the trigram index would read them all.
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
    """``column`` (a stored address) is ``text``'s address; with ``anywhere``, part of an
    address matches every address that contains it, while a whole address still means that
    address only."""
    address = normal_address(text)
    if anywhere and not is_whole_address(address):
        return column.like(like_anywhere(address), escape="\\")
    return column == address


def customers_matching(text: str, *, anywhere: bool) -> Select[str]:
    """The ids of the buyers whose address matches ``text`` (see :func:`address_matches`), as
    a subquery."""
    return select(Customer.id).where(address_matches(Customer.email, text, anywhere=anywhere))


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
