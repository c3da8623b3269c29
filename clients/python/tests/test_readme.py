"""The README's desktop example runs as documented against the imitation server."""

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import KEY, MACHINE, FakeServer

README = Path(__file__).parent.parent / "README.md"


def load_example(server: FakeServer, cache_dir: Path) -> dict[str, Any]:
    match = re.search(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    assert match is not None
    code = match.group(1)
    replacements = {
        '"https://shop.example.com"': '"https://shop.example"',
        '{"20261128-3f9a0c1e": "<publicKey from /api/licenses/public-keys>"}': (
            "PUBLIC_KEYS, http=HTTP, clock=CLOCK, machine_id=MACHINE"
        ),
        'Path.home() / ".my-app" / "license"': "CACHE_DIR",
        'product="my-app"': 'product="e-book-pro"',
    }
    for old, new in replacements.items():
        assert old in code
        code = code.replace(old, new)
    namespace: dict[str, Any] = {
        "PUBLIC_KEYS": server.signer.public_keys(),
        "HTTP": server.client(),
        "CLOCK": server.clock,
        "MACHINE": MACHINE,
        "CACHE_DIR": cache_dir,
    }
    exec(compile(code, str(README), "exec"), namespace)  # noqa: S102 - our own README
    return namespace


@pytest.fixture
def example(tmp_path: Path) -> tuple[FakeServer, Callable[[str], None], Callable[[], bool]]:
    server = FakeServer()
    server.add_license()
    namespace = load_example(server, tmp_path)
    return server, namespace["first_run"], namespace["licensed"]


def paths(server: FakeServer) -> list[str]:
    return [f"{request.method} {request.url.path}" for request in server.requests]


def test_desktop_example(
    example: tuple[FakeServer, Callable[[str], None], Callable[[], bool]],
) -> None:
    server, first_run, licensed = example
    assert not licensed()  # no file yet
    first_run(KEY)
    assert licensed()
    server.requests.clear()

    server.clock.advance(timedelta(hours=12))
    assert licensed()
    assert paths(server) == []  # offline within the day

    server.clock.advance(timedelta(hours=13))  # a day on: ask the server, renew
    assert licensed()
    assert paths(server) == ["POST /api/licenses/validate", "POST /api/licenses/activate"]
    assert len(server.licenses[KEY].machines) == 1

    server.offline = True
    server.clock.advance(timedelta(days=6))  # renewal due, server unreachable
    assert licensed()
    server.clock.advance(timedelta(days=2))  # the week-long file has expired
    assert not licensed()

    server.offline = False
    assert licensed()  # renewed from the expired file's payload


def test_desktop_example_refuses_a_suspended_license(
    example: tuple[FakeServer, Callable[[str], None], Callable[[], bool]],
) -> None:
    server, first_run, licensed = example
    first_run(KEY)
    server.licenses[KEY].status = "SUSPENDED"
    assert licensed()  # still inside the offline window
    server.clock.advance(timedelta(days=2))
    assert not licensed()


def test_desktop_example_notices_a_deactivated_machine(
    example: tuple[FakeServer, Callable[[str], None], Callable[[], bool]],
) -> None:
    server, first_run, licensed = example
    first_run(KEY)
    del server.licenses[KEY].machines[MACHINE]  # freed for another machine, file kept
    server.clock.advance(timedelta(days=2))
    server.requests.clear()
    assert not licensed()
    assert paths(server) == ["POST /api/licenses/validate"]  # no new seat taken
    assert not licensed()  # the file is gone: unlicensed offline too
    assert server.licenses[KEY].machines == {}
