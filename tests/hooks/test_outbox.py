"""Events for the seller's systems are written in the transaction of the change they report."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shipkey.db.engine import Database
from shipkey.hooks import emit
from shipkey.hooks.models import DeliveryStatus, OutboundEvent, WebhookDelivery, WebhookEndpoint
from shipkey.hooks.outbox import DELIVER_JOB
from shipkey.jobs.models import Job


def _endpoint(session: Session, ident: str, events: list[str], *, enabled: bool = True) -> None:
    session.add(
        WebhookEndpoint(
            id=ident,
            url=f"http://127.0.0.1:9/{ident}",
            events=events,
            secret="whsec_x",
            enabled=enabled,
        )
    )
    session.flush()


def _count(session: Session, model: type[object]) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_one_delivery_and_one_job_per_endpoint_that_wants_the_type(session: Session) -> None:
    _endpoint(session, "ep_all", [])
    _endpoint(session, "ep_sales", ["purchase.completed"])
    _endpoint(session, "ep_keys", ["license.created"])
    _endpoint(session, "ep_off", [], enabled=False)
    event = emit(session, "purchase.completed", {"id": "pur_1"})
    assert event is not None
    deliveries = session.scalars(select(WebhookDelivery)).all()
    assert sorted(d.endpoint_id for d in deliveries) == ["ep_all", "ep_sales"]
    assert {d.status for d in deliveries} == {DeliveryStatus.PENDING}
    jobs = session.scalars(select(Job).where(Job.kind == DELIVER_JOB)).all()
    assert sorted(j.payload["delivery"] for j in jobs) == sorted(d.id for d in deliveries)


def test_nothing_is_written_when_no_endpoint_wants_it(session: Session) -> None:
    _endpoint(session, "ep_keys", ["license.created"])
    assert emit(session, "purchase.refunded", {"id": "pur_1"}) is None
    assert _count(session, OutboundEvent) == 0
    assert _count(session, Job) == 0


def test_unknown_types_are_a_programming_error(session: Session) -> None:
    with pytest.raises(ValueError, match="unknown"):
        emit(session, "purchase.exploded", {})


def test_work_that_rolls_back_leaves_no_event(db: Database) -> None:
    with db.session() as session:
        _endpoint(session, "ep_all", [])
        session.commit()
    with db.session() as session:
        emit(session, "purchase.completed", {"id": "pur_1"})
        session.rollback()
    with db.session() as session:
        assert _count(session, OutboundEvent) == 0
        assert _count(session, WebhookDelivery) == 0
    with db.session() as session:
        emit(session, "purchase.completed", {"id": "pur_2"})
        session.commit()
    with db.session() as session:
        assert _count(session, OutboundEvent) == 1
        assert _count(session, WebhookDelivery) == 1
