"""A buyer's data: everything kept about them (:func:`export`), and its erasure
(:func:`erase`), which keeps what bookkeeping needs — amounts, dates, order ids — and replaces
or deletes the rest.

Erasing replaces the buyer's e-mail address (on the buyer and every purchase and e-mail) with
``erased-<customer id>@invalid``, removes their name, the network addresses and user agents
of their downloads, activations and consent, the machine names of their activations and the
bodies of the e-mails sent to them; it stops the e-mails still queued for them, ends their
signed-in sessions and unused sign-in links, and queues the deletion of their stamped copies
from storage. Erasing again changes nothing more (the same result as once).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from shipkey.clock import utcnow
from shipkey.db.writes import rowcount
from shipkey.downloads.models import Download, StampedCopy
from shipkey.errors import NotFound
from shipkey.jobs import service as jobs
from shipkey.licensing.models import License, LicenseActivation
from shipkey.licensing.schemas import ActivationRead
from shipkey.mail.models import MailMessage, MailStatus
from shipkey.orders.models import Customer, Purchase
from shipkey.portal.models import LoginToken
from shipkey.privacy.schemas import (
    CustomerExport,
    CustomerRead,
    EmailExport,
    ErasureRead,
    LicenseExport,
    SessionExport,
    SignInLinkExport,
)
from shipkey.sales.queries import purchase_detail
from shipkey.sales.schemas import PurchaseRead
from shipkey.web import sign_ins
from shipkey.web.models import WebSignIn

DISCARD_COPIES_JOB = "privacy.discard_copies"
NOT_SENT = "Not sent: the recipient's personal data was erased."


def erased_address(customer_id: str) -> str:
    return f"erased-{customer_id}@invalid"


def get_customer(session: Session, customer_id: str) -> Customer:
    customer = session.get(Customer, customer_id) if 0 < len(customer_id) <= 32 else None
    if customer is None:
        raise NotFound(f"No customer {customer_id!r}.", "CUSTOMER_NOT_FOUND")
    return customer


def find_by_email(session: Session, email: str) -> Customer | None:
    return session.scalars(select(Customer).where(Customer.email == email.strip().lower())).first()


def _purchases(session: Session, customer: Customer) -> list[Purchase]:
    return list(
        session.scalars(
            select(Purchase)
            .where(Purchase.customer_id == customer.id)
            .order_by(Purchase.created_at.desc(), Purchase.id)
        )
    )


def _messages(session: Session, customer: Customer, purchase_ids: list[str]) -> list[MailMessage]:
    which = [MailMessage.to_address == customer.email]
    if purchase_ids:
        which.append(MailMessage.purchase_id.in_(purchase_ids))
    return list(
        session.scalars(
            select(MailMessage).where(or_(*which)).order_by(MailMessage.created_at, MailMessage.id)
        )
    )


def export(session: Session, customer: Customer, now: datetime | None = None) -> CustomerExport:
    """Everything kept about ``customer``."""
    purchases = _purchases(session, customer)
    licenses = list(
        session.scalars(
            select(License).where(License.customer_id == customer.id).order_by(License.created_at)
        )
    )
    activations = {
        lic.id: list(
            session.scalars(
                select(LicenseActivation)
                .where(LicenseActivation.license_id == lic.id)
                .order_by(LicenseActivation.activated_at)
            )
        )
        for lic in licenses
    }
    now = now or utcnow()
    return CustomerExport(
        exported_at=now,
        customer=CustomerRead.model_validate(customer),
        purchases=[
            PurchaseRead.of(purchase_detail(session, p, link_limit=10_000)) for p in purchases
        ],
        licenses=[
            LicenseExport(
                key=lic.key,
                status=lic.effective_status(now).value,
                product=lic.product.slug,
                purchase_id=lic.purchase_id,
                created_at=lic.created_at,
                expires_at=lic.expires_at,
                activations=[ActivationRead.model_validate(a) for a in activations[lic.id]],
            )
            for lic in licenses
        ],
        emails=[
            EmailExport.model_validate(message)
            for message in _messages(session, customer, [p.id for p in purchases])
        ],
        sign_in_links=[
            SignInLinkExport.model_validate(token)
            for token in session.scalars(
                select(LoginToken)
                .where(LoginToken.email == customer.email)
                .order_by(LoginToken.created_at)
            )
        ],
        sessions=[
            SessionExport.model_validate(row)
            for row in session.scalars(
                select(WebSignIn)
                .where(WebSignIn.kind == sign_ins.BUYER, WebSignIn.name == customer.email)
                .order_by(WebSignIn.created_at)
            )
        ],
    )


def erase(session: Session, customer: Customer, now: datetime | None = None) -> ErasureRead:
    """Erase the buyer's personal data (see the module's docstring); safe to repeat."""
    now = now or utcnow()
    old_email = customer.email
    new_email = erased_address(customer.id)
    purchases = _purchases(session, customer)
    purchase_ids = [p.id for p in purchases]
    license_ids = list(
        session.scalars(select(License.id).where(License.customer_id == customer.id))
    )
    messages = _messages(session, customer, purchase_ids)
    message_ids = [m.id for m in messages]

    stopped = 0
    if message_ids:
        stopped = rowcount(
            session.execute(
                update(MailMessage)
                .where(MailMessage.id.in_(message_ids), MailMessage.status == MailStatus.PENDING)
                .values(status=MailStatus.FAILED, last_error=NOT_SENT)
                .execution_options(synchronize_session=False)
            )
        )
        session.execute(
            update(MailMessage)
            .where(MailMessage.id.in_(message_ids))
            .values(to_address=new_email, text_body="", html_body="")
            .execution_options(synchronize_session=False)
        )
    ended = rowcount(
        session.execute(
            delete(WebSignIn)
            .where(WebSignIn.kind == sign_ins.BUYER, WebSignIn.name.in_([old_email, new_email]))
            .execution_options(synchronize_session=False)
        )
    )
    session.execute(
        delete(LoginToken)
        .where(LoginToken.email.in_([old_email, new_email]))
        .execution_options(synchronize_session=False)
    )
    if purchase_ids:
        session.execute(
            update(Purchase)
            .where(Purchase.id.in_(purchase_ids))
            .values(email=new_email, name=None, consent_ip=None)
            .execution_options(synchronize_session=False)
        )
        session.execute(
            update(Download)
            .where(Download.purchase_id.in_(purchase_ids))
            .values(ip_address=None, user_agent=None)
            .execution_options(synchronize_session=False)
        )
    if license_ids:
        session.execute(
            update(LicenseActivation)
            .where(LicenseActivation.license_id.in_(license_ids))
            .values(ip=None, machine_name=None)
            .execution_options(synchronize_session=False)
        )
    copies = (
        list(
            session.scalars(
                select(StampedCopy.purchase_id).where(StampedCopy.purchase_id.in_(purchase_ids))
            )
        )
        if purchase_ids
        else []
    )
    if copies:
        jobs.enqueue(session, DISCARD_COPIES_JOB, {"purchase_ids": copies})
    customer.email = new_email
    customer.name = None
    if customer.erased_at is None:
        customer.erased_at = now
    session.flush()
    for purchase in purchases:
        session.refresh(purchase)
    return ErasureRead(
        customer=CustomerRead.model_validate(customer),
        purchases=len(purchases),
        emails_stopped=stopped,
        sessions_ended=ended,
        stamped_copies=len(copies),
    )
