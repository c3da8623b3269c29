"""Importing a platform's export: buyers, COMPLETED purchases and their license keys.

The file is read as a stream and written in batches of :data:`BATCH_ROWS` rows: for each batch
a few queries find what exists (buyers by e-mail, purchases by platform and order id, licenses
by key) and multi-row INSERTs write the rest, so memory stays the same whatever the file's
size and 100,000 rows take seconds (bench/imports.py). The caller commits after each batch
(:func:`run_import` does), so a long import holds no lock for long and what was imported stays
if it is stopped; importing again picks up where it stopped, creating nothing twice:

- a purchase is made once per (platform, order id): ``source`` is ``import:<format>`` and
  ``external_id`` the order id, a unique pair; a row without an order id is made once per
  license key; a row with neither is refused;
- a license key is unique: a key that belongs to another sale already is refused.

What an imported COMPLETED purchase gets: its buyer, the purchase (completed and marked as
delivered at its own time, so nothing ever delivers it again) and the license from the file
(its key verbatim, its activation limit and expiry); a COURSE or MEMBERSHIP product its access
grant. No e-mail and no download link, unless ``notify``: then each new purchase gets the
delivery e-mail with a download link (for a product with a file), its key and access link. A
link can also be made later, on request (``POST /api/admin/purchases/{id}/download-links``
or the resend).

A batch's order ids are looked up one index probe each on PostgreSQL (the ids unnested, each
looked up in the unique index on ``(source, external_id)``), not as ``external_id IN (…)``: the
planner, whose statistics do not know the rows the import has just written, reads that as
matching most of the table and scans every purchase of the source instead. A dry run, one
transaction nothing analyses, read 2.45 million index entries for 100,000 rows that way, every
batch more than the one before (bench/README.md, Imports).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import String, Table, bindparam, func, literal, select, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shipkey.catalog.models import Product
from shipkey.clock import utcnow
from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.downloads import links as downloads
from shipkey.fulfilment import access
from shipkey.ids import new_id
from shipkey.imports.formats import (
    Columns,
    ImportFormat,
    RowError,
    SaleRow,
    columns_for,
    is_summary,
    read_row,
)
from shipkey.licensing import foreign, keys
from shipkey.licensing.models import License
from shipkey.mail import service as mail
from shipkey.orders.models import Customer, Purchase, PurchaseStatus

BATCH_ROWS = 2000
MAX_REFUSALS = 1000
"""Refusals reported in full; beyond this many only their count grows (``refused_count``)."""


@dataclass(frozen=True)
class Refusal:
    line: int
    reason: str


@dataclass
class ImportResult:
    created: int = 0
    skipped: int = 0
    refused: list[Refusal] = field(default_factory=list)
    refused_count: int = 0
    rows: int = 0

    def refuse(self, line: int, reason: str) -> None:
        self.refused_count += 1
        if len(self.refused) < MAX_REFUSALS:
            self.refused.append(Refusal(line, reason))

    def copy(self) -> ImportResult:
        return replace(self, refused=list(self.refused))

    def restore(self, earlier: ImportResult) -> None:
        """Back to ``earlier`` (a batch that was rolled back counts nothing)."""
        self.created, self.skipped, self.rows = earlier.created, earlier.skipped, earlier.rows
        self.refused, self.refused_count = list(earlier.refused), earlier.refused_count


Progress = Callable[[int], None]
"""Called after each batch with the number of rows read so far."""


def read_rows(lines: Iterable[str]) -> Iterator[tuple[int, list[str]]]:
    """The CSV's records with the file line each starts on (the header is line 1)."""
    reader = csv.reader(lines)
    previous = 0
    for values in reader:
        yield previous + 1, values
        previous = reader.line_num


