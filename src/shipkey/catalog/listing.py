"""The product list for the command line, read with Core: no ORM, no models.

Importing :mod:`shipkey.catalog.models` (and so the ORM and every mapper) costs more than the
whole of ``shipkey products list`` may take; the columns it shows are named here instead, and
``tests/catalog/test_listing.py`` keeps them the same as :class:`~shipkey.catalog.models.Product`'s.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import column, select, table
from sqlalchemy.engine import Connection

PRODUCTS = table(
    "products",
    column("id"),
    column("slug"),
    column("name"),
    column("type"),
    column("price"),
    column("currency"),
    column("file_name"),
    column("file_size"),
    column("created_at"),
)


@dataclass(frozen=True, slots=True)
class ProductRow:
    id: str
    slug: str
    name: str
    type: str
    price: int
    currency: str
    file_name: str | None
    file_size: int | None


def product_rows(conn: Connection) -> list[ProductRow]:
    """Every product, oldest first (the order of ``catalog.service.list_products``)."""
    p = PRODUCTS.c
    query = select(
        p.id, p.slug, p.name, p.type, p.price, p.currency, p.file_name, p.file_size
    ).order_by(p.created_at, p.id)
    return [ProductRow(*row) for row in conn.execute(query)]
