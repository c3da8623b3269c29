"""``shipkey worker`` killed mid-delivery: the job's lease runs out, the job runs again and the
receiver gets the event again, with the same ``webhook-id`` (at least once)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from shipkey.clock import utcnow
from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.hooks.models import DeliveryStatus
from shipkey.hooks.outbox import DELIVER_JOB
from shipkey.jobs.models import Job, JobStatus
from shipkey.jobs.worker import DEFAULT_LEASE, Worker
from shipkey.storage import Storage
from tests.conftest import SECRET
from tests.hooks.helpers import delivery, endpoint, event
from tests.hooks.receiver import Behaviour, Receiver
from tests.jobs.helpers import Clock

SHIPKEY = Path(sys.executable).with_name("shipkey")


def test_a_worker_killed_mid_delivery_delivers_again_with_the_same_id(
    settings: Settings,
    db: Database,
    storage: Storage,
    receiver: Receiver,
    clock: Clock,
    tmp_path: Path,
) -> None:
    receiver.behaviours["/hook"] = Behaviour(hang=True)
    endpoint_id, secret = endpoint(db, receiver.url + "/hook")
    event_id = event(db)

    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPKEY_")}
    env.update(
        SHIPKEY_DATABASE_URL=settings.resolved_database_url,
        SHIPKEY_DATA_DIR=str(settings.resolved_data_dir),
        SHIPKEY_SECRET_KEY=SECRET,
        SHIPKEY_WEBHOOK_TIMEOUT="120",
    )
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(SHIPKEY), "worker"], env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            assert receiver.hung.wait(60), log.read_text()
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)

    with db.read_session() as session:
        [job] = session.scalars(select(Job).where(Job.kind == DELIVER_JOB))
        assert job.status is JobStatus.RUNNING  # its worker died holding it
    assert delivery(db).status is DeliveryStatus.PENDING

    receiver.behaviours["/hook"] = Behaviour()  # the receiver answers now
    clock.now = utcnow() + DEFAULT_LEASE + timedelta(seconds=1)  # the dead worker's lease ran out
    Worker(settings, db, storage, clock=clock).run_once()

    tries = receiver.at("/hook")
    assert len(tries) == 2
    assert {t.webhook_id for t in tries} == {event_id}
    assert tries[0].body == tries[1].body
    for got in tries:
        got.verify(secret)
    done = delivery(db, endpoint_id)
    assert (done.status, done.attempts) == (DeliveryStatus.DELIVERED, 1)
