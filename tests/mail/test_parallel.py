"""Several workers with their own connections over one outbox: every message is sent once."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.jobs.worker import Worker
from shipkey.mail.models import MailStatus
from shipkey.storage import Storage
from tests.jobs.helpers import Clock
from tests.mail.helpers import message, queue_logins
from tests.mail.smtp import SmtpTestServer

WORKERS = 4
MESSAGES = 40


def test_parallel_workers_send_every_message_exactly_once(
    db: Database,
    mail_settings: Settings,
    storage: Storage,
    smtp: SmtpTestServer,
    clock: Clock,
) -> None:
    ids = queue_logins(db, mail_settings, MESSAGES)
    databases = [Database(mail_settings.resolved_database_url) for _ in range(WORKERS)]
    workers = [Worker(mail_settings, d, storage, clock=clock) for d in databases]
    barrier = threading.Barrier(WORKERS)

    def run(worker: Worker) -> int:
        barrier.wait()
        return worker.run_once()

    try:
        with ThreadPoolExecutor(WORKERS) as pool:
            attempts = list(pool.map(run, workers))
    finally:
        for database in databases:
            database.dispose()

    assert sum(attempts) == MESSAGES
    counts = Counter(smtp.recorder.message_ids())
    assert counts == Counter({f"<{i}@testserver>": 1 for i in ids})
    assert all(message(db, i).status is MailStatus.SENT for i in ids)
