"""Seats on machines: activation, deactivation, and the seller's reset.

Seats. ``licenses.activation_count`` is the counter and the check at once::

    UPDATE licenses SET activation_count = activation_count + 1
    WHERE id = :id AND activation_count < max_activations AND status = 'ACTIVE'

One changed row means a seat was taken, so N parallel activations with m free seats give
exactly m, on SQLite and PostgreSQL alike. The activation row is inserted in the same
transaction with ``ON CONFLICT DO NOTHING`` on the partial unique index (one active row per
license and machine); when a parallel request for the same machine got there first, the seat is
given back and the answer is "Already activated".

Deactivations. A buyer may free a seat ``products.max_deactivations`` times in
:data:`DEACTIVATION_WINDOW` (the seller's reset is not counted): otherwise a machine could be
activated, its license file kept, and the seat freed for the next machine, again and again,
while every file stays valid offline. They are counted from the activation rows
(``deactivated_by`` BUYER) under the license row's lock, so parallel deactivations never pass
the limit together.

Lock order. Every change to a license's seats locks the license row first (the seat UPDATE, or
``SELECT … FOR UPDATE`` before a deactivation or reset) and its activation rows after, so two
writers never wait on each other in a cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from shipkey.clock import utcnow
from shipkey.db.engine import Database
from shipkey.db.writes import insert_ignore, rowcount
from shipkey.errors import BadRequest, Conflict, NotFound
from shipkey.ids import new_id
from shipkey.jobs import service as jobs
from shipkey.jobs.kinds import RISK_CHECK
from shipkey.licensing import events
from shipkey.licensing.keys import KeySecret, parse_key
from shipkey.licensing.license_file import issue_file
from shipkey.licensing.lookups import active_activation, get_license, resolve_key
from shipkey.licensing.models import DeactivatedBy, License, LicenseActivation, LicenseStatus
from shipkey.licensing.refusals import LicenseRefused, ensure_product, ensure_usable
from shipkey.licensing.signing_keys import SigningKeyStore

ACTIVATE_ATTEMPTS = 3
DEACTIVATION_WINDOW = timedelta(days=30)
"""The period over which a product's ``max_deactivations`` is counted."""


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
    secret: KeySecret,
    raw_key: str,
    machine_id: str,
    *,
    machine_name: str | None = None,
    ip: str | None = None,
    now: datetime | None = None,
    product: str | None = None,
) -> Activation:
    """Activate a license on a machine, taking a seat unless the machine already holds one.

    Takes the :class:`Database`, not a session, for two reasons. A refusal must still commit
    what was recorded on the way (an expiry noticed), which a request's unit of work would roll
    back with the error; so the seat is taken in a write transaction of its own, committed, and
    only then is the :class:`LicenseRefused` raised. And the license file is signed (the first
    signature of an installation writes its key) after that transaction, so no lock is held
    over it.

    Errors: 400 ``INVALID_KEY_FORMAT`` (before any query), 404 ``LICENSE_NOT_FOUND``, 403
    ``PRODUCT_MISMATCH`` (``product`` names another product), ``LICENSE_SUSPENDED``,
    ``LICENSE_REVOKED``, ``LICENSE_EXPIRED``, ``TOO_MANY_ACTIVATIONS``.
    """
    key = parse_key(raw_key, secret)
    if key is None:  # not shipkey's format: a key made elsewhere, if one matches exactly
        with db.read_session() as session:
            key = resolve_key(session, raw_key, secret)
    moment = now or utcnow()
    seat = SeatRequest(
        machine_id, machine_name[:255] if machine_name else None, _clip_ip(ip), moment, product
    )
    lic, activation, already = _take_and_commit(db, seat, key)
    return Activation(
        license=lic,
        activation=activation,
        already=already,
        license_file=issue_file(signing_keys, lic, machine_id, moment),
        now=moment,
    )


def _take_and_commit(
    db: Database, seat: SeatRequest, key: str
) -> tuple[License, LicenseActivation, bool]:
    """``seat.take`` in one write transaction of its own.

    A :class:`LicenseRefused` still commits what was recorded before it (an expiry noticed on
    the way) and is raised after the commit.
    """
    with db.session() as session:
        try:
            return seat.take(session, key)
        except LicenseRefused as exc:
            refused = exc
    raise refused


def _clip_ip(ip: str | None) -> str | None:
    return ip[:64] if ip else None


