"""Sending seller webhooks: the ``hooks.deliver`` job, signed as Standard Webhooks says.

A delivery is ``POST <url>`` with the body ``{"type", "timestamp", "data"}`` — built from the
stored event, so the same bytes on every try — and the headers ``webhook-id`` (the event's id,
the same on every try), ``webhook-timestamp`` (the moment of this attempt, Unix seconds) and
``webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`` keyed with the
decoded bytes of the endpoint's ``whsec_`` secret (https://www.standardwebhooks.com/).

Any 2xx is delivered. Anything else (a redirect too: it is not followed), a timeout
(``SHIPKEY_WEBHOOK_TIMEOUT``, 15 s) or a refused connection is a failed attempt, tried again after
about 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h (the specification's schedule, each shortened by
up to a tenth so that retries spread out); the eighth failed attempt makes the delivery FAILED
and the seller is alerted. An endpoint whose failures have run for five days is disabled (and the
seller alerted) at its next failure; a delivery that arrives ends the run.

What a batch of claimed jobs sends is read in one statement once the batch is claimed (a job
that finds nothing read for it reads its own); it sends with no transaction open, and records the
attempt in the transaction that finishes the job (the worker's recorder: the arrived deliveries
of a batch are recorded with one ``executemany``). Each attempt is its
own job: a failed one writes the next, due at the scheduled time. The kind runs in a pool of
threads beside the worker's loop (see :mod:`shipkey.jobs.registry`), each thread keeping its
connections to receivers open, so a slow receiver holds up no other job and a busy endpoint is
not asked to open a connection for every event. Proxies from the environment are not used.

A worker that dies mid-send leaves its job RUNNING; when the lease expires the job runs again and
the receiver gets the event again, with the same ``webhook-id`` (at least once: receivers
deduplicate by it).
"""

from __future__ import annotations

import atexit
import base64
import hashlib
import hmac
import http.client
import json
import logging
import secrets
import ssl
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, Table, bindparam, select, update
from sqlalchemy.orm import Session

from shipkey.db.writes import rowcount
from shipkey.hooks.models import DeliveryStatus, OutboundEvent, WebhookDelivery, WebhookEndpoint
from shipkey.hooks.outbox import DELIVER_JOB, forget_listeners
from shipkey.jobs.models import Job
from shipkey.jobs.registry import (
    GroupRecorder,
    JobContext,
    PermanentError,
    Recorder,
    Registry,
)
from shipkey.jobs.service import enqueue

log = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"  # noqa: S105 (the prefix every secret carries, not a secret)
SECRET_BYTES = 32
RETRY_SCHEDULE: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
"""The wait after the 1st, 2nd, … failed attempt; after the last one the delivery is FAILED."""
MAX_ATTEMPTS = len(RETRY_SCHEDULE) + 1
JITTER = 0.1
DISABLE_AFTER = timedelta(days=5)
CONCURRENCY = 16
"""Deliveries one worker sends at once."""
RESPONSE_KEEP = 64 * 1024
"""Bytes of a receiver's answer read (so that its connection can be used again); more closes it."""
ERROR_LIMIT = 1000
USER_AGENT = "shipkey-webhooks"
PREFETCH_FRESH = 2.0
"""Seconds a target read with its claimed batch is used for; a job that waited longer reads
its own."""

_random = secrets.SystemRandom()


# --- secrets and signatures ----------------------------------------------------------------


def new_secret() -> str:
    """``whsec_`` + base64 of 32 random bytes (the specification asks for 24 to 64)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def secret_key(secret: str) -> bytes:
    """The bytes a ``whsec_`` secret stands for: the HMAC key."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    return base64.b64decode(encoded + "=" * (-len(encoded) % 4))


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">``."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def iso(moment: datetime) -> str:
    """An aware time as ISO 8601 in UTC with ``Z``, as the API writes times."""
    return moment.isoformat().replace("+00:00", "Z")


def body_of(event_type: str, created_at: datetime, data: dict[str, Any]) -> bytes:
    """The request body: ``{"type", "timestamp", "data"}``, compact UTF-8 JSON. Built from the
    stored event only, so every try sends the same bytes."""
    document = {"type": event_type, "timestamp": iso(created_at), "data": data}
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def headers_for(secret: str, message_id: str, body: bytes, timestamp: int) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, message_id, timestamp, body),
    }


# --- what a job sends ----------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One delivery as the job reads it: where, with what secret, which event."""

    delivery_id: str
    status: DeliveryStatus
    attempts: int
    endpoint_id: str
    url: str
    secret: str
    enabled: bool
    failing_since: datetime | None
    event_id: str
    body: bytes


