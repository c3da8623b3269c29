"""One read of a purchase with what it delivered, for every view that shows it: the admin API
and pages, the buyer portal, the page after checkout, and the e-mail sent again."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from shipkey.db.paging import Page, page
from shipkey.downloads import links as downloads
from shipkey.downloads.models import Download
from shipkey.errors import NotFound
from shipkey.fulfilment import access
from shipkey.fulfilment.access import IssuedAccess
from shipkey.fulfilment.models import AccessGrant
from shipkey.licensing import lookups as license_lookups
from shipkey.licensing.models import License, LicenseActivation, LicenseStatus
from shipkey.orders import search
from shipkey.orders.models import Customer, Purchase, PurchaseStatus


@dataclass(frozen=True)
class PurchaseDetail:
    """A purchase, its download links (newest first), licenses and access grants; with
    ``machines``, each license's active machines too."""

    purchase: Purchase
    links: list[Download]
    licenses: list[License]
    access: list[AccessGrant]
    machines: dict[str, list[LicenseActivation]] = field(default_factory=dict)

    @property
    def working_licenses(self) -> list[License]:
        """The licenses that were not revoked (shown to the buyer, sent again)."""
        return [lic for lic in self.licenses if lic.status is not LicenseStatus.REVOKED]

    def open_access(self, secret: bytes, base_url: str) -> list[IssuedAccess]:
        """The access links that still open (courses, memberships, subscriptions)."""
        return [
            access.describe(secret, base_url, grant)
            for grant in self.access
            if grant.revoked_at is None
        ]


def purchase_detail(
    session: Session, purchase: Purchase, *, link_limit: int = 100, machines: bool = False
) -> PurchaseDetail:
    licenses = license_lookups.list_for_purchase(session, purchase.id)
    active = license_lookups.active_machines(session, licenses) if machines else {}
    return PurchaseDetail(
        purchase=purchase,
        links=downloads.list_links(session, purchase.id, limit=link_limit),
        licenses=licenses,
        access=access.list_for_purchase(session, purchase.id),
        machines=active,
    )


def purchase_details(
    session: Session, purchases: Sequence[Purchase], *, link_limit: int = 100
) -> list[PurchaseDetail]:
    """:func:`purchase_detail` of many purchases in three queries (one per kind of goods), not
    three per purchase: a page of a list."""
    ids = [purchase.id for purchase in purchases]
    if not ids:
        return []
    links: dict[str, list[Download]] = defaultdict(list)
    for link in session.scalars(
        select(Download)
        .where(Download.purchase_id.in_(ids))
        .order_by(Download.created_at.desc(), Download.id)
    ):
        if len(links[link.purchase_id]) < link_limit:
            links[link.purchase_id].append(link)
    licenses: dict[str | None, list[License]] = defaultdict(list)
    for lic in session.scalars(
        select(License).where(License.purchase_id.in_(ids)).order_by(License.created_at, License.id)
    ):
        licenses[lic.purchase_id].append(lic)
    grants: dict[str, list[AccessGrant]] = defaultdict(list)
    for grant in session.scalars(select(AccessGrant).where(AccessGrant.purchase_id.in_(ids))):
        grants[grant.purchase_id].append(grant)
    return [
        PurchaseDetail(
            purchase=purchase,
            links=links[purchase.id],
            licenses=licenses[purchase.id],
            access=grants[purchase.id],
        )
        for purchase in purchases
    ]


@dataclass(frozen=True)
class PurchaseFilter:
    """The filters of the purchases list; each one given narrows it."""

    email: str | None = None
    status: PurchaseStatus | None = None
    product: str | None = None
    """A product's id or slug."""
    created_after: datetime | None = None
    """Inclusive."""
    created_before: datetime | None = None
    """Exclusive."""


def list_purchases(
    session: Session, filters: PurchaseFilter, *, limit: int, cursor: str | None
) -> Page[PurchaseDetail]:
    """A page of purchases, newest first, each with what it delivered."""
    statement = select(Purchase)
    if filters.email:
        statement = statement.where(
            search.address_matches(Purchase.email, filters.email, anywhere=False)
        )
    if filters.status is not None:
        statement = statement.where(Purchase.status == filters.status)
    if filters.product:
        statement = statement.where(Purchase.product_id.in_(search.product_ids(filters.product)))
    if filters.created_after is not None:
        statement = statement.where(Purchase.created_at >= filters.created_after)
    if filters.created_before is not None:
        statement = statement.where(Purchase.created_at < filters.created_before)
    found = page(
        session,
        statement,
        created_at=Purchase.created_at,
        row_id=Purchase.id,
        limit=limit,
        cursor=cursor,
    )
    return Page(purchase_details(session, found.items), found.next_cursor)


@dataclass(frozen=True)
class CustomerDetail:
    customer: Customer
    purchases: list[Purchase]


def _with_purchases(session: Session, customers: Sequence[Customer]) -> list[CustomerDetail]:
    ids = [customer.id for customer in customers]
    bought: dict[str | None, list[Purchase]] = defaultdict(list)
    if ids:
        for purchase in session.scalars(
            select(Purchase)
            .where(Purchase.customer_id.in_(ids))
            .order_by(Purchase.created_at.desc(), Purchase.id.desc())
        ):
            bought[purchase.customer_id].append(purchase)
    return [CustomerDetail(customer, bought[customer.id]) for customer in customers]


def list_customers(
    session: Session, email: str | None, *, limit: int, cursor: str | None
) -> Page[CustomerDetail]:
    """A page of buyers, newest first, each with their purchases (newest first)."""
    statement = select(Customer)
    if email:
        statement = statement.where(search.address_matches(Customer.email, email, anywhere=False))
    found = page(
        session,
        statement,
        created_at=Customer.created_at,
        row_id=Customer.id,
        limit=limit,
        cursor=cursor,
    )
    return Page(_with_purchases(session, found.items), found.next_cursor)


def customer_detail(session: Session, customer_id: str) -> CustomerDetail:
    """A buyer with their purchases; 404 ``CUSTOMER_NOT_FOUND``."""
    customer = session.get(Customer, customer_id) if len(customer_id) <= 32 else None
    if customer is None:
        raise NotFound(f"No customer {customer_id!r}.", "CUSTOMER_NOT_FOUND")
    return _with_purchases(session, [customer])[0]
