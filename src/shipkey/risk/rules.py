"""The rules: each reads what is already recorded and answers with its evidence, or None.

Networks are /24 (IPv4) and /48 (IPv6), of the client address as recorded (behind a trusted
proxy, the address it forwarded: :func:`shipkey.http.net.client_ip`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, column, func, select, table
from sqlalchemy.orm import Session

from shipkey.config import Settings
from shipkey.db.types import UTCDateTime
from shipkey.downloads.models import Download
from shipkey.http.net import network_of
from shipkey.licensing.models import DeactivatedBy, LicenseActivation, LicenseSighting
from shipkey.orders.models import Purchase, PurchaseStatus
from shipkey.risk.models import RiskKind

SHARING_WINDOW = timedelta(hours=24)
CHURN_WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class Hit:
    kind: RiskKind
    details: dict[str, Any]
    subject: str | None = None
    """What the event is about when it is neither the license nor the purchase it is filed
    under (a signed-in buyer): one open event per kind and subject."""


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def download_sharing(
    session: Session, settings: Settings, purchase_id: str, now: datetime
) -> Hit | None:
    """The purchase's links fetched from more than ``SHIPKEY_RISK_DOWNLOAD_NETWORKS`` networks
    in the last 24 h."""
    rows = session.execute(
        select(Download.downloaded_at, Download.ip_address)
        .where(
            Download.purchase_id == purchase_id,
            Download.downloaded_at.is_not(None),
            Download.downloaded_at > now - SHARING_WINDOW,
        )
        .order_by(Download.downloaded_at)
    ).all()
    return _spread(RiskKind.DOWNLOAD_SHARING, rows, settings.risk_download_networks, "downloads")


def _spread(
    kind: RiskKind, rows: Sequence[Row[datetime | None, str | None]], limit: int, name: str
) -> Hit | None:
    """A hit when the (time, address) ``rows`` of the last 24 h come from more than ``limit``
    networks; its evidence lists each network with its rows under ``name``."""
    seen: dict[str, list[dict[str, str | None]]] = {}
    for at, ip in rows:
        network = network_of(ip)
        if network is not None:
            seen.setdefault(network, []).append({"at": _iso(at), "ipAddress": ip})
    if len(seen) <= limit:
        return None
    return Hit(
        kind,
        {
            "limit": limit,
            "windowHours": 24,
            "networks": [{"network": net, name: hits} for net, hits in seen.items()],
        },
    )


def key_sharing(session: Session, settings: Settings, license_id: str, now: datetime) -> Hit | None:
    """The license validated from more than ``SHIPKEY_RISK_VALIDATION_NETWORKS`` networks in
    the last 24 h (by the networks' first validation of the day)."""
    rows = session.execute(
        select(LicenseSighting.network, func.min(LicenseSighting.first_at))
        .where(
            LicenseSighting.license_id == license_id,
            LicenseSighting.first_at > now - SHARING_WINDOW,
        )
        .group_by(LicenseSighting.network)
        .order_by(func.min(LicenseSighting.first_at))
    ).all()
    if len(rows) <= settings.risk_validation_networks:
        return None
    return Hit(
        RiskKind.KEY_SHARING,
        {
            "limit": settings.risk_validation_networks,
            "windowHours": 24,
            "networks": [{"network": net, "firstSeen": _iso(at)} for net, at in rows],
        },
    )


def activation_churn(
    session: Session, settings: Settings, license_id: str, now: datetime
) -> Hit | None:
    """The license activated and then deactivated by the buyer more than
    ``SHIPKEY_RISK_ACTIVATION_CHURN`` times in the last 30 days."""
    rows = session.execute(
        select(
            LicenseActivation.machine_id,
            LicenseActivation.ip,
            LicenseActivation.activated_at,
            LicenseActivation.deactivated_at,
        )
        .where(
            LicenseActivation.license_id == license_id,
            LicenseActivation.deactivated_by == DeactivatedBy.BUYER,
            LicenseActivation.deactivated_at > now - CHURN_WINDOW,
        )
        .order_by(LicenseActivation.deactivated_at)
    ).all()
    if len(rows) <= settings.risk_activation_churn:
        return None
    return Hit(
        RiskKind.ACTIVATION_CHURN,
        {
            "limit": settings.risk_activation_churn,
            "windowDays": 30,
            "activations": [
                {
                    "machineId": machine,
                    "ip": ip,
                    "network": network_of(ip),
                    "activatedAt": _iso(activated),
                    "deactivatedAt": _iso(deactivated),
                }
                for machine, ip, activated, deactivated in rows
            ],
        },
    )


LOGIN_TOKENS = table(
    "login_tokens",
    column("email"),
    column("purpose"),
    column("used_at", UTCDateTime),
    column("ip_address"),
    column("user_agent"),
)
"""The buyer portal's sign-in links (``shipkey.portal.models.LoginToken``), read as a table:
the portal sits above this package, and only these columns are needed."""


def sign_in_sharing(session: Session, settings: Settings, email: str, now: datetime) -> Hit | None:
    """The buyer ``email`` signed in to the purchase portal from more than
    ``SHIPKEY_RISK_SIGN_IN_NETWORKS`` networks in the last 24 h."""
    tokens = LOGIN_TOKENS.c
    rows = session.execute(
        select(tokens.used_at, tokens.ip_address)
        .where(
            tokens.email == email,
            tokens.purpose == "BUYER",
            tokens.used_at.is_not(None),
            tokens.used_at > now - SHARING_WINDOW,
        )
        .order_by(tokens.used_at)
    ).all()
    return _spread(RiskKind.SIGN_IN_SHARING, rows, settings.risk_sign_in_networks, "signIns")


_REFUNDS_BESIDES = Purchase.__table__.alias("sale")


def refunds_besides(session: Session, purchase_id: str) -> int:
    """How many refunded or disputed purchases the buyer of ``purchase_id`` has besides it: one
    indexed count (by customer), without loading the purchase (a sale's delivery job asks)."""
    sale = _REFUNDS_BESIDES
    buyer = select(sale.c.customer_id).where(sale.c.id == purchase_id).scalar_subquery()
    count = session.scalar(
        select(func.count()).where(
            Purchase.customer_id == buyer,
            Purchase.id != purchase_id,
            Purchase.status.in_([PurchaseStatus.REFUNDED, PurchaseStatus.DISPUTED]),
        )
    )
    return int(count or 0)


def repeat_refunder(session: Session, settings: Settings, purchase: Purchase) -> Hit | None:
    """The purchase's buyer has ``SHIPKEY_RISK_REFUNDS`` or more refunded or disputed
    purchases besides this one."""
    if purchase.customer_id is None:
        return None
    rows = session.execute(
        select(Purchase.id, Purchase.status, Purchase.refunded_at, Purchase.disputed_at)
        .where(
            Purchase.customer_id == purchase.customer_id,
            Purchase.id != purchase.id,
            Purchase.status.in_([PurchaseStatus.REFUNDED, PurchaseStatus.DISPUTED]),
        )
        .order_by(Purchase.created_at)
    ).all()
    if len(rows) < settings.risk_refunds:
        return None
    return Hit(
        RiskKind.REPEAT_REFUNDER,
        {
            "limit": settings.risk_refunds,
            "purchases": [
                {
                    "purchaseId": pid,
                    "status": status.value,
                    "at": _iso(refunded or disputed),
                }
                for pid, status, refunded, disputed in rows
            ],
        },
    )