@dataclass(frozen=True)
class SeatRequest:
    """One activation request (machine, name, address, time, the product the software is),
    run in a write unit of work."""

    machine_id: str
    machine_name: str | None
    ip: str | None
    now: datetime
    product: str | None = None

    def take(self, session: Session, key: str) -> tuple[License, LicenseActivation, bool]:
        """The license, the machine's activation, and whether it already held one.

        A few rounds at most: each one either returns or observed a parallel change (the
        machine activated or deactivated by another request) that the next round resolves.
        """
        lic = get_license(session, key)
        ensure_product(lic, self.product)
        ensure_usable(session, lic, self.now)
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
                ensure_usable(session, lic, self.now)
                raise _too_many(lic)
            activation = self.insert_activation(session, lic.id)
            if activation is not None:
                done = self._done(session, lic, activation, already=False)
                events.announce(session, "license.activated", lic)
                return done
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
    secret: KeySecret,
    raw_key: str | None,
    machine_id: str | None,
    now: datetime | None = None,
) -> License:
    """Free the seat ``machine_id`` holds on the license (for the buyer: counted).

    Errors: 400 ``MISSING_PARAMETER`` or ``INVALID_KEY_FORMAT`` (before any query), 404
    ``LICENSE_NOT_FOUND`` or ``ACTIVATION_NOT_FOUND``, 403 ``TOO_MANY_DEACTIVATIONS`` (the
    product's ``max_deactivations`` in :data:`DEACTIVATION_WINDOW` are used up). Works whatever
    the license's status.
    """
    if not raw_key or not raw_key.strip() or not machine_id:
        raise BadRequest("Give both key and machineId.", "MISSING_PARAMETER")
    key = resolve_key(session, raw_key, secret)
    moment = now or utcnow()
    lic = get_license(session, key)
    _lock(session, lic.id)
    if active_activation(session, lic.id, machine_id) is None:
        raise NotFound("This machine holds no activation of this license.", "ACTIVATION_NOT_FOUND")
    _ensure_deactivation_left(session, lic, moment)
    changed = session.execute(
        update(LicenseActivation)
        .where(
            LicenseActivation.license_id == lic.id,
            LicenseActivation.machine_id == machine_id,
            LicenseActivation.deactivated_at.is_(None),
        )
        .values(deactivated_at=moment, deactivated_by=DeactivatedBy.BUYER)
        .execution_options(synchronize_session=False)
    )
    if rowcount(changed) != 1:  # pragma: no cover - the license row's lock is held
        raise NotFound("This machine holds no activation of this license.", "ACTIVATION_NOT_FOUND")
    session.execute(
        update(License)
        .where(License.id == lic.id)
        .values(activation_count=License.activation_count - 1)
        .execution_options(synchronize_session=False)
    )
    session.refresh(lic)
    events.announce(session, "license.deactivated", lic)
    jobs.enqueue(session, RISK_CHECK, {"license_id": lic.id})  # activation churn
    return lic


def _ensure_deactivation_left(session: Session, lic: License, now: datetime) -> None:
    """403 ``TOO_MANY_DEACTIVATIONS`` when the buyer freed the product's ``max_deactivations``
    seats of this license within :data:`DEACTIVATION_WINDOW` (call with the license locked)."""
    limit = lic.product.max_deactivations
    recent = list(
        session.scalars(
            select(LicenseActivation.deactivated_at)
            .where(
                LicenseActivation.license_id == lic.id,
                LicenseActivation.deactivated_by == DeactivatedBy.BUYER,
                LicenseActivation.deactivated_at > now - DEACTIVATION_WINDOW,
            )
            .order_by(LicenseActivation.deactivated_at)
        )
    )
    if len(recent) < limit:
        return
    # The next one is allowed when enough of these have left the window.
    freed = recent[len(recent) - limit] if limit else None
    raise LicenseRefused(
        f"This license was deactivated {len(recent)} times in the last "
        f"{DEACTIVATION_WINDOW.days} days, the most allowed. Ask the seller to reset it.",
        "TOO_MANY_DEACTIVATIONS",
        maxDeactivations=limit,
        nextDeactivationAt=None if freed is None else _iso(freed + DEACTIVATION_WINDOW),
    )


def _iso(moment: datetime) -> str:
    """As the API writes times: ISO 8601 in UTC with ``Z``."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def reset_activations(session: Session, lic: License, now: datetime | None = None) -> int:
    """Deactivate every machine of a license (the seller's reset: not counted against the
    buyer's deactivations); returns how many were active."""
    _lock(session, lic.id)
    changed = session.execute(
        update(LicenseActivation)
        .where(LicenseActivation.license_id == lic.id, LicenseActivation.deactivated_at.is_(None))
        .values(deactivated_at=now or utcnow(), deactivated_by=DeactivatedBy.SELLER)
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
