"""A refused product form in headless Chromium: the first invalid field has the focus (no script
needed) and each invalid field is described by its error."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.admin_ui.test_browser import sign_in_as_seller
from tests.browser import Site

pytestmark = pytest.mark.browser


def test_the_first_invalid_field_has_the_focus(page: Page, site: Site) -> None:
    sign_in_as_seller(page, site)
    page.goto(f"{site.url}/admin/products")
    page.get_by_label("Name").fill("Pixel Forge")
    page.get_by_label("Slug (in URLs and Payment Links)").fill("pixel-forge")
    page.get_by_label("Price").fill("twelve")
    page.get_by_label("Downloads per purchase").fill("100000")
    page.get_by_role("button", name="Create product").click()

    price = page.locator("#p-price")
    expect(price).to_be_focused()
    expect(price).to_have_value("twelve")
    expect(price).to_have_accessible_description(
        "Enter a price from 0 to 1,000,000, such as 19.99."
    )
    expect(page.locator("#p-max-downloads")).to_have_accessible_description(
        "Enter a whole number from 1 to 10000."
    )
    expect(page.get_by_role("alert")).to_contain_text("The form has 2 problems:")
    page.get_by_role("link", name="Downloads per purchase: Enter a whole number").click()
    expect(page).to_have_url(f"{site.url}/admin/products#p-max-downloads")
