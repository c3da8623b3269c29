"""License rules: issuing keys, seats on machines, validation, state changes, license files.

Seats. ``licenses.activation_count`` is the counter and the check at once::

    UPDATE licenses SET activation_count = activation_count + 1
    WHERE id = :id AND activation_count < max_activations AND status = 'ACTIVE'

One changed row means a seat was taken, so N parallel activations with m free seats give
exactly m, on SQLite and PostgreSQL alike. The activation row is inserted in the same
transaction with ``ON CONFLICT DO NOTHING`` on the partial unique index (one active row per
license and machine); when a parallel request for the same machine got there first, the seat is
given back and the answer is "Already activated".

Lock order. Every change to a license's seats locks the license row first (the seat UPDATE, or
``SELECT … FOR UPDATE`` before a deactivation or reset) and its activation rows after, so two
writers never wait on each other in a cycle. Validation takes no lock at all: it reads in
:meth:`Database.read_session` and records what it noticed (a machine seen, an expiry) in a
separate short write that only changes a row when there is something new.

Expiry. A license past ``expires_at`` is treated as EXPIRED everywhere, and the status EXPIRED
is written the first time that is noticed (even by a request that is then refused).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import String, and_, bindparam, func, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from shipkey.catalog.models import LicenseType, Product
from shipkey.catalog.schemas import DEFAULT_LICENSE_DAYS
from shipkey.clock import utcnow
from shipkey.db.engine import Database
from shipkey.db.reads import BatchRead, DirectRead
from shipkey.db.writes import insert_ignore, insert_new, rowcount
from shipkey.errors import BadRequest, Conflict, Forbidden, NotFound
from shipkey.ids import new_id
from shipkey.licensing import keys
from shipkey.licensing.license_file import LicenseFilePayload, sign_license_file
from shipkey.licensing.models import (
    License,
    LicenseActivation,
    LicenseStatus,
    LicenseView,
    SeatView,
    ValidationCode,
    product_features,
)
from shipkey.licensing.signing_keys import PublicSigningKey, SigningKeyStore
from shipkey.orders.models import Purchase

FILE_VALIDITY = timedelta(days=30)
"""A license file must be renewed online this long after it was issued (sooner if the license
itself ends sooner)."""
LAST_SEEN_RESOLUTION = timedelta(minutes=1)
"""``last_seen_at`` of an activation is written at most this often."""
SIGNING_KEYS_DIR = "signing-keys"
KEY_ATTEMPTS = 8
ACTIVATE_ATTEMPTS = 3

T = TypeVar("T")


class LicenseRefused(Forbidden):
    """The license cannot be used (suspended, revoked, expired, no seat left).

    Raised before any seat changes, so what was recorded on the way (an expiry) is kept.
    """


# --- keys ---------------------------------------------------------------------------------


def parse_key(raw: str, secret: str) -> str | None:
    """The normalised key when ``raw`` is well-formed with a correct checksum, else None.

    Pure: no database involved, so made-up keys cost nothing.
    """
    key = keys.normalize_key(raw)
    return key if keys.check_key(key, secret) else None


def require_key(raw: str, secret: str) -> str:
    """The normalised key, or 400 ``INVALID_KEY_FORMAT``."""
    key = parse_key(raw, secret)
    if key is None:
        raise BadRequest("This is not a valid license key.", "INVALID_KEY_FORMAT")
    return key


# --- issuing ------------------------------------------------------------------------------


def expiry_for(license_type: LicenseType, days: int | None, now: datetime) -> datetime | None:
    """PERPETUAL licenses never end; SUBSCRIPTION and TRIAL ones run ``days`` from ``now``."""
    if license_type is LicenseType.PERPETUAL:
        return None
    return now + timedelta(days=days or DEFAULT_LICENSE_DAYS[license_type])


def issue_license(
    session: Session,
    product: Product,
    customer_id: str,
    secret: str,
    *,
    purchase_id: str | None = None,
    max_activations: int | None = None,
    days: int | None = None,
    now: datetime | None = None,
) -> License:
    """A new ACTIVE license for ``product`` with a fresh key.

    Keys are unique (a unique index); on the rare collision another key is drawn.
    """
    if product.license_type is None:
        raise Conflict(f"The product {product.slug!r} has no license type.", "NO_LICENSE")
    now = now or utcnow()
    prefix = keys.key_prefix_for(product.slug, product.key_prefix)
    values = {
        "id": new_id("lic"),
        "product_id": product.id,
        "customer_id": customer_id,
        "purchase_id": purchase_id,
        "license_type": product.license_type,
        "status": LicenseStatus.ACTIVE,
        "max_activations": max_activations or product.max_activations,
        "activation_count": 0,
        "expires_at": expiry_for(product.license_type, days or product.license_days, now),
        "created_at": now,
    }
    for _ in range(KEY_ATTEMPTS):
        lic = insert_new(session, License, {**values, "key": keys.generate_key(prefix, secret)})
        if lic is not None:
            return lic
    raise RuntimeError("could not draw an unused license key")  # pragma: no cover


def issue_for_purchase(
    session: Session, purchase: Purchase, secret: str, now: datetime | None = None
) -> License:
    """The license a purchase of a licensed product delivers."""
    if purchase.customer_id is None:
        raise ValueError(f"purchase {purchase.id} has no buyer yet")
    return issue_license(
        session,
        purchase.product,
        purchase.customer_id,
        secret,
        purchase_id=purchase.id,
        now=now,
    )


def issue_manual(
    session: Session,
    product_ref: str,
    email: str,
    secret: str,
    *,
    name: str | None = None,
    max_activations: int | None = None,
    days: int | None = None,
) -> License:
    """A license handed out without a sale (review copies, replacements, gifts).

    It belongs to the buyer with that e-mail address (created if new) and to no purchase, so
    no refund or dispute can end it; the admin API can.
    """
    # Imported here: orders.service imports this module (refunds revoke licenses).
    from shipkey.catalog import service as catalog
    from shipkey.orders import service as orders

    product = catalog.get_product(session, product_ref)
    if product.license_type is None:
        raise Conflict(f"The product {product.slug!r} is not sold with a license.", "NO_LICENSE")
    customer = orders.customer_for(session, email, name)
    return issue_license(
        session, product, customer.id, secret, max_activations=max_activations, days=days
    )


def list_for_purchase(session: Session, purchase_id: str) -> list[License]:
    return list(
        session.scalars(
            select(License)
            .where(License.purchase_id == purchase_id)
            .order_by(License.created_at, License.id)
        )
    )


def revoke_for_purchase(session: Session, purchase_id: str, now: datetime | None = None) -> int:
    """Revoke every license of a purchase (a refund); returns how many changed."""
    result = session.execute(
        update(License)
        .where(License.purchase_id == purchase_id, License.status != LicenseStatus.REVOKED)
        .values(status=LicenseStatus.REVOKED, revoked_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)


def suspend_for_purchase(session: Session, purchase_id: str, now: datetime | None = None) -> int:
    """Suspend the purchase's ACTIVE licenses (a dispute was opened); returns how many."""
    result = session.execute(
        update(License)
        .where(License.purchase_id == purchase_id, License.status == LicenseStatus.ACTIVE)
        .values(status=LicenseStatus.SUSPENDED, suspended_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)


def reinstate_for_purchase(session: Session, purchase_id: str) -> int:
    """Make the purchase's SUSPENDED licenses ACTIVE again (a dispute was won)."""
    result = session.execute(
        update(License)
        .where(License.purchase_id == purchase_id, License.status == LicenseStatus.SUSPENDED)
        .values(status=LicenseStatus.ACTIVE, suspended_at=None)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)


def extend_for_purchase(session: Session, purchase_id: str, until: datetime) -> int:
    """SUBSCRIPTION licenses of the purchase run to ``until`` (the end of the paid period).

    One that had expired is ACTIVE again; suspended and revoked ones keep their status.
    """
    result = session.execute(
        update(License)
        .where(
            License.purchase_id == purchase_id,
            License.license_type == LicenseType.SUBSCRIPTION,
            License.status.in_([LicenseStatus.ACTIVE, LicenseStatus.EXPIRED]),
        )
        .values(status=LicenseStatus.ACTIVE, expires_at=until, expired_at=None)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)


def end_for_purchase(session: Session, purchase_id: str, when: datetime) -> int:
    """SUBSCRIPTION licenses of the purchase end at ``when`` (the subscription was cancelled)."""
    ending = [
        License.purchase_id == purchase_id,
        License.license_type == LicenseType.SUBSCRIPTION,
        or_(License.expires_at.is_(None), License.expires_at > when),
    ]
    result = session.execute(
        update(License)
        .where(*ending)
        .values(expires_at=when)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(License)
        .where(
            License.purchase_id == purchase_id,
            License.status == LicenseStatus.ACTIVE,
            License.expires_at.is_not(None),
            License.expires_at <= utcnow(),
        )
        .values(status=LicenseStatus.EXPIRED, expired_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)


# --- lookups ------------------------------------------------------------------------------


def find_license(session: Session, key: str) -> License | None:
    return session.scalars(
        select(License).where(License.key == key).execution_options(populate_existing=True)
    ).first()


def get_license(session: Session, key: str) -> License:
    """The license with this (normalised) key, or 404 ``LICENSE_NOT_FOUND``."""
    lic = find_license(session, key)
    if lic is None:
        raise NotFound("No license with this key.", "LICENSE_NOT_FOUND")
    return lic


def lookup(session: Session, ref: str) -> License:
    """A license by key (any case) or by id, for the seller."""
    ref = ref.strip()
    lic = session.get(License, ref) if ref.startswith("lic_") and len(ref) <= 32 else None
    if lic is None and len(ref) <= keys.MAX_KEY_LENGTH:
        lic = find_license(session, keys.normalize_key(ref))
    if lic is None:
        raise NotFound("No license with this key.", "LICENSE_NOT_FOUND")
    return lic


def active_activation(
    session: Session, license_id: str, machine_id: str
) -> LicenseActivation | None:
    return session.scalars(
        select(LicenseActivation)
        .where(
            LicenseActivation.license_id == license_id,
            LicenseActivation.machine_id == machine_id,
            LicenseActivation.deactivated_at.is_(None),
        )
        .execution_options(populate_existing=True)
    ).first()


def list_activations(session: Session, license_id: str) -> list[LicenseActivation]:
    """Every activation of a license, newest first (deactivated ones included)."""
    return list(
        session.scalars(
            select(LicenseActivation)
            .where(LicenseActivation.license_id == license_id)
            .order_by(LicenseActivation.activated_at.desc(), LicenseActivation.id)
        )
    )


# --- refusals and expiry --------------------------------------------------------------------


def refusal(lic: License, now: datetime) -> LicenseRefused | None:
    """Why ``lic`` cannot be used now, if it cannot."""
    status = lic.effective_status(now)
    if status is LicenseStatus.REVOKED:
        return LicenseRefused("This license was revoked.", "LICENSE_REVOKED")
    if status is LicenseStatus.SUSPENDED:
        return LicenseRefused("This license is suspended.", "LICENSE_SUSPENDED")
    if status is LicenseStatus.EXPIRED:
        return LicenseRefused("This license has expired.", "LICENSE_EXPIRED")
    return None


def record_expiry(session: Session, license_id: str, now: datetime) -> bool:
    """ACTIVE → EXPIRED once ``expires_at`` has passed; True when this call changed it."""
    result = session.execute(
        update(License)
        .where(
            License.id == license_id,
            License.status == LicenseStatus.ACTIVE,
            License.expires_at.is_not(None),
            License.expires_at <= now,
        )
        .values(status=LicenseStatus.EXPIRED, expired_at=now)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result) == 1


def _ensure_usable(session: Session, lic: License, now: datetime) -> None:
    refused = refusal(lic, now)
    if refused is None:
        return
    if lic.status is LicenseStatus.ACTIVE:  # past its expiry: record it
        record_expiry(session, lic.id, now)
    raise refused


def _write(db: Database, work: Callable[[Session], T]) -> T:
    """Run ``work`` in one write unit of work.

    A :class:`LicenseRefused` from ``work`` still commits what was recorded before it (an
    expiry noticed on the way) and is raised after the commit.
    """
    with db.session() as session:
        try:
            return work(session)
        except LicenseRefused as exc:
            refused = exc
    raise refused


@dataclass(frozen=True)
class Sightings:
    """What a read-only check noticed and should record."""

    expired_license_id: str | None = None
    seen_activation_id: str | None = None

    def __bool__(self) -> bool:
        return self.expired_license_id is not None or self.seen_activation_id is not None


def _sightings(
    lic: License | LicenseView, activation: LicenseActivation | SeatView | None, now: datetime
) -> Sightings:
    expired = lic.status is LicenseStatus.ACTIVE and lic.is_past_expiry(now)
    stale = activation is not None and (
        activation.last_seen_at is None or activation.last_seen_at < now - LAST_SEEN_RESOLUTION
    )
    return Sightings(
        expired_license_id=lic.id if expired else None,
        seen_activation_id=activation.id if activation is not None and stale else None,
    )


def record_sightings(db: Database, sightings: Sightings, now: datetime) -> None:
    """One short write for what a read noticed; each UPDATE changes a row only when stale."""
    if not sightings:
        return
    with db.session() as session:
        if sightings.expired_license_id is not None:
            record_expiry(session, sightings.expired_license_id, now)
        if sightings.seen_activation_id is not None:
            session.execute(
                update(LicenseActivation)
                .where(
                    LicenseActivation.id == sightings.seen_activation_id,
                    or_(
                        LicenseActivation.last_seen_at.is_(None),
                        LicenseActivation.last_seen_at < now - LAST_SEEN_RESOLUTION,
                    ),
                )
                .values(last_seen_at=now)
                .execution_options(synchronize_session=False)
            )


# --- license files ------------------------------------------------------------------------


def file_expiry(lic: License, now: datetime) -> datetime:
    """When a file issued ``now`` must be renewed: 30 days on, never after the license ends."""
    expires = now + FILE_VALIDITY
    if lic.expires_at is not None and lic.expires_at < expires:
        return lic.expires_at
    return expires


def license_file(
    signing_keys: SigningKeyStore, lic: License, machine_id: str, now: datetime
) -> str:
    """A signed license file for ``lic`` on ``machine_id``, issued ``now``."""
    payload = LicenseFilePayload(
        license_key=lic.key,
        product=lic.product.slug,
        machine_id=machine_id,
        features=tuple(lic.features),
        license_expires_at=lic.expires_at,
        issued_at=now,
        expires_at=file_expiry(lic, now),
    )
    key = signing_keys.current()
    return sign_license_file(payload, key.private_key, key.kid)


def signing_key_store(data_dir: Path) -> SigningKeyStore:
    """The signing keys of the installation whose data directory is ``data_dir``."""
    return SigningKeyStore(data_dir / SIGNING_KEYS_DIR)


def public_keys(signing_keys: SigningKeyStore) -> list[PublicSigningKey]:
    """The keys license files may be signed with (a key is made on first use)."""
    return signing_keys.published()


# --- activation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Activation:
    """The outcome of an activation: the license, this machine's row, and its license file."""

    license: License
    activation: LicenseActivation
    already: bool
    license_file: str
    now: datetime


def activate(
    db: Database,
    signing_keys: SigningKeyStore,
    secret: str,
    raw_key: str,
    machine_id: str,
    *,
    machine_name: str | None = None,
    ip: str | None = None,
    now: datetime | None = None,
) -> Activation:
    """Activate a license on a machine, taking a seat unless the machine already holds one.

    Errors: 400 ``INVALID_KEY_FORMAT`` (before any query), 404 ``LICENSE_NOT_FOUND``, 403
    ``LICENSE_SUSPENDED``, ``LICENSE_REVOKED``, ``LICENSE_EXPIRED``, ``TOO_MANY_ACTIVATIONS``.
    """
    key = require_key(raw_key, secret)
    moment = now or utcnow()
    seat = SeatRequest(
        machine_id, machine_name[:255] if machine_name else None, _clip_ip(ip), moment
    )
    lic, activation, already = _write(db, lambda session: seat.take(session, key))
    return Activation(
        license=lic,
        activation=activation,
        already=already,
        license_file=license_file(signing_keys, lic, machine_id, moment),
        now=moment,
    )


def _clip_ip(ip: str | None) -> str | None:
    return ip[:64] if ip else None


@dataclass(frozen=True)
class SeatRequest:
    """One activation request (machine, name, address, time), run in a write unit of work."""

    machine_id: str
    machine_name: str | None
    ip: str | None
    now: datetime

    def take(self, session: Session, key: str) -> tuple[License, LicenseActivation, bool]:
        """The license, the machine's activation, and whether it already held one.

        A few rounds at most: each one either returns or observed a parallel change (the
        machine activated or deactivated by another request) that the next round resolves.
        """
        lic = get_license(session, key)
        _ensure_usable(session, lic, self.now)
        for _ in range(ACTIVATE_ATTEMPTS):
            existing = active_activation(session, lic.id, self.machine_id)
            if existing is not None:
                if self._renew(session, existing):
                    return self._done(session, lic, existing, already=True)
                continue  # deactivated in the meantime
            if not self._take_seat(session, lic):
                if active_activation(session, lic.id, self.machine_id) is not None:
                    continue  # a parallel request activated this machine: use its seat
                session.refresh(lic)
                _ensure_usable(session, lic, self.now)
                raise _too_many(lic)
            activation = self.insert_activation(session, lic.id)
            if activation is not None:
                return self._done(session, lic, activation, already=False)
            self._give_back_seat(session, lic.id)
        raise Conflict("The license is busy; try again.", "LICENSE_BUSY")  # pragma: no cover

    def _take_seat(self, session: Session, lic: License) -> bool:
        result = session.execute(
            update(License)
            .where(
                License.id == lic.id,
                License.activation_count < License.max_activations,
                License.status == LicenseStatus.ACTIVE,
                or_(License.expires_at.is_(None), License.expires_at > self.now),
            )
            .values(activation_count=License.activation_count + 1)
            .execution_options(synchronize_session=False)
        )
        return rowcount(result) == 1

    def _give_back_seat(self, session: Session, license_id: str) -> None:
        session.execute(
            update(License)
            .where(License.id == license_id)
            .values(activation_count=License.activation_count - 1)
            .execution_options(synchronize_session=False)
        )

    def insert_activation(self, session: Session, license_id: str) -> LicenseActivation | None:
        """The new activation row, or None when this machine already holds an active one."""
        activation_id = new_id("act")
        inserted = insert_ignore(
            session,
            LicenseActivation,
            {
                "id": activation_id,
                "license_id": license_id,
                "machine_id": self.machine_id,
                "machine_name": self.machine_name,
                "ip": self.ip,
                "activated_at": self.now,
                "last_seen_at": self.now,
            },
        )
        return session.get(LicenseActivation, activation_id) if inserted else None

    def _renew(self, session: Session, activation: LicenseActivation) -> bool:
        """Record a repeated activation on an active row; False if it was deactivated meanwhile."""
        values: dict[str, object] = {"last_seen_at": self.now}
        if self.ip:
            values["ip"] = self.ip
        if self.machine_name:
            values["machine_name"] = self.machine_name
        result = session.execute(
            update(LicenseActivation)
            .where(
                LicenseActivation.id == activation.id,
                LicenseActivation.deactivated_at.is_(None),
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return rowcount(result) == 1

    def _done(
        self, session: Session, lic: License, activation: LicenseActivation, *, already: bool
    ) -> tuple[License, LicenseActivation, bool]:
        session.refresh(lic)
        session.refresh(activation)
        return lic, activation, already


def _too_many(lic: License) -> LicenseRefused:
    return LicenseRefused(
        f"This license is already active on {lic.activation_count} of "
        f"{lic.max_activations} machines. Deactivate one to use it here.",
        "TOO_MANY_ACTIVATIONS",
        maxActivations=lic.max_activations,
        currentActivations=lic.activation_count,
    )


# --- deactivation -------------------------------------------------------------------------


def _lock(session: Session, license_id: str) -> None:
    """Lock the license row (PostgreSQL; SQLite writers already hold the database lock)."""
    session.execute(select(License.id).where(License.id == license_id).with_for_update())


def deactivate(
    session: Session,
    secret: str,
    raw_key: str | None,
    machine_id: str | None,
    now: datetime | None = None,
) -> License:
    """Free the seat ``machine_id`` holds on the license.

    Errors: 400 ``MISSING_PARAMETER`` or ``INVALID_KEY_FORMAT`` (before any query), 404
    ``LICENSE_NOT_FOUND`` or ``ACTIVATION_NOT_FOUND``. Works whatever the license's status.
    """
    if not raw_key or not raw_key.strip() or not machine_id:
        raise BadRequest("Give both key and machineId.", "MISSING_PARAMETER")
    key = require_key(raw_key, secret)
    lic = get_license(session, key)
    _lock(session, lic.id)
    changed = session.execute(
        update(LicenseActivation)
        .where(
            LicenseActivation.license_id == lic.id,
            LicenseActivation.machine_id == machine_id,
            LicenseActivation.deactivated_at.is_(None),
        )
        .values(deactivated_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    if rowcount(changed) != 1:
        raise NotFound("This machine holds no activation of this license.", "ACTIVATION_NOT_FOUND")
    session.execute(
        update(License)
        .where(License.id == lic.id)
        .values(activation_count=License.activation_count - 1)
        .execution_options(synchronize_session=False)
    )
    session.refresh(lic)
    return lic


def reset_activations(session: Session, lic: License, now: datetime | None = None) -> int:
    """Deactivate every machine of a license; returns how many were active."""
    _lock(session, lic.id)
    changed = session.execute(
        update(LicenseActivation)
        .where(LicenseActivation.license_id == lic.id, LicenseActivation.deactivated_at.is_(None))
        .values(deactivated_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(License)
        .where(License.id == lic.id)
        .values(activation_count=0)
        .execution_options(synchronize_session=False)
    )
    session.refresh(lic)
    return rowcount(changed)


# --- validation and renewal -----------------------------------------------------------------


_STATUS_CODES: dict[LicenseStatus, ValidationCode] = {
    LicenseStatus.ACTIVE: "VALID",
    LicenseStatus.SUSPENDED: "SUSPENDED",
    LicenseStatus.REVOKED: "REVOKED",
    LicenseStatus.EXPIRED: "EXPIRED",
}


@dataclass(frozen=True)
class Validation:
    """The answer to a validation; ``license`` is None for INVALID_FORMAT and NOT_FOUND."""

    code: ValidationCode
    license: LicenseView | None
    now: datetime

    @property
    def valid(self) -> bool:
        return self.code == "VALID"


_VALIDATION_COLUMNS = (
    License.id,
    License.status,
    License.expires_at,
    License.license_type,
    License.max_activations,
    License.activation_count,
    Product.name,
    Product.meta,
    LicenseActivation.id,
    LicenseActivation.last_seen_at,
)
_VALIDATION_LOOKUP = DirectRead(
    select(*_VALIDATION_COLUMNS)
    .join(Product, Product.id == License.product_id)
    .outerjoin(
        LicenseActivation,
        and_(
            LicenseActivation.license_id == License.id,
            LicenseActivation.machine_id == bindparam("machine_id"),
            LicenseActivation.deactivated_at.is_(None),
        ),
    )
    .where(License.key == bindparam("key"))
)
"""The one read of a validation: the license, its product and the machine's active seat."""

_WANTED = (
    func.unnest(
        bindparam("keys", type_=ARRAY(String)), bindparam("machine_ids", type_=ARRAY(String))
    )
    .table_valued("key", "machine_id", with_ordinality="position")
    .render_derived(name="wanted")
)
_VALIDATION_BATCH = BatchRead(
    select(_WANTED.c.position, *_VALIDATION_COLUMNS)
    .select_from(_WANTED)
    .join(License, License.key == _WANTED.c.key)
    .join(Product, Product.id == License.product_id)
    .outerjoin(
        LicenseActivation,
        and_(
            LicenseActivation.license_id == License.id,
            LicenseActivation.machine_id == _WANTED.c.machine_id,
            LicenseActivation.deactivated_at.is_(None),
        ),
    ),
    {"key": "keys", "machine_id": "machine_ids"},
)
"""The same read for the validations that arrive together (PostgreSQL, see ``BatchRead``)."""


def _validation_view(
    row: tuple[Any, ...] | None, key: str, machine_id: str | None
) -> tuple[LicenseView, SeatView | None] | None:
    if row is None:
        return None
    lic = LicenseView(
        id=row[0],
        key=key,
        status=row[1],
        expires_at=row[2],
        license_type=row[3],
        max_activations=row[4],
        activation_count=row[5],
        product_name=row[6],
        features=product_features(row[7]),
    )
    seat = SeatView(row[8], row[9]) if machine_id is not None and row[8] is not None else None
    return lic, seat


async def validate(
    db: Database,
    secret: str,
    raw_key: str,
    machine_id: str | None = None,
    now: datetime | None = None,
) -> Validation:
    """Whether a key is valid now (and, with ``machine_id``, activated on that machine), from
    the event loop.

    Reads without locks; a malformed key is answered without any query. The rare write (a
    machine last seen more than a minute ago, an expiry noticed) goes to a thread, as it may
    wait for SQLite's write lock.
    """
    result, sightings = await check(db, secret, raw_key, machine_id, now)
    if sightings:
        await asyncio.to_thread(record_sightings, db, sightings, result.now)
    return result


async def check(
    db: Database,
    secret: str,
    raw_key: str,
    machine_id: str | None = None,
    now: datetime | None = None,
) -> tuple[Validation, Sightings]:
    """The read half of :func:`validate`: the answer, and what ought to be recorded.

    One query, no write, no lock: a reader never waits (WAL on SQLite, MVCC on PostgreSQL).
    Validation is the hottest endpoint (programs call it at every start), so the query skips
    the ORM and SQLAlchemy's execution path (``DirectRead``) and waits on the event loop
    (``Database.read_first``); the row comes back as read-only snapshots. The caller passes the
    sightings to :func:`record_sightings` (rarely anything: at most one write a minute per
    activation).
    """
    now = now or utcnow()
    key = parse_key(raw_key, secret)
    if key is None:
        return Validation("INVALID_FORMAT", None, now), Sightings()
    params = {"key": key, "machine_id": machine_id}
    row = await db.read_first(_VALIDATION_LOOKUP, params, batch=_VALIDATION_BATCH)
    return _judge(_validation_view(row, key, machine_id), machine_id, now)


def _judge(
    found: tuple[LicenseView, SeatView | None] | None, machine_id: str | None, now: datetime
) -> tuple[Validation, Sightings]:
    if found is None:
        return Validation("NOT_FOUND", None, now), Sightings()
    lic, activation = found
    status = lic.effective_status(now)
    if status is not LicenseStatus.ACTIVE:
        activation = None
    sightings = _sightings(lic, activation, now)
    if status is not LicenseStatus.ACTIVE:
        return Validation(_STATUS_CODES[status], lic, now), sightings
    if machine_id is not None and activation is None:
        return Validation("NOT_ACTIVATED", lic, now), sightings
    return Validation("VALID", lic, now), sightings


@dataclass(frozen=True)
class RenewedFile:
    license: License
    license_file: str
    now: datetime


def renew_file(
    db: Database,
    signing_keys: SigningKeyStore,
    secret: str,
    raw_key: str,
    machine_id: str,
    now: datetime | None = None,
) -> RenewedFile:
    """A fresh license file for a machine that holds an activation (no seat is taken).

    Errors as for activation, and 404 ``ACTIVATION_NOT_FOUND`` for a machine not activated.
    """
    now = now or utcnow()
    key = require_key(raw_key, secret)
    with db.read_session() as session:
        lic = get_license(session, key)
        refused = refusal(lic, now)
        activation = None if refused else active_activation(session, lic.id, machine_id)
    record_sightings(db, _sightings(lic, activation, now), now)
    if refused is not None:
        raise refused
    if activation is None:
        raise NotFound("This machine holds no activation of this license.", "ACTIVATION_NOT_FOUND")
    return RenewedFile(lic, license_file(signing_keys, lic, machine_id, now), now)


# --- the seller's state changes -------------------------------------------------------------


def _transition(
    session: Session,
    lic: License,
    sources: tuple[LicenseStatus, ...],
    values: dict[str, object],
) -> bool:
    result = session.execute(
        update(License)
        .where(License.id == lic.id, License.status.in_(sources))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    session.refresh(lic)
    return rowcount(result) == 1


def _invalid_state(lic: License, action: str) -> Conflict:
    return Conflict(
        f"A {lic.status.value} license cannot be {action}.",
        "INVALID_LICENSE_STATE",
        status=lic.status.value,
    )


def suspend(session: Session, lic: License, now: datetime | None = None) -> License:
    """ACTIVE or EXPIRED → SUSPENDED (a dispute, abuse). Suspending twice changes nothing."""
    sources = (LicenseStatus.ACTIVE, LicenseStatus.EXPIRED)
    values: dict[str, object] = {"status": LicenseStatus.SUSPENDED, "suspended_at": now or utcnow()}
    if not _transition(session, lic, sources, values) and lic.status is not LicenseStatus.SUSPENDED:
        raise _invalid_state(lic, "suspended")
    return lic


def reinstate(session: Session, lic: License, now: datetime | None = None) -> License:
    """SUSPENDED → ACTIVE (or EXPIRED, when its time ran out meanwhile). REVOKED stays: 409."""
    now = now or utcnow()
    values: dict[str, object] = {"status": LicenseStatus.ACTIVE, "suspended_at": None}
    if _transition(session, lic, (LicenseStatus.SUSPENDED,), values):
        if record_expiry(session, lic.id, now):
            session.refresh(lic)
        return lic
    if lic.status is not LicenseStatus.ACTIVE:
        raise _invalid_state(lic, "reinstated")
    return lic


def revoke(session: Session, lic: License, now: datetime | None = None) -> License:
    """Any status → REVOKED, for good. Revoking twice changes nothing."""
    sources = (LicenseStatus.ACTIVE, LicenseStatus.SUSPENDED, LicenseStatus.EXPIRED)
    values: dict[str, object] = {"status": LicenseStatus.REVOKED, "revoked_at": now or utcnow()}
    _transition(session, lic, sources, values)
    return lic
