"""Validation and license-file renewal: the hot path programs call at every start.

Validation is read-mostly. It takes no lock and opens no write transaction to read: the one
query runs outside any transaction (:meth:`Database.read_first`), or, for a renewal, in a
:meth:`Database.read_session`. What the read noticed (a machine last seen more than a minute
ago, an expiry) is then recorded by :func:`record_sightings` in a separate short write that
only changes a row when there is something new, and is skipped when there is nothing. That is
why these functions take the :class:`Database` and never a session: a request's unit of work
would hold a write transaction (SQLite's write lock) over every validation.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, and_, bindparam, func, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY

from shipkey.catalog.models import Product
from shipkey.clock import utcnow
from shipkey.db.engine import Database
from shipkey.db.reads import BatchRead, DirectRead
from shipkey.errors import NotFound
from shipkey.http.net import network_of
from shipkey.licensing.foreign import foreign_keys
from shipkey.licensing.keys import KeySecret, parse_key, verbatim_key
from shipkey.licensing.license_file import issue_file
from shipkey.licensing.lookups import active_activation, get_license, resolve_key
from shipkey.licensing.models import (
    License,
    LicenseActivation,
    LicenseStatus,
    LicenseView,
    SeatView,
    ValidationCode,
    product_features,
)
from shipkey.licensing.refusals import ensure_product, record_expiry, refusal
from shipkey.licensing.sightings import sightings_of
from shipkey.licensing.signing_keys import SigningKeyStore

LAST_SEEN_RESOLUTION = timedelta(minutes=1)
"""``last_seen_at`` of an activation is written at most this often."""

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


# --- what a read noticed ------------------------------------------------------------------


@dataclass(frozen=True)
class Sightings:
    """What a read-only check noticed and should record."""

    expired_license_id: str | None = None
    seen_activation_id: str | None = None

    def __bool__(self) -> bool:
        return self.expired_license_id is not None or self.seen_activation_id is not None


def _note_network(db: Database, result: Validation, ip: str | None, limit: int | None) -> None:
    """Note the network ``ip`` is in for the license (no write here: see
    :mod:`shipkey.licensing.sightings`); ``limit`` is ``SHIPKEY_RISK_VALIDATION_NETWORKS``."""
    if ip is None or limit is None or result.license is None:
        return
    network = network_of(ip)
    if network is None:
        return
    sightings = sightings_of(db)
    if sightings.note(result.license.id, network, result.now):
        sightings.schedule(db, limit)


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
    """One short write for what a read noticed; each UPDATE changes a row only when stale.

    Opens its own write transaction, and none when nothing was noticed: the read it follows ran
    outside any (see the module's account), and holding a transaction over that read would
    make every validation a writer.
    """
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


# --- the read -----------------------------------------------------------------------------

_VALIDATION_COLUMNS = (
    License.id,
    License.status,
    License.expires_at,
    License.license_type,
    License.max_activations,
    License.activation_count,
    Product.slug,
    Product.name,
    Product.meta,
    LicenseActivation.id,
    LicenseActivation.last_seen_at,
)
"""What a validation reads, in the order :func:`_validation_view` unpacks a row."""
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
"""The one read of a validation: the license, its product (whose slug is compared with the one
the software names) and the machine's active seat."""

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

_VERBATIM_LOOKUP = DirectRead(
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
    .where(License.key == bindparam("key"), License.verbatim.is_(True))
)
"""The read for a key not in shipkey's format: an imported or pooled key, by exact match. Only
made when the format check fails, so native keys never pay for it."""


def _validation_view(
    row: tuple[Any, ...] | None, key: str, machine_id: str | None
) -> tuple[LicenseView, SeatView | None] | None:
    if row is None:
        return None
    # Unpacked by name in the order of _VALIDATION_COLUMNS (cheaper than indexing each).
    (
        license_id,
        status,
        expires_at,
        license_type,
        max_activations,
        activation_count,
        product_slug,
        product_name,
        product_meta,
        seat_id,
        seat_last_seen_at,
    ) = row
    lic = LicenseView(
        id=license_id,
        key=key,
        status=status,
        expires_at=expires_at,
        license_type=license_type,
        max_activations=max_activations,
        activation_count=activation_count,
        product=product_slug,
        product_name=product_name,
        features=product_features(product_meta),
    )
    seat = (
        SeatView(seat_id, seat_last_seen_at)
        if machine_id is not None and seat_id is not None
        else None
    )
    return lic, seat


async def validate(
    db: Database,
    secret: KeySecret,
    raw_key: str,
    machine_id: str | None = None,
    now: datetime | None = None,
    product: str | None = None,
    ip: str | None = None,
    network_limit: int | None = None,
) -> Validation:
    """Whether a key is valid now (and, with ``machine_id``, activated on that machine; with
    ``product``, a key of that product's slug), from the event loop.

    Reads without locks; a malformed key is answered without any query. The rare write (a
    machine last seen more than a minute ago, an expiry noticed) goes to a thread, as it may
    wait for SQLite's write lock. The network of ``ip`` is noted for the key-sharing rule, and
    written later with others (:mod:`shipkey.licensing.sightings`); ``network_limit`` is the
    rule's ``SHIPKEY_RISK_VALIDATION_NETWORKS`` (nothing is noted without it).
    """
    result, sightings = await check(db, secret, raw_key, machine_id, now, product)
    _note_network(db, result, ip, network_limit)
    if sightings:
        await asyncio.to_thread(record_sightings, db, sightings, result.now)
    return result


async def check(
    db: Database,
    secret: KeySecret,
    raw_key: str,
    machine_id: str | None = None,
    now: datetime | None = None,
    product: str | None = None,
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
        return await _check_verbatim(db, raw_key, machine_id, now, product)
    params = {"key": key, "machine_id": machine_id}
    row = await db.read_first(_VALIDATION_LOOKUP, params, batch=_VALIDATION_BATCH)
    return _judge(_validation_view(row, key, machine_id), machine_id, now, product)


async def _check_verbatim(
    db: Database, raw_key: str, machine_id: str | None, now: datetime, product: str | None
) -> tuple[Validation, Sightings]:
    """A key that is not in shipkey's format: valid only as an imported or pooled key, matched
    exactly; anything else stays INVALID_FORMAT (no such key exists). No query where the store
    holds no such keys (:mod:`shipkey.licensing.foreign`)."""
    key = verbatim_key(raw_key)
    if key is None or not foreign_keys(db).present:
        return Validation("INVALID_FORMAT", None, now), Sightings()
    row = await db.read_first(_VERBATIM_LOOKUP, {"key": key, "machine_id": machine_id})
    if row is None:
        return Validation("INVALID_FORMAT", None, now), Sightings()
    return _judge(_validation_view(row, key, machine_id), machine_id, now, product)


def _judge(
    found: tuple[LicenseView, SeatView | None] | None,
    machine_id: str | None,
    now: datetime,
    product: str | None,
) -> tuple[Validation, Sightings]:
    if found is None:
        return Validation("NOT_FOUND", None, now), Sightings()
    lic, activation = found
    if product is not None and lic.product != product:
        # Not a license of this software: nothing about it is told or recorded.
        return Validation("PRODUCT_MISMATCH", None, now), Sightings()
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
    secret: KeySecret,
    raw_key: str,
    machine_id: str,
    now: datetime | None = None,
    product: str | None = None,
) -> RenewedFile:
    """A fresh license file for a machine that holds an activation (no seat is taken).

    Reads in a read-only session, records what it noticed in one short write, and signs the
    file after both, outside any transaction (see the module's account).

    Errors as for activation, and 404 ``ACTIVATION_NOT_FOUND`` for a machine not activated.
    """
    now = now or utcnow()
    with db.read_session() as session:
        lic = get_license(session, resolve_key(session, raw_key, secret))
        ensure_product(lic, product)
        refused = refusal(lic, now)
        activation = None if refused else active_activation(session, lic.id, machine_id)
    record_sightings(db, _sightings(lic, activation, now), now)
    if refused is not None:
        raise refused
    if activation is None:
        raise NotFound("This machine holds no activation of this license.", "ACTIVATION_NOT_FOUND")
    return RenewedFile(lic, issue_file(signing_keys, lic, machine_id, now), now)
