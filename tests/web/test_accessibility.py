"""Every page on a phone (390 × 844), in English and in German, checked by axe-core with
``target-size`` on: no violations, no sideways scrolling, a label on every cell of a table that
stacks into cards, and chart text of at least 12 px."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from shipkey.clock import utcnow
from shipkey.db.paging import encode_cursor
from shipkey.mail.senders import MailboxSender, Outgoing, build_email, mailbox_dir
from tests.browser import Axe, Site, describe_violations
from tests.conftest import ADMIN_TOKEN
from tests.payments.fake_stripe import FakeStripe, stripe_settings

pytestmark = pytest.mark.browser

PHONE: ViewportSize = {"width": 390, "height": 844}
BUYER = "ada@example.com"
_ACCESS = re.compile(r"/access/([A-Za-z0-9_-]{43})")

# What axe does not see: cells of a stacked table without their column's name, a page wider
# than the screen, and SVG text drawn smaller than 12 px.
_LAYOUT = """() => {
  const problems = [];
  const root = document.documentElement;
  if (root.scrollWidth > root.clientWidth + 1) {
    const wide = [...document.querySelectorAll("main *")].filter(
      e => e.getBoundingClientRect().right > root.clientWidth + 1).map(e => e.tagName);
    problems.push(`scrolls sideways: ${root.scrollWidth} px > ${root.clientWidth} px ` +
                  `(${[...new Set(wide)].slice(0, 5).join(", ")})`);
  }
  for (const cell of document.querySelectorAll("table.stack tbody td:not([colspan])")) {
    const plain = cell.textContent.trim() && !cell.querySelector("button, form");
    if (plain && !cell.dataset.label) {
      const table = cell.closest("table").previousElementSibling
        || cell.closest(".table-wrap").previousElementSibling;
      problems.push(`a stacked cell without data-label after "${table && table.textContent}"`);
      break;
    }
  }
  for (const text of document.querySelectorAll("svg text")) {
    const height = text.getBoundingClientRect().height;
    const size = parseFloat(getComputedStyle(text).fontSize) * text.getScreenCTM().a;
    if (size < 12) {
      problems.push(`chart text "${text.textContent}" is ${size.toFixed(1)} px (${height} high)`);
      break;
    }
  }
  return problems;
}"""


@pytest.fixture
def fake_stripe() -> Iterator[FakeStripe]:
    fake = FakeStripe()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def site_settings(fake_stripe: FakeStripe) -> dict[str, Any]:
    # With the seller's imprint, so that every page's footer is checked too.
    imprint = "Pixel Forge GmbH\nHauptstraße 1, 10115 Berlin"
    return {**stripe_settings(fake_stripe), "seller_imprint": imprint}


class Checker:
    def __init__(self, axe: Axe, site: Site) -> None:
        self.axe = axe
        self.site = site
        self.problems: list[str] = []

    def check(self, page: Page, path: str | None = None, status: int = 200) -> None:
        if path is not None:
            response = page.goto(f"{self.site.url}{path}")
            assert response is not None
            assert response.status == status, (path, response.status)
        where = f"{page.evaluate('document.documentElement.lang')} {page.url}"
        found = self.axe.violations(page)
        if found:
            self.problems.append(describe_violations(where, found))
        self.problems.extend(f"{where}: {problem}" for problem in page.evaluate(_LAYOUT))


def _shop(site: Site, fake_stripe: FakeStripe) -> dict[str, Any]:
    """A licensed app with a file and machines, a course with an access page, and checkouts."""
    site.created(
        "/api/admin/products",
        name="Pixel Forge",
        slug="pixel-forge",
        type="LICENSE",
        price=4900,
        maxActivations=3,
    )
    uploaded = site.api.put(
        "/api/admin/products/pixel-forge/file",
        params={"filename": "pixel-forge.zip"},
        content=b"PK" + bytes(2000),
        headers={"Content-Type": "application/zip"},
    )
    assert uploaded.status_code == 200, uploaded.text
    release = site.created(
        "/api/admin/products/pixel-forge/releases", version="1.1.0", notes="Faster export."
    )
    shipped = site.api.put(
        f"/api/admin/releases/{release['id']}/artifacts",
        params={"filename": "pixel-forge-1.1.0.zip", "platform": "linux", "arch": "x86_64"},
        content=b"PK" + bytes(1000),
    )
    assert shipped.status_code == 200, shipped.text
    site.created("/api/admin/products/pixel-forge/releases", version="1.2.0-beta.1", channel="beta")
    site.created(
        "/api/admin/products",
        name="Shipping Academy",
        slug="academy",
        type="COURSE",
        price=9900,
        metadata={"courseSlug": "shipping-academy"},
    )
    hook = site.created(
        "/api/admin/webhook-endpoints", url="http://127.0.0.1:9/hooks", description="CRM"
    )
    sale = site.created("/api/admin/purchases", product="pixel-forge", email=BUYER, name="Ada")
    key = sale["licenses"][0]["key"]
    for machine, name in (("machine-office", "Office PC"), ("machine-laptop", "Laptop")):
        activated = site.api.post(
            "/api/licenses/activate",
            json={"licenseKey": key, "machineId": machine, "machineName": name},
        )
        assert activated.status_code == 200, activated.text
    link = site.api.post(f"/api/admin/purchases/{sale['id']}/download-links")
    assert link.status_code == 201, link.text
    site.created("/api/admin/purchases", product="academy", email="grace@example.com")
    paid = site.api.post("/api/checkout", json={"product": "pixel-forge"}).json()
    fake_stripe.pay(paid["sessionId"], email="lin@example.com")
    pending = site.api.post("/api/checkout", json={"product": "pixel-forge"}).json()
    fake_stripe.pay(pending["sessionId"], email="sam@example.com", payment_status="unpaid")
    long_link = f"{site.url}/login/{'x' * 120}"
    outgoing = Outgoing(
        "msg_1",
        BUYER,
        "Your sign-in link",
        f"Sign in:\n{long_link}\n",
        f"<p>{long_link}</p>",
        utcnow(),
    )
    MailboxSender(mailbox_dir(site.settings)).send(build_email(outgoing, site.settings))
    return {
        "sale": sale,
        "hook": hook,
        "paid": paid["sessionId"],
        "pending": pending["sessionId"],
    }


def _access_token(site: Site) -> str:
    for message in site.mails_to("grace@example.com"):
        body = message.get_body(preferencelist=("plain",))
        found = _ACCESS.search(str(body.get_content())) if body is not None else None
        if found:
            return found.group(1)
    raise AssertionError("no access link mailed")


def _visit_all(page: Page, checker: Checker, site: Site, shop: dict[str, Any], n: int) -> None:
    sale_id = shop["sale"]["id"]
    # The portal, signed out and in.
    checker.check(page, "/login")
    page.locator("#email").fill(BUYER)
    page.locator("form:has(#email) button[type=submit]").click()
    expect(page.locator("h1")).to_be_visible()
    checker.check(page)
    page.goto(site.wait_for_sign_in_link(BUYER, count=n))
    checker.check(page)
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(f"{site.url}/purchases")
    checker.check(page)
    checker.check(page, f"/purchases/{sale_id}")
    checker.check(page, "/purchases/pur_nothing_here", status=404)
    checker.check(page, f"/login/{'n' * 43}", status=410)
    # The seller's admin.
    checker.check(page, "/admin/login")
    page.locator("#token").fill(ADMIN_TOKEN)
    page.locator("form:has(#token) button[type=submit]").click()
    expect(page.locator("svg").first).to_be_visible()
    checker.check(page)
    for path in (
        "/admin/products",
        "/admin/products/pixel-forge",
        "/admin/purchases",
        # a later page of a list: its links back to the newest rows (and on to older ones)
        f"/admin/purchases?cursor={encode_cursor(utcnow() + timedelta(days=1), 'pur_')}",
        f"/admin/purchases/{sale_id}",
        "/admin/deliveries",
        "/admin/webhooks",
        "/admin/webhook-endpoints",
        f"/admin/webhook-endpoints/{shop['hook']['id']}",
        "/admin/risk",
        f"/admin/purchases/{sale_id}/evidence",
        "/admin/audit-log",
    ):
        checker.check(page, path)
    # The product form refused: every field's error next to it.
    checker.check(page, "/admin/products/pixel-forge")
    page.locator("#p-name").fill("")
    page.locator("#p-slug").fill("Not A Slug")
    page.locator("main form:has(#p-name)").evaluate("form => { form.noValidate = true; }")
    page.locator("main form:has(#p-name) button[type=submit]").first.click()
    expect(page.locator("[aria-invalid=true]").first).to_be_visible()
    checker.check(page)
    checker.check(page, f"/admin/purchases/{sale_id}/refund")  # the confirm step
    checker.check(page, "/admin/licenses")
    page.get_by_role("link", name=shop["sale"]["licenses"][0]["key"]).click()
    expect(page.locator("h1.key")).to_be_visible()
    checker.check(page)
    checker.check(page, f"{page.url.removeprefix(site.url)}/revoke")  # the confirm step
    checker.check(page, "/admin/mailbox")
    page.locator("main a[href^='/admin/mailbox/']").first.click()
    expect(page.locator("pre")).to_be_visible()
    checker.check(page)
    # The pages after checkout.
    checker.check(page, f"/checkout/success?session_id={shop['paid']}")
    checker.check(page, f"/checkout/success?session_id={shop['pending']}")
    checker.check(page, "/checkout/cancel")
    checker.check(page, f"/access/{_access_token(site)}")


def test_every_page_passes_axe_on_a_phone_in_both_languages(
    browser: Browser, site: Site, axe: Axe, fake_stripe: FakeStripe
) -> None:
    shop = _shop(site, fake_stripe)
    checker = Checker(axe, site)
    for n, locale in enumerate(("en-US", "de-DE"), start=1):
        context = browser.new_context(locale=locale, viewport=PHONE)
        context.set_default_timeout(15_000)
        try:
            _visit_all(context.new_page(), checker, site, shop, n)
        finally:
            context.close()
    assert not checker.problems, "\n".join(checker.problems)