_TARGET = (
    select(
        WebhookDelivery.status,
        WebhookDelivery.attempts,
        WebhookEndpoint.id,
        WebhookEndpoint.url,
        WebhookEndpoint.secret,
        WebhookEndpoint.enabled,
        WebhookEndpoint.failing_since,
        OutboundEvent.id,
        OutboundEvent.type,
        OutboundEvent.created_at,
        OutboundEvent.data,
    )
    .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
    .join(OutboundEvent, OutboundEvent.id == WebhookDelivery.event_id)
    .where(WebhookDelivery.id == bindparam("delivery_id"))
)


_TARGETS = (
    select(WebhookDelivery.id, *_TARGET.selected_columns)
    .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
    .join(OutboundEvent, OutboundEvent.id == WebhookDelivery.event_id)
    .where(WebhookDelivery.id.in_(bindparam("delivery_ids", expanding=True)))
)


def load_target(connection: Connection, delivery_id: str) -> Target | None:
    row = connection.execute(_TARGET, {"delivery_id": delivery_id}).one_or_none()
    return None if row is None else _target(delivery_id, row)


def load_targets(connection: Connection, jobs: Sequence[Job]) -> Mapping[str, object]:
    """The targets of a batch of claimed ``hooks.deliver`` jobs, in one read, by job id."""
    delivery_ids = {str(job.payload["delivery"]): job.id for job in jobs}
    rows = connection.execute(_TARGETS, {"delivery_ids": list(delivery_ids)})
    read_at = time.monotonic()
    return {delivery_ids[row[0]]: (read_at, _target(row[0], row[1:])) for row in rows}


def _fresh_target(ctx: JobContext, job: Job, delivery_id: str) -> Target | None:
    """What was read for ``job`` when its batch was claimed, if that was less than
    ``PREFETCH_FRESH`` ago (a job that waited behind a slow receiver reads again, so that an
    endpoint disabled or changed meanwhile is seen as before); else None."""
    kept = ctx.prefetched(job.id)
    if not isinstance(kept, tuple):
        return None
    read_at, target = kept
    if not isinstance(target, Target) or target.delivery_id != delivery_id:
        return None
    return target if time.monotonic() - read_at < PREFETCH_FRESH else None


def _target(delivery_id: str, row: Sequence[Any]) -> Target:
    status, attempts, endpoint_id, url, secret, enabled, failing_since = row[:7]
    event_id, event_type, created_at, data = row[7:]
    return Target(
        delivery_id=delivery_id,
        status=status,
        attempts=attempts,
        endpoint_id=endpoint_id,
        url=url,
        secret=secret,
        enabled=enabled,
        failing_since=failing_since,
        event_id=event_id,
        body=body_of(event_type, created_at, data),
    )


# --- sending -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    ok: bool
    status_code: int | None
    error: str | None


class _Kept(threading.local):
    """This thread's open connections, by (scheme, host, port, timeout)."""

    def __init__(self) -> None:
        self.connections: dict[tuple[str, str, int, float], http.client.HTTPConnection] = {}


_kept = _Kept()
_every: list[http.client.HTTPConnection] = []
_every_lock = threading.Lock()
_tls: ssl.SSLContext | None = None


def _tls_context() -> ssl.SSLContext:
    global _tls  # noqa: PLW0603 (made once, on the first https endpoint)
    if _tls is None:
        _tls = ssl.create_default_context()
    return _tls


def _connection(scheme: str, host: str, port: int, timeout: float) -> http.client.HTTPConnection:
    key = (scheme, host, port, timeout)
    conn = _kept.connections.get(key)
    if conn is None:
        if scheme == "https":
            conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=_tls_context())
        else:
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
        _kept.connections[key] = conn
        with _every_lock:
            _every.append(conn)
    return conn


def _drop(scheme: str, host: str, port: int, timeout: float) -> None:
    conn = _kept.connections.pop((scheme, host, port, timeout), None)
    if conn is not None:
        conn.close()
        with _every_lock:
            if conn in _every:
                _every.remove(conn)


def close_connections() -> None:
    """Close every kept connection (a worker stops)."""
    with _every_lock:
        every = list(_every)
        _every.clear()
    for conn in every:
        conn.close()
    _kept.connections.clear()


atexit.register(close_connections)  # workers driven by hand (tests, scripts) never stop


def _clip(text: str) -> str:
    return text.strip()[:ERROR_LIMIT]


