"""The daily clean-up: what is removed after SHIPKEY_KEEP_DONE_DAYS days, what is kept, and
the job that runs it once a day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from shipkey.clock import utcnow
from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.jobs.models import Job, JobStatus
from shipkey.jobs.worker import Worker
from shipkey.mail.models import MailMessage, MailStatus
from shipkey.payments.models import EventStatus, WebhookEvent
from shipkey.portal.models import LoginToken
from shipkey.storage import Storage
from shipkey.upkeep import prune

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=31)
RECENT = NOW - timedelta(days=29)


def _job(name: str, status: JobStatus, finished: datetime | None) -> Job:
    return Job(
        id=f"job_{name}",
        kind="mail.send",
        payload={},
        status=status,
        attempts=1,
        run_at=OLD,
        created_at=OLD,
        finished_at=finished,
    )


def _mail(name: str, status: MailStatus, sent: datetime | None) -> MailMessage:
    return MailMessage(
        id=f"msg_{name}",
        kind="delivery",
        to_address="ada@example.com",
        locale="en",
        subject="Your download",
        text_body=f"text of {name}",
        html_body=f"<p>html of {name}</p>",
        status=status,
        attempts=1,
        created_at=OLD,
        sent_at=sent,
    )


def _event(name: str, status: EventStatus, received: datetime) -> WebhookEvent:
    return WebhookEvent(
        id=f"whe_{name}",
        provider="stripe",
        event_id=f"evt_{name}",
        type="checkout.session.completed",
        status=status,
        payload={"id": f"evt_{name}"},
        received_at=received,
    )


def _link(name: str, expires: datetime, used: datetime | None = None) -> LoginToken:
    return LoginToken(
        id=f"lgn_{name}",
        token_hash=name.ljust(64, "0"),
        email="ada@example.com",
        created_at=expires - timedelta(minutes=15),
        expires_at=expires,
        used_at=used,
    )


@pytest.fixture
def history(db: Database) -> None:
    with db.session() as session:
        session.add_all(
            [
                _job("done_old", JobStatus.DONE, OLD),
                _job("done_old2", JobStatus.DONE, OLD - timedelta(days=100)),
                _job("done_recent", JobStatus.DONE, RECENT),
                _job("failed_old", JobStatus.FAILED, OLD),
                _job("queued", JobStatus.QUEUED, None),
                _mail("sent_old", MailStatus.SENT, OLD),
                _mail("sent_old2", MailStatus.SENT, OLD - timedelta(days=1)),
                _mail("sent_recent", MailStatus.SENT, RECENT),
                _mail("failed_old", MailStatus.FAILED, None),
                _mail("pending_old", MailStatus.PENDING, None),
                _event("processed_old", EventStatus.PROCESSED, OLD),
                _event("ignored_old", EventStatus.IGNORED, OLD),
                _event("failed_old", EventStatus.FAILED, OLD),
                _event("waiting_old", EventStatus.WAITING, OLD),
                _event("processed_recent", EventStatus.PROCESSED, RECENT),
                _link("expired_old", OLD),
                _link("used_old", OLD, used=OLD - timedelta(minutes=5)),
                _link("recent", RECENT, used=RECENT - timedelta(minutes=1)),
                _link("valid", NOW + timedelta(minutes=10)),
            ]
        )


def _ids(db: Database, model: type[Job | WebhookEvent | LoginToken]) -> set[str]:
    with db.read_session() as session:
        return set(session.scalars(select(model.id)))


def _bodies(db: Database) -> dict[str, tuple[str, str]]:
    with db.read_session() as session:
        rows = session.execute(select(MailMessage.id, MailMessage.text_body, MailMessage.html_body))
        return {row[0]: (row[1], row[2]) for row in rows}


@pytest.mark.usefixtures("history")
def test_what_is_done_with_is_removed_and_everything_else_kept(db: Database) -> None:
    result = prune.prune(db, 30, NOW)

    assert _ids(db, Job) == {"job_done_recent", "job_failed_old", "job_queued"}
    bodies = _bodies(db)
    assert bodies["msg_sent_old"] == ("", "")
    assert bodies["msg_sent_old2"] == ("", "")
    assert bodies["msg_sent_recent"] == ("text of sent_recent", "<p>html of sent_recent</p>")
    assert bodies["msg_failed_old"][0] == "text of failed_old"
    assert bodies["msg_pending_old"][0] == "text of pending_old"
    assert len(bodies) == 5  # the sent e-mails stay in the delivery log, without bodies
    assert _ids(db, WebhookEvent) == {"whe_failed_old", "whe_waiting_old", "whe_processed_recent"}
    assert _ids(db, LoginToken) == {"lgn_recent", "lgn_valid"}
    assert result.counts == {
        "jobs": 2,
        "mail bodies": 2,
        "webhook events": 2,
        "sign-in links": 2,
    }
    assert not result.more
    # Nothing is left to do a second time.
    assert set(prune.prune(db, 30, NOW).counts.values()) == {0}


@pytest.mark.usefixtures("history")
def test_pruning_goes_in_batches_and_says_when_it_stopped_early(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prune, "BATCH", 1)
    first = prune.prune(db, 30, NOW, max_batches=1)
    assert first.more
    assert first.counts["jobs"] == 1
    second = prune.prune(db, 30, NOW, max_batches=5)
    assert not second.more
    assert second.counts["jobs"] == 1
    assert _ids(db, Job) == {"job_done_recent", "job_failed_old", "job_queued"}


@pytest.mark.usefixtures("history")
def test_the_keep_days_setting_moves_the_cutoff(db: Database) -> None:
    prune.prune(db, 60, NOW)
    assert "job_done_old" in _ids(db, Job)  # 31 days old: kept for 60
    assert "job_done_old2" not in _ids(db, Job)  # 131 days old


def _prune_jobs(db: Database) -> list[Job]:
    with db.read_session() as session:
        return list(
            session.scalars(select(Job).where(Job.kind == prune.PRUNE_JOB).order_by(Job.run_at))
        )


def test_workers_queue_one_clean_up_a_day_and_each_run_queues_the_next(
    settings: Settings, db: Database, storage: Storage
) -> None:
    start = utcnow()  # the clock the workers read
    workers = [Worker(settings, db, storage) for _ in range(2)]
    for worker in workers:
        worker.registry.started(worker.ctx)  # what every worker does when it starts
    queued = _prune_jobs(db)
    assert len(queued) == 1
    assert queued[0].payload == {"day": start.date().isoformat()}

    with db.session() as session:  # something for it to remove
        session.add(_job("done_old", JobStatus.DONE, start - timedelta(days=40)))
    with db.session() as session:  # due now, whenever today's hour is
        session.get_one(Job, queued[0].id).run_at = start - timedelta(seconds=1)
    assert workers[0].run_once() >= 1

    runs = _prune_jobs(db)
    assert [job.status for job in runs] == [JobStatus.DONE, JobStatus.QUEUED]
    tomorrow = runs[1]
    assert tomorrow.payload == {"day": (start.date() + timedelta(days=1)).isoformat()}
    assert tomorrow.run_at == datetime.combine(tomorrow.run_at.date(), prune.RUN_AT, tzinfo=UTC)
    assert "job_done_old" not in _ids(db, Job)
    with db.read_session() as session:
        left = session.scalar(select(func.count()).where(Job.kind == "mail.send"))
    assert left == 0
    # A worker that starts again the same day queues nothing more.
    workers[1].registry.started(workers[1].ctx)
    assert len(_prune_jobs(db)) == 2