def run_import(
    db: Database,
    settings: Settings,
    lines: Iterable[str],
    fmt: ImportFormat,
    *,
    product: str | None = None,
    dry_run: bool = False,
    notify: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Import a file (its text ``lines``), committing each batch; ``dry_run`` runs it all in
    one transaction that is rolled back, so the counts are the same and nothing changes."""
    result = ImportResult()
    rows = read_rows(lines)
    first = next(rows, None)
    if first is None:
        result.refuse(1, "the file is empty")
        return result
    try:
        columns = columns_for(fmt, first[1])
    except RowError as exc:
        result.refuse(1, str(exc))
        return result
    importer = _Importer(settings, fmt, columns, product, notify, result)
    if dry_run:
        with db.session() as session:
            for batch in _batches(rows):
                importer.import_batch(session, batch)
                if progress:
                    progress(result.rows)
            session.rollback()
        return result
    for batch in _batches(rows):
        _import_once(db, importer, batch)
        if importer.verbatim:
            foreign.note(db)  # the keys validate in this process at once (others poll)
        if progress:
            progress(result.rows)
    return result


def _import_once(db: Database, importer: _Importer, batch: list[tuple[int, list[str]]]) -> None:
    """Import ``batch`` in a transaction of its own. Another import of the same rows that
    commits first (the same file sent twice at once) makes this one's INSERT meet its orders or
    keys: the batch is rolled back and read again, and finds them imported (skipped)."""
    for attempt in range(2):
        before = importer.result.copy()
        try:
            with db.session() as session:
                importer.import_batch(session, batch)
            return
        except IntegrityError:
            importer.result.restore(before)
            importer.products.clear()  # read again: the rollback expired them
            if attempt:
                raise


def _batches(rows: Iterator[tuple[int, list[str]]]) -> Iterator[list[tuple[int, list[str]]]]:
    batch: list[tuple[int, list[str]]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH_ROWS:
            yield batch
            batch = []
    if batch:
        yield batch


class _Importer:
    def __init__(
        self,
        settings: Settings,
        fmt: ImportFormat,
        columns: Columns,
        product: str | None,
        notify: bool,
        result: ImportResult,
    ) -> None:
        self.settings = settings
        self.fmt = fmt
        self.source = f"import:{fmt.value}"
        self.columns = columns
        self.product_ref = product
        self.notify = notify
        self.result = result
        self.products: dict[str, Product | None] = {}
        self.verbatim = False
        """Whether a key in a foreign format was written."""

    def _product(self, session: Session, ref: str | None) -> Product:
        ref = self.product_ref or ref
        if not ref:
            raise RowError("no product (name one with --product)")
        if ref not in self.products:
            self.products[ref] = session.scalars(
                select(Product).where((Product.slug == ref) | (Product.id == ref))
            ).first()
        found = self.products[ref]
        if found is None:
            raise RowError(f"no product {ref!r}")
        return found

    def import_batch(self, session: Session, batch: list[tuple[int, list[str]]]) -> None:
        result = self.result
        sales: list[tuple[SaleRow, Product]] = []
        for line, values in batch:
            result.rows += 1
            if not any(value.strip() for value in values) or is_summary(
                self.fmt, self.columns, values
            ):
                result.rows -= 1  # a blank line, or a file's totals, is no sale
                continue
            try:
                row = read_row(self.fmt, self.columns, values, line)
                if not row.completed:
                    raise RowError(f"not a completed sale ({row.state}): not imported")
                if row.order_id is None and row.license_key is None:
                    raise RowError("neither an order id nor a license key to import it once by")
                product = self._product(session, row.product)
                if row.license_key is not None and product.license_type is None:
                    raise RowError(f"the product {product.slug!r} is not sold with a license")
                if (
                    row.license_key is not None
                    and _stored_key(row.license_key, self.settings) is None
                ):
                    raise RowError(
                        "the license key has shipkey's format but its checksum was made with "
                        "another secret (add it to SHIPKEY_LICENSE_SECRET)"
                    )
            except RowError as exc:
                result.refuse(line, str(exc))
                continue
            sales.append((row, product))
        if sales:
            self._write(session, sales)

    def _write(self, session: Session, sales: list[tuple[SaleRow, Product]]) -> None:
        result = self.result
        orders = {row.order_id for row, _ in sales if row.order_id is not None}
        known_orders = self._known_orders(session, orders)
        keys_in = {_stored_key(row.license_key, self.settings) for row, _ in sales}
        keys_in.discard(None)
        known_keys: dict[str, str | None] = {}
        if keys_in:
            found = select(License.key, License.purchase_id).where(License.key.in_(keys_in))
            known_keys = {row[0]: row[1] for row in session.execute(found)}
        fresh: list[tuple[SaleRow, Product, str | None]] = []
        late_keys: list[tuple[SaleRow, Product, str]] = []
        for row, product in sales:
            key = _stored_key(row.license_key, self.settings)
            if row.order_id is not None and row.order_id in known_orders:
                if key is not None and key not in known_keys:
                    # A key of an order imported before (Lemon Squeezy's orders file first,
                    # then its license keys): the key goes to that sale.
                    known_keys[key] = None
                    late_keys.append((row, product, key))
                else:
                    result.skipped += 1
                continue
            if key is not None and key in known_keys:
                if row.order_id is None:
                    result.skipped += 1  # imported before, by its key
                else:
                    result.refuse(row.line, "the license key belongs to another sale already")
                continue
            if row.order_id is not None:
                known_orders.add(row.order_id)
            if key is not None:
                known_keys[key] = None
            fresh.append((row, product, key))
        if fresh:
            self._insert(session, fresh)
        if late_keys:
            self._add_keys(session, late_keys)

    def _insert(self, session: Session, fresh: list[tuple[SaleRow, Product, str | None]]) -> None:
        """The new sales of ``fresh``, with their licenses."""
        result = self.result
        customers = self._customers(session, [row for row, _, _ in fresh])
        now = utcnow()
        purchases: list[dict[str, Any]] = []
        licenses: list[dict[str, Any]] = []
        for row, product, key in fresh:
            when = row.created_at or now
            customer_id = customers[row.email]
            purchase_id = new_id("pur")
            purchases.append(
                {
                    "id": purchase_id,
                    "product_id": product.id,
                    "customer_id": customer_id,
                    "email": row.email,
                    "name": row.name,
                    "locale": None,
                    "status": PurchaseStatus.COMPLETED,
                    "amount": row.amount if row.amount is not None else 0,
                    "currency": row.currency or product.currency,
                    "source": self.source,
                    "external_id": row.order_id,
                    "max_downloads": product.max_downloads,
                    "download_count": 0,
                    "amount_refunded": 0,
                    "created_at": when,
                    "completed_at": when,
                    "fulfilled_at": when,
                }
            )
            if key is not None and product.license_type is not None:
                licenses.append(self._license(row, product, key, purchase_id, customer_id, when))
        # Core multi-row INSERTs: the ORM's bulk path costs more than the database's work.
        connection = session.connection()
        connection.execute(_table(Purchase).insert(), purchases)
        if licenses:
            connection.execute(_table(License).insert(), licenses)
            self.verbatim = self.verbatim or any(row["verbatim"] for row in licenses)
        result.created += len(purchases)
        self._after(session, [row["id"] for row in purchases], {p.id: p for _, p, _ in fresh})

    def _license(
        self,
        row: SaleRow,
        product: Product,
        key: str,
        purchase_id: str,
        customer_id: str | None,
        when: datetime,
    ) -> dict[str, Any]:
        return {
            "id": new_id("lic"),
            "key": key,
            "verbatim": not keys.check_key(key, self.settings.license_key_secrets),
            "product_id": product.id,
            "customer_id": customer_id,
            "purchase_id": purchase_id,
            "license_type": product.license_type,
            "status": row.license_status,
            "max_activations": row.max_activations or product.max_activations,
            "activation_count": 0,
            "expires_at": row.expires_at,
            "created_at": when,
        }

    def _add_keys(self, session: Session, late_keys: list[tuple[SaleRow, Product, str]]) -> None:
        """Licenses for the keys of sales imported before (each counted as created); a key
        whose sale is of another product, or of one sold without a license, is refused."""
        orders = {row.order_id for row, _, _ in late_keys}
        found = session.execute(
            select(
                Purchase.external_id, Purchase.id, Purchase.customer_id, Purchase.product_id
            ).where(Purchase.source == self.source, Purchase.external_id.in_(orders))
        )
        sale_of = {external: (pid, customer, product) for external, pid, customer, product in found}
        licenses: list[dict[str, Any]] = []
        for row, product, key in late_keys:
            sale = sale_of.get(row.order_id)
            if sale is None or sale[2] != product.id or product.license_type is None:
                self.result.refuse(row.line, "the order was imported before for another product")
                continue
            purchase_id, customer_id, _ = sale
            licenses.append(
                self._license(
                    row, product, key, purchase_id, customer_id, row.created_at or utcnow()
                )
            )
        if licenses:
            session.connection().execute(_table(License).insert(), licenses)
            self.verbatim = self.verbatim or any(row["verbatim"] for row in licenses)
            self.result.created += len(licenses)

    def _known_orders(self, session: Session, orders: set[str]) -> set[str]:
        """Which of these order ids were imported from this source before."""
        if not orders:
            return set()
        if session.get_bind().dialect.name != "postgresql":
            return set(
                session.scalars(
                    select(Purchase.external_id).where(
                        Purchase.source == self.source, Purchase.external_id.in_(orders)
                    )
                )
            )
        wanted = (
            func.unnest(bindparam("orders", sorted(orders), type_=ARRAY(String)))
            .table_valued("id")
            .render_derived(name="wanted")
        )
        # LATERAL … LIMIT 1: a probe per id, whatever the planner thinks the table holds.
        hit = (
            select(literal(1))
            .where(Purchase.source == self.source, Purchase.external_id == wanted.c.id)
            .limit(1)
            .lateral("hit")
        )
        found = select(wanted.c.id).select_from(wanted).join(hit, true())
        return set(session.scalars(found))

    def _customers(self, session: Session, rows: list[SaleRow]) -> dict[str, str]:
        """The buyers' ids by e-mail address, new buyers made (one multi-row INSERT)."""
        emails = {row.email for row in rows}
        found: dict[str, str] = {}
        for customer_id, email in session.execute(
            select(Customer.id, Customer.email).where(Customer.email.in_(emails))
        ):
            found[email] = customer_id
        names = {row.email: row.name for row in rows}
        missing = [
            {
                "id": new_id("cus"),
                "email": email,
                "name": names.get(email),
                "locale": None,
                "created_at": utcnow(),
            }
            for email in sorted(emails - found.keys())
        ]
        if missing:
            dialect = session.get_bind().dialect.name
            table = _table(Customer)
            statement = (
                postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
            ).on_conflict_do_nothing()
            session.execute(statement, missing)
            for customer_id, email in session.execute(
                select(Customer.id, Customer.email).where(
                    Customer.email.in_([m["email"] for m in missing])
                )
            ):
                found[email] = customer_id
        return found

    def _after(
        self, session: Session, purchase_ids: list[str], products: dict[str, Product]
    ) -> None:
        """Access grants for the products that give access; with ``notify``, the delivery
        e-mail (with a download link where there is a file)."""
        if not self.notify and not any(access.kind_for(p) for p in products.values()):
            return
        settings = self.settings
        now = utcnow()
        for purchase in session.scalars(select(Purchase).where(Purchase.id.in_(purchase_ids))):
            grant = access.grant_for_purchase(
                session, settings.secret, settings.base_url, purchase, now
            )
            if not self.notify:
                continue
            links = []
            if purchase.product.has_file:
                link = downloads.issue_link(session, purchase, settings.base_url, now)
                links.append((link.url, link.expires_at))
            licenses = session.scalars(select(License).where(License.purchase_id == purchase.id))
            mail.queue_delivery(
                session,
                settings,
                purchase,
                links,
                [(lic.key, lic.expires_at) for lic in licenses],
                [(grant.title, grant.url)] if grant is not None else [],
            )


def _table(model: type[Any]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)  # noqa: S101 (a mapped class's table)
    return table


def _stored_key(raw: str | None, settings: Settings) -> str | None:
    """A key as it is stored: in shipkey's own format normalised, any other verbatim; None for
    one in shipkey's format whose checksum does not match (it could never be validated)."""
    if raw is None:
        return None
    native = keys.parse_key(raw, settings.license_key_secrets)
    if native is not None:
        return native
    return None if keys.has_native_shape(raw) else raw.strip()
