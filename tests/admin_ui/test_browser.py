"""The seller in headless Chromium: signs in with an admin token, finds a purchase by the
buyer's address, refunds it (after a page that asks first) and sees its license revoked;
uploads a file with the progress bar."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser import Site
from tests.conftest import ADMIN_TOKEN

pytestmark = pytest.mark.browser

BUYER = "grace@example.com"


def _sell(site: Site) -> tuple[str, str]:
    product = site.api.post(
        "/api/admin/products",
        json={"name": "Pixel Forge", "slug": "pixel-forge", "type": "LICENSE", "price": 4900},
    )
    assert product.status_code == 201, product.text
    purchase = site.api.post(
        "/api/admin/purchases", json={"product": "pixel-forge", "email": BUYER}
    )
    assert purchase.status_code == 201, purchase.text
    body = purchase.json()
    return body["id"], body["licenses"][0]["key"]


def sign_in_as_seller(page: Page, site: Site) -> None:
    page.goto(f"{site.url}/admin")
    page.get_by_label("Admin token").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def test_seller_refunds_a_purchase_and_its_license_is_revoked(page: Page, site: Site) -> None:
    purchase_id, key = _sell(site)
    sign_in_as_seller(page, site)
    expect(page.get_by_role("img", name="Sales per day")).to_be_visible()

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Purchases").click()
    page.get_by_label("Search by e-mail or purchase id").fill("grace@")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name=BUYER).click()
    expect(page).to_have_url(f"{site.url}/admin/purchases/{purchase_id}")
    expect(page.locator("[data-license-status]")).to_have_text("Active")

    expect(page.get_by_role("button", name="Refund")).to_have_count(0)  # not one click away
    page.get_by_role("link", name="Refund…").click()
    expect(page.get_by_role("heading", name="Refund this purchase?")).to_be_visible()
    expect(page.get_by_text(f"Its license {key} is revoked for good")).to_be_visible()
    page.get_by_role("link", name="Cancel").click()
    expect(page).to_have_url(f"{site.url}/admin/purchases/{purchase_id}")
    expect(page.locator("[data-license-status]")).to_have_text("Active")

    page.get_by_role("link", name="Refund…").click()
    page.get_by_role("button", name="Refund").click()
    expect(page.get_by_role("status").filter(has_text="Refunded")).to_be_visible()
    expect(page.locator("[data-purchase-status]")).to_have_attribute(
        "data-purchase-status", "REFUNDED"
    )
    expect(page.locator("[data-license-status]")).to_have_text("Revoked")
    expect(page.get_by_role("link", name="Refund…")).to_have_count(0)

    page.get_by_role("link", name=key).click()
    expect(page.locator("[data-license-status]")).to_have_attribute(
        "data-license-status", "REVOKED"
    )
    checked = site.api.post("/api/licenses/validate", json={"licenseKey": key})
    assert checked.json()["code"] == "REVOKED"


def test_seller_uploads_a_file_with_a_progress_bar(page: Page, site: Site) -> None:
    _sell(site)
    content = os.urandom(2 * 1024 * 1024 + 7)
    sign_in_as_seller(page, site)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Products").click()
    page.get_by_role("link", name="Pixel Forge").click()
    page.get_by_label("Upload a new file").set_input_files(
        {"name": "pixel-forge-2.0.zip", "mimeType": "application/zip", "buffer": content}
    )
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.locator("#upload-status")).to_contain_text("Uploaded. pixel-forge-2.0.zip")
    expect(page.get_by_role("progressbar", name="Upload progress")).to_have_attribute(
        "value", "100"
    )
    product = site.api.get("/api/admin/products/pixel-forge").json()
    assert product["fileName"] == "pixel-forge-2.0.zip"
    assert product["fileSize"] == len(content)
    assert product["fileMimeType"] == "application/zip"


def test_seller_adds_a_file_to_a_release_with_its_platform(page: Page, site: Site) -> None:
    """The release's upload form (the same script as the product's file, with the platform
    and architecture added to the query) stores the file, then shows the page again."""
    _sell(site)
    release = site.api.post("/api/admin/products/pixel-forge/releases", json={"version": "2.0.0"})
    assert release.status_code == 201, release.text
    content = os.urandom(512 * 1024 + 3)
    sign_in_as_seller(page, site)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Products").click()
    page.get_by_role("link", name="Pixel Forge").click()
    form = page.get_by_role("form", name="Add a file to 2.0.0")
    form.get_by_label("File").set_input_files(
        {"name": "forge-2.0.0-linux.tar.gz", "mimeType": "application/gzip", "buffer": content}
    )
    form.get_by_label("Platform").fill("linux")
    form.get_by_label("Architecture").fill("x86_64")
    form.get_by_role("button", name="Upload", exact=True).click()
    expect(page.get_by_role("cell", name="linux / x86_64")).to_be_visible()
    listed = site.api.get("/api/admin/products/pixel-forge/releases").json()
    files = [a for r in listed for a in r["artifacts"]]
    assert [(a["fileName"], a["size"], a["platform"], a["arch"]) for a in files] == [
        ("forge-2.0.0-linux.tar.gz", len(content), "linux", "x86_64")
    ]


def _style(element: Locator, prop: str) -> str:
    return str(element.evaluate(f"e => getComputedStyle(e).{prop}"))


def test_the_active_filter_and_language_are_visible_and_focus_rings_contrast(
    page: Page, site: Site
) -> None:
    sign_in_as_seller(page, site)
    page.goto(f"{site.url}/admin/deliveries?status=FAILED")
    main = page.get_by_role("main")
    active, other = (main.get_by_role("link", name=n, exact=True) for n in ("Failed", "All"))
    expect(active).to_have_attribute("aria-current", "page")
    assert _style(active, "fontWeight") == "700"
    assert _style(other, "fontWeight") == "400"
    header = page.get_by_role("banner")
    english, german = (header.get_by_role("button", name=n) for n in ("English", "Deutsch"))
    expect(english).to_have_attribute("aria-pressed", "true")
    assert _style(english, "fontWeight") == "700"
    assert _style(german, "fontWeight") == "400"

    page.keyboard.press("Tab")  # from here on focus is drawn as for the keyboard
    other.focus()
    assert _style(other, "outlineColor") == "rgb(180, 83, 9)"  # --focus, on the grey page
    german.focus()
    assert _style(german, "outlineColor") == "rgb(251, 191, 36)"  # --focus-on-dark, header