def send(target: Target, timeout: float) -> Attempt:
    """POST the event once; never raises for what a receiver or the network does.

    The standard library's client on a connection this thread keeps open per receiver: a
    delivery costs about a quarter of the CPU time it took through httpx (bench/README.md).
    Redirects are never followed. A kept connection that the receiver closed meanwhile is
    noticed on sending, and the request is made once more on a new one.
    """
    parts = urlsplit(target.url)
    scheme, host = parts.scheme.lower(), parts.hostname or ""
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        return Attempt(False, None, "The URL's port is not a number from 0 to 65535.")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    timestamp = int(time.time())  # the attempt's own moment, whatever clock schedules jobs
    headers = headers_for(target.secret, target.event_id, target.body, timestamp)
    for fresh in (False, True):
        reused = (scheme, host, port, timeout) in _kept.connections
        conn = _connection(scheme, host, port, timeout)
        try:
            conn.request("POST", path, body=target.body, headers=headers)
            response = conn.getresponse()
            kept = response.read(RESPONSE_KEEP)
            status, location = response.status, response.getheader("location", "")
            if response.will_close or not response.isclosed():
                _drop(scheme, host, port, timeout)  # closing, or more than we read
            break
        except TimeoutError:
            _drop(scheme, host, port, timeout)
            return Attempt(False, None, f"No answer within {timeout:g} s.")
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
            _drop(scheme, host, port, timeout)
            if reused and not fresh:
                continue  # the receiver closed the kept connection: once more on a new one
            return Attempt(False, None, _clip(f"{type(exc).__name__}: {exc}"))
        except (OSError, http.client.HTTPException) as exc:
            _drop(scheme, host, port, timeout)
            return Attempt(False, None, _clip(f"{type(exc).__name__}: {exc}") or type(exc).__name__)
    if 200 <= status < 300:
        return Attempt(True, status, None)
    if 300 <= status < 400:
        return Attempt(
            False, status, _clip(f"HTTP {status}: redirects are not followed ({location})")
        )
    answer = kept[:200].decode("utf-8", "replace")
    return Attempt(
        False, status, _clip(f"HTTP {status}: {answer}") if answer.strip() else f"HTTP {status}"
    )


# --- the job -------------------------------------------------------------------------------


def register(registry: Registry) -> None:
    registry.register(
        DELIVER_JOB,
        deliver,
        on_give_up=gave_up,
        concurrency=CONCURRENCY,
        prefetch=load_targets,
    )
    registry.on_stop(close_connections)


def delay(failed_attempts: int, rand: float | None = None) -> timedelta:
    """The wait after the ``failed_attempts``-th failure (1-based), shortened by a jitter."""
    base = RETRY_SCHEDULE[min(failed_attempts, len(RETRY_SCHEDULE)) - 1]
    fraction = _random.random() if rand is None else rand
    return base * (1 - JITTER * fraction)


def due_to_disable(failing_since: datetime | None, now: datetime) -> bool:
    return failing_since is not None and now - failing_since >= DISABLE_AFTER


def deliver(ctx: JobContext, job: Job) -> Recorder | None:
    """One attempt of one delivery (``{"delivery": id, "attempt": attempts made before}``)."""
    delivery_id = str(job.payload["delivery"])
    attempt = int(job.payload.get("attempt", 0))
    target = _fresh_target(ctx, job, delivery_id)
    if target is None:
        with ctx.db.read_connection() as connection:
            target = load_target(connection, delivery_id)
    if target is None or target.status is not DeliveryStatus.PENDING:
        return None  # delivered, given up, or deleted meanwhile
    if target.attempts != attempt:
        return None  # another job made this attempt already (a retry asked for by hand)
    if not target.enabled:
        return lambda session: close(session, delivery_id, "The endpoint is disabled.")
    result = send(target, ctx.settings.webhook_timeout)
    now = ctx.now()
    if result.ok:
        return Delivered(target, attempt, now, result)
    made = attempt + 1
    if made < MAX_ATTEMPTS and not due_to_disable(target.failing_since, now):
        next_at = now + delay(made)
        return lambda session: record_failure(session, target, attempt, now, result, next_at)
    with ctx.db.session() as session:
        record_failure(session, target, attempt, now, result, None)
    raise PermanentError(
        f"The webhook to {target.url} failed {made} times; last: {result.error or 'no answer'}"
    )


_deliveries: Table = WebhookDelivery.__table__  # type: ignore[assignment]
_endpoints: Table = WebhookEndpoint.__table__  # type: ignore[assignment]

