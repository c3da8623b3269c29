"""The page after checkout in headless Chromium: while the payment is being confirmed it asks
quietly, without reloading itself, and shows the paid order once it is."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser import Site
from tests.payments.fake_stripe import FakeStripe, stripe_settings

pytestmark = pytest.mark.browser


@pytest.fixture
def site_settings(fake_stripe: FakeStripe) -> dict[str, Any]:
    return stripe_settings(fake_stripe)


def test_the_processing_page_shows_the_payment_without_reloading(
    page: Page, site: Site, fake_stripe: FakeStripe
) -> None:
    site.created(
        "/api/admin/products",
        name="Pixel Forge",
        slug="pixel-forge",
        type="LICENSE",
        price=4900,
    )
    started = site.api.post("/api/checkout", json={"product": "pixel-forge"}).json()
    fake_stripe.pay(started["sessionId"], email="lin@example.com", payment_status="unpaid")

    page.goto(f"{site.url}/checkout/success?session_id={started['sessionId']}")
    expect(page.get_by_role("heading", name="Almost there")).to_be_visible()
    expect(page.get_by_role("link", name="Check again")).to_be_visible()
    assert page.locator("meta[http-equiv=refresh]").count() == 0
    page.evaluate("window.sameDocument = true")

    fake_stripe.pay(started["sessionId"], email="lin@example.com")
    live = page.locator("[aria-live=polite]")
    expect(live.get_by_role("heading", name="Thank you for your purchase")).to_be_visible()
    expect(page).to_have_title("Thank you · shipkey")
    assert page.evaluate("window.sameDocument") is True
    expect(live.get_by_role("link", name="Check again")).to_have_count(0)
