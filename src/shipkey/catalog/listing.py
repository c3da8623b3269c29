"""The product list for the command line: one SQL statement, no ORM, no models, no SQLAlchemy.

Importing :mod:`shipkey.catalog.models` (and so the ORM and every mapper), or even SQLAlchemy
Core, costs more than the whole of ``shipkey products list`` may take; the columns it shows are
named here once, and the statement is plain SQL that the DB-API driver runs (``sqlite3``
directly, or through a SQLAlchemy connection's ``exec_driver_sql`` on PostgreSQL).
``tests/catalog/test_listing.py`` keeps the columns the same as
:class:`~shipkey.catalog.models.Product`'s and the order the service's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

COLUMNS = ("id", "slug", "name", "type", "price", "currency", "file_name", "file_size")
"""The columns shown, in :class:`ProductRow`'s order."""

QUERY = f"SELECT {', '.join(COLUMNS)} FROM products ORDER BY created_at, id"  # noqa: S608
"""Every product, oldest first (the order of ``catalog.service.list_products``)."""


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


def product_rows(result: Iterable[Sequence[Any]]) -> list[ProductRow]:
    """The rows :data:`QUERY` returned (from a DB-API cursor or a SQLAlchemy result)."""
    return [ProductRow(*row) for row in result]
