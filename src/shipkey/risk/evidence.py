"""A purchase's evidence: the order, the buyer, every e-mail, download, activation, a summary of
validations and the buyer's sign-ins — what shows a dispute's bank the goods were received and
used. Read in the caller's (read) session."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shipkey.downloads.models import Download
from shipkey.licensing.models import License, LicenseActivation, LicenseSighting
from shipkey.mail.models import MailMessage
from shipkey.orders.models import Customer, Purchase
from shipkey.risk.rules import LOGIN_TOKENS as _LOGIN_TOKENS
from shipkey.risk.schemas import (
    EvidenceActivation,
    EvidenceCustomer,
    EvidenceDownload,
    EvidenceEmail,
    EvidencePurchase,
    EvidenceRead,
    EvidenceSignIn,
    EvidenceValidations,
)


def consent_record(purchase: Purchase) -> dict[str, Any] | None:
    """The buyer's recorded consent to immediate delivery (waiving the withdrawal period),
    when the purchase has one: ``{acceptedAt, text, textVersion, ipAddress}``."""
    consent = purchase.consent
    if consent is None:
        return None
    return {
        "acceptedAt": consent.accepted_at.isoformat(),
        "text": consent.text,
        "textVersion": consent.text_version,
        "ipAddress": consent.ip_address,
    }


def purchase_evidence(session: Session, purchase: Purchase) -> EvidenceRead:
    customer = session.get(Customer, purchase.customer_id) if purchase.customer_id else None
    email = purchase.email or (customer.email if customer is not None else None)
    licenses = list(session.scalars(select(License).where(License.purchase_id == purchase.id)))
    license_ids = [lic.id for lic in licenses]
    keys = {lic.id: lic.key for lic in licenses}
    return EvidenceRead(
        purchase=EvidencePurchase(
            id=purchase.id,
            status=purchase.status.value,
            product=purchase.product.slug,
            product_name=purchase.product.name,
            amount=purchase.amount,
            currency=purchase.currency,
            created_at=purchase.created_at,
            completed_at=purchase.completed_at,
            delivered_at=purchase.delivered_at,
            stripe_payment_intent_id=purchase.stripe_payment_intent_id,
        ),
        customer=EvidenceCustomer(
            email=email,
            name=purchase.name or (customer.name if customer is not None else None),
            locale=purchase.locale or (customer.locale if customer is not None else None),
            since=customer.created_at if customer is not None else None,
        ),
        consent=consent_record(purchase),
        emails=_emails(session, purchase.id),
        downloads=_downloads(session, purchase),
        activations=_activations(session, license_ids, keys),
        validations=_validations(session, license_ids),
        sign_ins=_sign_ins(session, email),
    )


def _emails(session: Session, purchase_id: str) -> list[EvidenceEmail]:
    rows = session.execute(
        select(MailMessage.sent_at, MailMessage.to_address, MailMessage.subject)
        .where(MailMessage.purchase_id == purchase_id)
        .order_by(MailMessage.created_at, MailMessage.id)
    ).all()
    return [EvidenceEmail(sent_at=at, to=to, subject=subject) for at, to, subject in rows]


def _downloads(session: Session, purchase: Purchase) -> list[EvidenceDownload]:
    rows = session.execute(
        select(
            Download.downloaded_at,
            Download.ip_address,
            Download.user_agent,
            Download.resumed_bytes,
        )
        .where(Download.purchase_id == purchase.id, Download.downloaded_at.is_not(None))
        .order_by(Download.downloaded_at)
    ).all()
    size = purchase.product.file_size or 0
    return [
        EvidenceDownload(at=at, ip_address=ip, user_agent=agent, bytes=size + resumed)
        for at, ip, agent, resumed in rows
    ]


def _activations(
    session: Session, license_ids: list[str], keys: dict[str, str]
) -> list[EvidenceActivation]:
    if not license_ids:
        return []
    rows = session.scalars(
        select(LicenseActivation)
        .where(LicenseActivation.license_id.in_(license_ids))
        .order_by(LicenseActivation.activated_at, LicenseActivation.id)
    ).all()
    return [
        EvidenceActivation(
            license_key=keys[row.license_id],
            machine_id=row.machine_id,
            machine_name=row.machine_name,
            ip=row.ip,
            activated_at=row.activated_at,
            deactivated_at=row.deactivated_at,
            last_seen_at=row.last_seen_at,
        )
        for row in rows
    ]


def _validations(session: Session, license_ids: list[str]) -> EvidenceValidations:
    if not license_ids:
        return EvidenceValidations(count=0, first=None, last=None, networks=[])
    count, first, last = session.execute(
        select(
            func.count(), func.min(LicenseSighting.first_at), func.max(LicenseSighting.first_at)
        ).where(LicenseSighting.license_id.in_(license_ids))
    ).one()
    networks = list(
        session.scalars(
            select(LicenseSighting.network)
            .where(LicenseSighting.license_id.in_(license_ids))
            .group_by(LicenseSighting.network)
            .order_by(func.min(LicenseSighting.first_at))
        )
    )
    seen = session.scalar(
        select(func.max(LicenseActivation.last_seen_at)).where(
            LicenseActivation.license_id.in_(license_ids)
        )
    )
    moments = [m for m in (_utc(last), _utc(seen)) if m is not None]
    return EvidenceValidations(
        count=int(count or 0),
        first=_utc(first),
        last=max(moments) if moments else None,
        networks=networks,
    )


def _utc(value: datetime | None) -> datetime | None:
    """An aggregate's datetime: SQLite gives it without the column's type (naive, or text)."""
    moment = _parse(value)
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _parse(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def _sign_ins(session: Session, email: str | None) -> list[EvidenceSignIn]:
    if not email:
        return []
    rows = session.execute(
        select(_LOGIN_TOKENS.c.used_at, _LOGIN_TOKENS.c.ip_address, _LOGIN_TOKENS.c.user_agent)
        .where(
            func.lower(_LOGIN_TOKENS.c.email) == email.lower(),
            _LOGIN_TOKENS.c.purpose == "BUYER",
            _LOGIN_TOKENS.c.used_at.is_not(None),
        )
        .order_by(_LOGIN_TOKENS.c.used_at)
    ).all()
    return [EvidenceSignIn(at=at, ip_address=ip, user_agent=agent) for at, ip, agent in rows]


def access_log(evidence: EvidenceRead) -> str:
    """The evidence's activity as plain lines, for a dispute's ``access_activity_log``."""
    lines = [
        f"Order {evidence.purchase.id} ({evidence.purchase.product_name}), paid "
        f"{_when(evidence.purchase.completed_at)} by {evidence.customer.email}"
    ]
    lines += [
        f"E-mail '{m.subject}' to {m.to} accepted by the mail server {_when(m.sent_at)}"
        for m in evidence.emails
    ]
    lines += [
        f"Download {_when(d.at)} from {d.ip_address or '-'} ({d.user_agent or '-'}), "
        f"{d.bytes} bytes"
        for d in evidence.downloads
    ]
    lines += [
        f"License {a.license_key} activated on {a.machine_name or a.machine_id} from "
        f"{a.ip or '-'} {_when(a.activated_at)}"
        + (f", deactivated {_when(a.deactivated_at)}" if a.deactivated_at else "")
        for a in evidence.activations
    ]
    v = evidence.validations
    if v.count:
        lines.append(
            f"License validated from {len(v.networks)} network(s) "
            f"({', '.join(v.networks)}), first {_when(v.first)}, last {_when(v.last)}"
        )
    lines += [
        f"Buyer signed in to the purchase portal {_when(s.at)} from {s.ip_address or '-'} "
        f"({s.user_agent or '-'})"
        for s in evidence.sign_ins
    ]
    return "\n".join(lines)


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment is not None else "-"


def dispute_evidence(evidence: EvidenceRead) -> dict[str, str]:
    """The fields of a Stripe dispute's ``evidence`` shipkey fills in."""
    p = evidence.purchase
    served = p.delivered_at or p.completed_at or p.created_at
    return {
        "access_activity_log": access_log(evidence)[:20000],
        "customer_email_address": evidence.customer.email or "",
        "product_description": f"{p.product_name}: digital goods delivered by download link, "
        "license key or access link after payment",
        "service_date": served.strftime("%Y-%m-%d"),
        "uncategorized_text": (
            f"Purchase {p.id}: {len(evidence.downloads)} download(s), "
            f"{len(evidence.activations)} activation(s), {evidence.validations.count} "
            f"validation sighting(s), {len(evidence.sign_ins)} portal sign-in(s)."
            + _consent_sentence(evidence.consent)
        ),
    }


def _consent_sentence(consent: dict[str, Any] | None) -> str:
    if consent is None:
        return ""
    return (
        f" Before paying, at {consent['acceptedAt']}, the buyer agreed that delivery starts at "
        f'once and that their right of withdrawal ends with it: "{consent["text"]}" '
        f"(wording version {consent['textVersion']})."
    )
