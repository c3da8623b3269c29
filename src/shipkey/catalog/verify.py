"""``shipkey files verify``: read every stored product file again and compare its SHA-256."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from shipkey.catalog import service as catalog
from shipkey.catalog.models import Product
from shipkey.storage import ObjectNotFound, Storage


@dataclass(frozen=True)
class Verified:
    product: str
    key: str
    expected: str
    actual: str | None
    """``None`` when the object is missing from storage."""
    size: int | None

    @property
    def ok(self) -> bool:
        return self.actual == self.expected


def verify_files(session: Session, storage: Storage, refs: Sequence[str] = ()) -> list[Verified]:
    """Re-hash the files of the given products (all products with a file when none given)."""
    products: Sequence[Product] = (
        [catalog.get_product(session, ref) for ref in refs]
        if refs
        else catalog.list_products(session)
    )
    results = []
    for product in products:
        if product.file_key is None or product.file_sha256 is None:
            continue
        try:
            stored = storage.hash(product.file_key)
        except ObjectNotFound:
            results.append(
                Verified(product.slug, product.file_key, product.file_sha256, None, None)
            )
            continue
        results.append(
            Verified(
                product.slug, product.file_key, product.file_sha256, stored.sha256, stored.size
            )
        )
    return results
