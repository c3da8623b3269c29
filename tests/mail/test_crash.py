"""``shipkey worker`` as a real process: killed with SIGKILL mid-send it loses nothing, and it
stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from shipkey.clock import utcnow
from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.jobs.models import Job, JobStatus
from shipkey.jobs.worker import DEFAULT_LEASE, Worker
from shipkey.mail.models import MailStatus
from shipkey.storage import Storage
from tests.conftest import SECRET
from tests.jobs.helpers import Clock, wait_for
from tests.mail.helpers import message, queue_logins
from tests.mail.smtp import SmtpTestServer

SHIPKEY = Path(sys.executable).with_name("shipkey")


@contextmanager
def _worker_process(
    settings: Settings, smtp_url: str, workdir: Path
) -> Iterator[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPKEY_")}
    env.update(
        SHIPKEY_DATABASE_URL=settings.resolved_database_url,
        SHIPKEY_DATA_DIR=str(settings.resolved_data_dir),
        SHIPKEY_SECRET_KEY=SECRET,
        SHIPKEY_BASE_URL=settings.base_url,
        SHIPKEY_SMTP_URL=smtp_url,
    )
    log = (workdir / "worker.log").open("wb")
    process = subprocess.Popen(
        [str(SHIPKEY), "worker"], env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
        log.close()


def _running_jobs(db: Database) -> list[Job]:
    with db.read_session() as session:
        return list(session.scalars(select(Job).where(Job.status == JobStatus.RUNNING)))


def test_a_worker_killed_mid_send_loses_no_mail(
    db: Database,
    mail_settings: Settings,
    storage: Storage,
    smtp: SmtpTestServer,
    clock: Clock,
    tmp_path: Path,
) -> None:
    smtp.recorder.stall_on.add(2)  # the second message hangs in DATA
    ids = queue_logins(db, mail_settings, 3)

    with _worker_process(mail_settings, smtp.url(), tmp_path) as process:
        assert smtp.recorder.stalled.wait(60), (tmp_path / "worker.log").read_text()
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

    [interrupted] = _running_jobs(db)
    assert interrupted.locked_until is not None
    assert len(smtp.recorder.received) == 1

    clock.now = utcnow() + DEFAULT_LEASE + timedelta(seconds=1)  # the dead worker's lease ran out
    worker = Worker(mail_settings, db, storage, clock=clock)
    # The two e-mails left, and any daily job the dead worker queued that is due by now.
    while worker.run_once():
        pass

    counts = Counter(smtp.recorder.message_ids())
    expected = {f"<{i}@testserver>" for i in ids}
    assert set(counts) == expected
    stalled = f"<{interrupted.payload['message_id']}@testserver>"
    assert counts[stalled] >= 1  # at least once
    assert all(n == 1 for mid, n in counts.items() if mid != stalled)  # the rest exactly once
    assert all(message(db, i).status is MailStatus.SENT for i in ids)
    assert _running_jobs(db) == []


def test_the_worker_command_sends_and_stops_on_sigterm(
    db: Database, mail_settings: Settings, smtp: SmtpTestServer, tmp_path: Path
) -> None:
    [message_id] = queue_logins(db, mail_settings, 1)
    with _worker_process(mail_settings, smtp.url(), tmp_path) as process:
        assert wait_for(lambda: len(smtp.recorder.received) == 1), (
            tmp_path / "worker.log"
        ).read_text()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    assert message(db, message_id).status is MailStatus.SENT
    assert "stopped" in (tmp_path / "worker.log").read_text()
