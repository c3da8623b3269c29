"""``shipkey demo``: a store to try shipkey with."""

from __future__ import annotations

from rich.table import Table

from shipkey.cli.common import database, migrate_sqlite, settings
from shipkey.terminal import out


def demo() -> None:
    """Create the demo store (an e-book, software with a license and releases, a course) and a
    demo sale."""
    from shipkey import demo as demo_store
    from shipkey.storage import storage_for

    config = settings()
    db = database(config)
    try:
        migrate_sqlite(config, db)
        storage = storage_for(config)
        with db.session() as session:
            result = demo_store.seed(session, storage, config)
            table = Table("product", "slug", "type", "price", "file")
            for product in result.products:
                new = " (new)" if product.slug in result.created else ""
                table.add_row(
                    product.name + new,
                    product.slug,
                    product.type.value,
                    f"{product.price / 100:.2f} {product.currency}",
                    product.file_name or "-",
                )
            out().print(table)
            if result.purchase is not None:
                out().print(f"Demo sale {result.purchase.id} to {result.purchase.email}")
            if result.download_url:
                out().print(f"  download link: {result.download_url}")
    finally:
        db.dispose()