# Core statements built once: the worker records thousands of attempts a minute.
_DELIVERED = (
    update(_deliveries)
    .where(
        _deliveries.c.id == bindparam("delivery_id"),
        _deliveries.c.status == DeliveryStatus.PENDING,
    )
    .values(
        status=DeliveryStatus.DELIVERED,
        attempts=bindparam("made"),
        last_status_code=bindparam("status_code"),
        last_error=None,
        next_attempt_at=None,
        delivered_at=bindparam("now"),
    )
)
_FAILED_ATTEMPT = (
    update(_deliveries)
    .where(
        _deliveries.c.id == bindparam("delivery_id"),
        _deliveries.c.status == DeliveryStatus.PENDING,
        _deliveries.c.attempts == bindparam("attempt"),
    )
    .values(
        attempts=bindparam("made"),
        last_status_code=bindparam("status_code"),
        last_error=bindparam("error"),
        next_attempt_at=bindparam("next_at"),
    )
)
_RECOVERED = (
    update(_endpoints).where(_endpoints.c.id == bindparam("endpoint_id")).values(failing_since=None)
)
_FAILING = (
    update(_endpoints)
    .where(_endpoints.c.id == bindparam("endpoint_id"), _endpoints.c.failing_since.is_(None))
    .values(failing_since=bindparam("now"))
)


def record_delivered(
    session: Session, target: Target, attempt: int, now: datetime, result: Attempt
) -> None:
    connection = session.connection()
    changed = connection.execute(
        _DELIVERED,
        {
            "delivery_id": target.delivery_id,
            "made": attempt + 1,
            "status_code": result.status_code,
            "now": now,
        },
    )
    if rowcount(changed) == 1 and target.failing_since is not None:
        connection.execute(_RECOVERED, {"endpoint_id": target.endpoint_id})


@dataclass(frozen=True)
class Delivered(GroupRecorder):
    """An attempt that arrived. Those of a batch are recorded with one ``executemany``; those
    whose endpoint was failing one at a time (the endpoint's run of failures ends only when the
    delivery's own UPDATE found it PENDING)."""

    target: Target
    attempt: int
    now: datetime
    result: Attempt

    @classmethod
    def record_group(cls, session: Session, recorders: Sequence[Delivered]) -> None:
        plain = []
        for rec in recorders:
            if rec.target.failing_since is None:
                plain.append(rec)
            else:
                record_delivered(session, rec.target, rec.attempt, rec.now, rec.result)
        if plain:
            session.connection().execute(
                _DELIVERED,
                [
                    {
                        "delivery_id": rec.target.delivery_id,
                        "made": rec.attempt + 1,
                        "status_code": rec.result.status_code,
                        "now": rec.now,
                    }
                    for rec in plain
                ],
            )


def record_failure(
    session: Session,
    target: Target,
    attempt: int,
    now: datetime,
    result: Attempt,
    next_at: datetime | None,
) -> None:
    """The attempt failed; with ``next_at`` the next one is queued for then."""
    connection = session.connection()
    changed = connection.execute(
        _FAILED_ATTEMPT,
        {
            "delivery_id": target.delivery_id,
            "attempt": attempt,
            "made": attempt + 1,
            "status_code": result.status_code,
            "error": result.error,
            "next_at": next_at,
        },
    )
    if rowcount(changed) != 1:
        return  # recorded already (this job's lease was taken over)
    if target.failing_since is None:
        connection.execute(_FAILING, {"endpoint_id": target.endpoint_id, "now": now})
    if next_at is not None:
        enqueue(
            session,
            DELIVER_JOB,
            {"delivery": target.delivery_id, "attempt": attempt + 1},
            run_at=next_at,
            dedupe_key=f"{DELIVER_JOB}:{target.delivery_id}:{attempt + 1}",
        )


def close(session: Session, delivery_id: str, error: str) -> None:
    """PENDING → FAILED without another attempt."""
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.status == DeliveryStatus.PENDING)
        .values(status=DeliveryStatus.FAILED, last_error=error, next_attempt_at=None)
        .execution_options(synchronize_session=False)
    )


_QUIET = "shipkey.hooks.quiet_give_ups"


def alert_wanted(session: Session, job: Job) -> bool:
    """Whether the seller hears about this failed delivery (not when its endpoint was disabled
    by another one, whose alert said so)."""
    return job.id not in session.info.get(_QUIET, set())


def gave_up(session: Session, ctx: JobContext, job: Job) -> None:
    """The delivery's last attempt failed: FAILED; its endpoint disabled when its failures have
    run for five days. (The seller's alert is the mail domain's give-up hook.)"""
    delivery = session.get(WebhookDelivery, str(job.payload["delivery"]))
    if delivery is None:
        return
    close(session, delivery.id, delivery.last_error or job.last_error or "Given up.")
    endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
    if endpoint is None or not endpoint.enabled:
        # Disabled meanwhile (by a delivery that failed at the same time): one alert said so.
        session.info.setdefault(_QUIET, set()).add(job.id)
        return
    if due_to_disable(endpoint.failing_since, ctx.now()):
        endpoint.enabled = False
        endpoint.disabled_reason = "Every delivery failed for five days."
        session.flush()
        forget_listeners(session)
        log.warning(
            "webhook endpoint %s (%s) disabled: failing for 5 days", endpoint.id, endpoint.url
        )
