"""``shipkey serve`` and ``shipkey worker`` as real processes for the fault scenarios: each in
a process group of its own (so that SIGKILL takes the Granian worker with it), on a port of its
own, with its output in a log file the assertions show."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import httpx

from tests.conftest import ADMIN_TOKEN, SECRET

SHIPKEY = Path(sys.executable).with_name("shipkey")
WEBHOOK_SECRET = "whsec_test_0123456789abcdefghijklmnopqrstuv"  # tests.payments' secret


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def environment(database_url: str, data_dir: Path, port: int, **extra: str) -> dict[str, str]:
    """The process environment: the suite's own ``SHIPKEY_*`` variables left out."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPKEY_")}
    env.update(
        SHIPKEY_DATABASE_URL=database_url,
        SHIPKEY_DATA_DIR=str(data_dir),
        SHIPKEY_SECRET_KEY=SECRET,
        SHIPKEY_ADMIN_TOKEN=ADMIN_TOKEN,
        SHIPKEY_BASE_URL=f"http://127.0.0.1:{port}",
        SHIPKEY_STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        SHIPKEY_RATE_LIMITS="off",
    )
    env.update(extra)
    return env


def wait_for(condition: Callable[[], bool], timeout: float = 30.0, every: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return condition()


class Process:
    """One ``shipkey`` command in its own process group."""

    def __init__(self, args: list[str], env: Mapping[str, str], log: Path) -> None:
        self.args = args
        self.env = dict(env)
        self.log = log
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                [str(SHIPKEY), *self.args],
                env=self.env,
                cwd=self.log.parent,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def signal(self, signum: int, *, group: bool = False) -> None:
        with contextlib.suppress(ProcessLookupError):
            if group:
                os.killpg(self.pid, signum)
            else:
                os.kill(self.pid, signum)

    def wait(self, timeout: float) -> int:
        assert self.popen is not None
        return self.popen.wait(timeout=timeout)

    def kill(self) -> None:
        """SIGKILL to the whole group (the server and its workers), as a crash or the OOM
        killer of a container would."""
        if self.popen is not None:
            self.signal(signal.SIGKILL, group=True)
            self.popen.wait(timeout=30)

    def stop(self) -> None:
        if self.popen is None or self.popen.poll() is not None:
            self.signal(signal.SIGKILL, group=True)  # a worker left behind, if any
            return
        self.signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()
        self.signal(signal.SIGKILL, group=True)


class Server(Process):
    """``shipkey serve`` on ``port``."""

    def __init__(self, port: int, env: Mapping[str, str], log: Path) -> None:
        super().__init__(["serve", "--port", str(port)], env, log)
        self.port = port
        self.base = f"http://127.0.0.1:{port}"

    def start(self) -> Server:
        return self.launch().ready()

    def launch(self) -> Server:
        """Start the process without waiting for it (several start side by side)."""
        super().start()
        return self

    def ready(self) -> Server:
        """Wait until it answers ``/healthz``."""
        assert wait_for(self._healthy, timeout=60), self.output()
        return self

    def _healthy(self) -> bool:
        assert self.popen is not None
        if self.popen.poll() is not None:
            raise AssertionError(f"shipkey serve exited:\n{self.output()}")
        try:
            return httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def admin(self, timeout: float = 30) -> httpx.Client:
        return httpx.Client(
            base_url=self.base,
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=timeout,
        )
