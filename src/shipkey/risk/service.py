"""What a rule's hit does, and clearing it. Runs in the caller's transaction.

A hit is a :class:`RiskEvent`, inserted with ``open_key = <kind>:<subject>`` (unique while
OPEN): the rule hitting again finds the open event and does nothing more, so the seller gets one
e-mail and one ``risk.flagged`` webhook per event. With ``SHIPKEY_RISK_ACTION=suspend`` (and
always for Stripe's early fraud warning) the hit suspends the licenses it is about and holds the
purchase (no new link, no download: 403 ``UNDER_REVIEW``); the event records exactly what it
suspended, and clearing it reinstates that, unless another open event still holds it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shipkey import hooks
from shipkey.clock import utcnow
from shipkey.config import Settings
from shipkey.db.paging import Page, page
from shipkey.db.writes import insert_new, rowcount
from shipkey.errors import NotFound
from shipkey.ids import new_id
from shipkey.licensing.models import License, LicenseStatus
from shipkey.mail import service as mail
from shipkey.orders.models import Purchase, PurchaseStatus
from shipkey.risk import rules
from shipkey.risk.models import RiskEvent, RiskKind, RiskStatus
from shipkey.risk.rules import Hit
from shipkey.risk.schemas import RiskEventRead

KIND_LABELS: dict[RiskKind, str] = {
    RiskKind.DOWNLOAD_SHARING: "download links fetched from many networks",
    RiskKind.KEY_SHARING: "license validated from many networks",
    RiskKind.ACTIVATION_CHURN: "license activated and deactivated again and again",
    RiskKind.REPEAT_REFUNDER: "a buyer with several refunds or disputes bought again",
    RiskKind.SIGN_IN_SHARING: "buyer signed in from many networks",
    RiskKind.FRAUD_WARNING: "Stripe early fraud warning",
}
"""What each kind means, in English (the pages translate their own labels)."""


# --- checking ------------------------------------------------------------------------------


def check_purchase(
    session: Session, settings: Settings, purchase_id: str, now: datetime | None = None
) -> list[RiskEvent]:
    """The purchase's rules (its links' networks); the events opened."""
    now = now or utcnow()
    purchase = session.get(Purchase, purchase_id)
    if purchase is None:
        return []
    hits = [rules.download_sharing(session, settings, purchase.id, now)]
    return _flag_all(session, settings, purchase, None, hits, now)


def check_sale(
    session: Session, settings: Settings, purchase_id: str, now: datetime | None = None
) -> list[RiskEvent]:
    """The rules of a sale just delivered (its buyer's refunds and disputes), whatever the
    goods (a course or a membership is never downloaded nor validated); the events opened.

    Runs in the ``risk.check`` job queued with the sale: one indexed count, and the purchase
    read only when the buyer has enough refunds to be a hit."""
    if rules.refunds_besides(session, purchase_id) < settings.risk_refunds:
        return []
    purchase = session.get(Purchase, purchase_id)
    if purchase is None:
        return []
    hits = [rules.repeat_refunder(session, settings, purchase)]
    return _flag_all(session, settings, purchase, None, hits, now or utcnow())


def check_sign_in(
    session: Session, settings: Settings, email: str, now: datetime | None = None
) -> list[RiskEvent]:
    """The rules of a buyer who signed in (the networks of their sign-ins); the events opened.
    An event is about the buyer (one open at a time, whichever purchases they make meanwhile)
    and filed under their newest purchase, as their purchases page lists them (with
    ``SHIPKEY_RISK_ACTION=suspend`` its licenses are suspended and its links held, as for the
    other rules)."""
    now = now or utcnow()
    hit = rules.sign_in_sharing(session, settings, email, now)
    if hit is None:
        return []
    purchase = session.scalars(
        select(Purchase)
        .where(Purchase.email == email)
        .order_by(Purchase.created_at.desc(), Purchase.id.desc())
        .limit(1)
    ).first()
    if purchase is None:
        return []
    buyer = replace(hit, subject=purchase.customer_id or purchase.id)  # one open event a buyer
    return _flag_all(session, settings, purchase, None, [buyer], now)


def check_license(
    session: Session, settings: Settings, license_id: str, now: datetime | None = None
) -> list[RiskEvent]:
    """The license's rules (its validations' networks, its activations); the events opened."""
    now = now or utcnow()
    lic = session.get(License, license_id)
    if lic is None:
        return []
    purchase = session.get(Purchase, lic.purchase_id) if lic.purchase_id else None
    hits = [
        rules.key_sharing(session, settings, lic.id, now),
        rules.activation_churn(session, settings, lic.id, now),
    ]
    return _flag_all(session, settings, purchase, lic, hits, now)


def _flag_all(
    session: Session,
    settings: Settings,
    purchase: Purchase | None,
    lic: License | None,
    hits: list[Hit | None],
    now: datetime,
) -> list[RiskEvent]:
    suspend = settings.risk_action == "suspend"
    opened = []
    for hit in hits:
        if hit is not None:
            event = flag(session, settings, hit, purchase, lic, now, suspend=suspend)
            if event is not None:
                opened.append(event)
    return opened


def fraud_warning(
    session: Session,
    settings: Settings,
    purchase: Purchase,
    details: dict[str, Any],
    now: datetime | None = None,
) -> RiskEvent | None:
    """Stripe's early fraud warning for the purchase's payment: an event, and the purchase's
    goods suspended at once (whatever ``SHIPKEY_RISK_ACTION`` says)."""
    hit = Hit(RiskKind.FRAUD_WARNING, details)
    return flag(session, settings, hit, purchase, None, now or utcnow(), suspend=True)


# --- a hit ---------------------------------------------------------------------------------


def _subject(hit: Hit, purchase: Purchase | None, lic: License | None) -> str:
    if hit.subject is not None:
        return hit.subject
    if lic is not None:
        return lic.id
    if purchase is None:
        raise ValueError("a risk event is about a purchase or a license")
    return purchase.id


def flag(
    session: Session,
    settings: Settings,
    hit: Hit,
    purchase: Purchase | None,
    lic: License | None,
    now: datetime,
    *,
    suspend: bool,
) -> RiskEvent | None:
    """Open an event for ``hit`` unless one is open for its (kind, subject); then suspend (if
    asked), e-mail the seller and emit ``risk.flagged``. None when one was open already."""
    subject = _subject(hit, purchase, lic)
    event = insert_new(
        session,
        RiskEvent,
        {
            "id": new_id("rsk"),
            "kind": hit.kind,
            "subject": subject,
            "open_key": f"{hit.kind.value}:{subject}",
            "status": RiskStatus.OPEN,
            "purchase_id": purchase.id if purchase is not None else None,
            "license_id": lic.id if lic is not None else None,
            "details": hit.details,
            "action": {"licenses": [], "held": False},
            "created_at": now,
            "cleared_at": None,
        },
    )
    if event is None:
        return None
    if suspend:
        event.action = _suspend(session, purchase, lic, now)
    read = to_read(session, event)
    mail.queue_risk_flagged(
        session,
        settings,
        {
            "what": KIND_LABELS[hit.kind],
            "purchase_id": event.purchase_id,
            "license_key": read.license_key,
            "evidence": evidence_lines(hit.kind, hit.details),
            "suspended": bool(event.action.get("licenses") or event.action.get("held")),
        },
    )
    hooks.emit(session, "risk.flagged", read.model_dump(mode="json", by_alias=True))
    session.flush()
    return event


def _suspend(
    session: Session, purchase: Purchase | None, lic: License | None, now: datetime
) -> dict[str, Any]:
    """Suspend the ACTIVE licenses the event is about (the one license, or the purchase's) and
    hold the purchase; what was done, for clearing."""
    query = select(License.id).where(License.status == LicenseStatus.ACTIVE)
    if lic is not None:
        query = query.where(License.id == lic.id)
    elif purchase is not None:
        query = query.where(License.purchase_id == purchase.id)
    ids = list(session.scalars(query.with_for_update()))
    suspended: list[str] = []
    for license_id in ids:
        result = session.execute(
            update(License)
            .where(License.id == license_id, License.status == LicenseStatus.ACTIVE)
            .values(status=LicenseStatus.SUSPENDED, suspended_at=now)
            .execution_options(synchronize_session=False)
        )
        if rowcount(result) == 1:
            suspended.append(license_id)
    held = False
    if purchase is not None:
        result = session.execute(
            update(Purchase)
            .where(Purchase.id == purchase.id, Purchase.under_review_since.is_(None))
            .values(under_review_since=now)
            .execution_options(synchronize_session=False)
        )
        held = rowcount(result) == 1 or purchase.under_review_since is not None
        session.refresh(purchase, ["under_review_since"])
    return {"licenses": suspended, "held": held}


def evidence_lines(kind: RiskKind, details: dict[str, Any]) -> list[str]:
    """The evidence of a hit as short lines (for the seller's e-mail)."""
    lines: list[str] = []
    for item in details.get("networks", []):
        if "downloads" in item or "signIns" in item:
            times = ", ".join(d["at"] for d in item.get("downloads", item.get("signIns", [])))
            lines.append(f"{item['network']}: {times}")
        else:
            lines.append(f"{item['network']}: {item.get('firstSeen', '')}")
    for item in details.get("activations", []):
        lines.append(
            f"{item['machineId']} {item.get('ip') or '-'}: "
            f"{item['activatedAt']} - {item['deactivatedAt']}"
        )
    for item in details.get("purchases", []):
        lines.append(f"{item['purchaseId']}: {item['status']}")
    if kind is RiskKind.FRAUD_WARNING:
        lines.append(f"{details.get('warning')}: {details.get('fraudType')}")
    return lines


# --- clearing ------------------------------------------------------------------------------


def get_event(session: Session, event_id: str) -> RiskEvent:
    event = session.get(RiskEvent, event_id) if len(event_id) <= 32 else None
    if event is None:
        raise NotFound("No such risk event.", "RISK_EVENT_NOT_FOUND")
    return event


def clear(session: Session, event: RiskEvent, now: datetime | None = None) -> RiskEvent:
    """OPEN → CLEARED; what its hit suspended is reinstated unless another open event holds it
    (or the purchase is no longer COMPLETED). Clearing a cleared event changes nothing."""
    now = now or utcnow()
    result = session.execute(
        update(RiskEvent)
        .where(RiskEvent.id == event.id, RiskEvent.status == RiskStatus.OPEN)
        .values(status=RiskStatus.CLEARED, open_key=None, cleared_at=now)
        .execution_options(synchronize_session=False)
    )
    session.refresh(event)
    if rowcount(result) != 1:
        return event
    still_held, still_suspended = _held_by_others(session, event)
    purchase = session.get(Purchase, event.purchase_id) if event.purchase_id else None
    if event.action.get("held") and purchase is not None and not still_held:
        purchase.under_review_since = None
    completed = purchase is None or purchase.status is PurchaseStatus.COMPLETED
    reinstate = [lid for lid in event.action.get("licenses", []) if lid not in still_suspended]
    if reinstate and completed:
        session.execute(
            update(License)
            .where(License.id.in_(reinstate), License.status == LicenseStatus.SUSPENDED)
            .values(status=LicenseStatus.ACTIVE, suspended_at=None)
            .execution_options(synchronize_session=False)
        )
    session.flush()
    return event


def _held_by_others(session: Session, event: RiskEvent) -> tuple[bool, set[str]]:
    if event.purchase_id is None:
        return False, set()
    others = session.scalars(
        select(RiskEvent).where(
            RiskEvent.purchase_id == event.purchase_id,
            RiskEvent.status == RiskStatus.OPEN,
            RiskEvent.id != event.id,
        )
    ).all()
    held = any(other.action.get("held") for other in others)
    licenses = {lid for other in others for lid in other.action.get("licenses", [])}
    return held, licenses


# --- reading -------------------------------------------------------------------------------


def to_read(session: Session, event: RiskEvent) -> RiskEventRead:
    key = None
    if event.license_id is not None:
        key = session.scalar(select(License.key).where(License.id == event.license_id))
    return RiskEventRead(
        id=event.id,
        at=event.created_at,
        kind=event.kind,
        purchase_id=event.purchase_id,
        license_key=key,
        details=event.details,
        status=event.status,
        cleared_at=event.cleared_at,
    )


def list_events(
    session: Session,
    *,
    status: RiskStatus | None = None,
    kind: RiskKind | None = None,
    purchase_id: str | None = None,
    limit: int = 20,
    cursor: str | None = None,
) -> Page[RiskEvent]:
    query = select(RiskEvent)
    if status is not None:
        query = query.where(RiskEvent.status == status)
    if kind is not None:
        query = query.where(RiskEvent.kind == kind)
    if purchase_id is not None:
        query = query.where(RiskEvent.purchase_id == purchase_id)
    return page(
        session,
        query,
        created_at=RiskEvent.created_at,
        row_id=RiskEvent.id,
        limit=limit,
        cursor=cursor,
    )


def open_for(
    session: Session, *, purchase_id: str | None = None, license_id: str | None = None
) -> list[RiskEvent]:
    """The open events about a purchase (its licenses' included) or a license: the badges."""
    query = select(RiskEvent).where(RiskEvent.status == RiskStatus.OPEN)
    if purchase_id is not None:
        query = query.where(RiskEvent.purchase_id == purchase_id)
    if license_id is not None:
        query = query.where(RiskEvent.license_id == license_id)
    return list(session.scalars(query.order_by(RiskEvent.created_at)))
