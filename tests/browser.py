"""Fixtures for pages in a real browser: the app behind uvicorn with its background worker,
e-mail over a real SMTP server (aiosmtpd), and Debian's Chromium driven by Playwright.

Chromium is the system's (``/usr/bin/chromium``; ``make test`` installs it, see tests/needs.py);
Playwright's own browser downloads are never used.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from shipkey.app import create_app
from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.storage import Storage
from tests.conftest import ADMIN_TOKEN, SECRET, serve
from tests.mail.smtp import SmtpTestServer, free_port
from tests.needs import AXE

CHROMIUM = "/usr/bin/chromium"
_LINK = re.compile(r"https?://[^\s]+/login/[A-Za-z0-9_-]+")


@dataclass
class Site:
    """A running shipkey with its SMTP server; ``api`` speaks to it with the admin token."""

    url: str
    settings: Settings
    smtp: SmtpTestServer
    db: Database
    api: httpx.Client

    def created(self, path: str, **fields: Any) -> dict[str, Any]:
        """POST ``fields`` to an admin API path; the new object (201 asserted)."""
        response = self.api.post(path, json=fields)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    def mails_to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.smtp.recorder.messages() if str(m["To"]) == address]

    def wait_for_sign_in_link(self, address: str, count: int = 1, timeout: float = 30) -> str:
        """The link in the ``count``-th sign-in e-mail to ``address``, once the worker has sent
        it over SMTP (other mail to the address, such as the delivery, is passed over)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            links = [link for m in self.mails_to(address) if (link := _sign_in_link(m))]
            if len(links) >= count:
                return links[count - 1]
            time.sleep(0.05)
        raise AssertionError(f"no sign-in e-mail #{count} to {address} within {timeout} s")


def _sign_in_link(message: EmailMessage) -> str | None:
    text = message.get_body(preferencelist=("plain",))
    if not isinstance(text, EmailMessage):
        return None
    match = _LINK.search(str(text.get_content()))
    return match.group(0) if match else None


@pytest.fixture
def site_settings() -> dict[str, Any]:
    """Settings a test module gives its site besides the usual ones (override to add some)."""
    return {}


@pytest.fixture
def site(
    database_url: str,
    tmp_path: Path,
    db: Database,
    storage: Storage,
    site_settings: dict[str, Any],
) -> Iterator[Site]:
    smtp = SmtpTestServer()
    smtp.start()
    port = free_port()
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path / "data",
        database_url=database_url,
        secret_key=SECRET,
        admin_token=ADMIN_TOKEN,
        base_url=f"http://127.0.0.1:{port}",
        rate_limits="off",
        smtp_url=smtp.url(),
        admin_email="seller@example.com",
        **site_settings,
    )
    app = create_app(settings, db=db, storage=storage, run_worker=True)
    server, thread = serve(app, port)
    api = httpx.Client(
        base_url=settings.base_url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    try:
        yield Site(settings.base_url, settings, smtp, db, api)
    finally:
        api.close()
        server.should_exit = True
        thread.join(timeout=10)
        smtp.stop()


@pytest.fixture
def playwright() -> Iterator[Playwright]:
    """Per test: while the sync driver is up it owns the thread's event loop, which the
    async tests that may run next in the same worker need back."""
    with sync_playwright() as driver:
        yield driver


@pytest.fixture
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
    yield chromium
    chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="en-US", accept_downloads=True)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    context.close()


Violation = dict[str, Any]


class Axe:
    """axe-core (npm's, installed by tests/needs.py) run in the page: WCAG 2.x A and AA rules
    and best practices, with ``target-size`` (24 × 24 px touch targets) switched on."""

    def __init__(self, source: str) -> None:
        self.source = source

    def violations(self, page: Page) -> list[Violation]:
        if not page.evaluate("() => typeof window.axe === 'object'"):
            page.add_script_tag(content=self.source)
        found: list[Violation] = page.evaluate(
            """async () => (await axe.run(document, {
                   rules: {"target-size": {enabled: true}},
                   resultTypes: ["violations"],
               })).violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                   targets: v.nodes.map(n => n.target.join(" "))}))"""
        )
        return found


def describe_violations(where: str, violations: list[Violation]) -> str:
    """One line per violation: its rule, impact and the elements it found."""
    return "\n".join(
        f"{where}: {v['id']} ({v['impact']}) {v['help']}: {', '.join(v['targets'][:5])}"
        for v in violations
    )


@pytest.fixture(scope="session")
def axe() -> Axe:
    return Axe(AXE.path.read_text())
