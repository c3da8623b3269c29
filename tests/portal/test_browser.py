"""A buyer in headless Chromium: signs in through the link in the real e-mail, downloads the
file through a generated link, deactivates a machine, and reads the page in German."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser import Site

pytestmark = pytest.mark.browser

BUYER = "ada@example.com"


def _sell(site: Site) -> tuple[str, str, bytes]:
    """A licensed app with an installer, sold to BUYER; (purchase id, license key, file)."""
    content = os.urandom(300_000)
    product = site.api.post(
        "/api/admin/products",
        json={
            "name": "Pixel Forge",
            "slug": "pixel-forge",
            "type": "LICENSE",
            "maxDownloads": 3,
            "maxActivations": 2,
            "keyPrefix": "PXF",
        },
    )
    assert product.status_code == 201, product.text
    uploaded = site.api.put(
        "/api/admin/products/pixel-forge/file",
        params={"filename": "pixel-forge.zip"},
        content=content,
        headers={"Content-Type": "application/zip"},
    )
    assert uploaded.status_code == 200, uploaded.text
    purchase = site.api.post(
        "/api/admin/purchases", json={"product": "pixel-forge", "email": BUYER, "name": "Ada"}
    )
    assert purchase.status_code == 201, purchase.text
    body = purchase.json()
    return body["id"], body["licenses"][0]["key"], content


def _activate(site: Site, key: str, machine: str, name: str) -> None:
    response = site.api.post(
        "/api/licenses/activate",
        json={"licenseKey": key, "machineId": machine, "machineName": name},
    )
    assert response.status_code == 200, response.text


def _validate(site: Site, key: str, machine: str) -> str:
    response = site.api.post(
        "/api/licenses/validate", json={"licenseKey": key, "machineId": machine}
    )
    assert response.status_code == 200, response.text
    code: str = response.json()["code"]
    return code


def sign_in_by_email(page: Page, site: Site, email: str) -> None:
    page.goto(f"{site.url}/purchases")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("E-mail address").fill(email)
    page.get_by_role("button", name="Send me a sign-in link").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    link = site.wait_for_sign_in_link(email)
    page.goto(link)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{site.url}/purchases")


def test_buyer_signs_in_downloads_and_deactivates_a_machine(
    page: Page, site: Site, tmp_path: Path
) -> None:
    purchase_id, key, content = _sell(site)
    _activate(site, key, "machine-office", "Office PC")
    _activate(site, key, "machine-laptop", "Laptop")

    sign_in_by_email(page, site, BUYER)
    page.get_by_role("link", name="Pixel Forge").click()
    expect(page).to_have_url(f"{site.url}/purchases/{purchase_id}")
    expect(page.get_by_text(key)).to_be_visible()
    expect(page.locator("[data-activations]")).to_have_text("2/2")
    expect(page.locator("[data-downloads-left]")).to_have_text("3 downloads left")

    page.get_by_role("button", name="Generate download link").click()
    link = page.locator("[data-download-link]")
    expect(link).to_be_visible()
    with page.expect_download() as info:
        link.click()
    download = info.value
    assert download.suggested_filename == "pixel-forge.zip"
    saved = tmp_path / "download.zip"
    download.save_as(saved)
    assert hashlib.sha256(saved.read_bytes()).digest() == hashlib.sha256(content).digest()
    page.reload()
    expect(page.locator("[data-downloads-left]")).to_have_text("2 downloads left")

    with page.expect_download() as file_info:
        page.get_by_role("link", name="License file Laptop").click()
    license_file = tmp_path / "laptop.lic"
    file_info.value.save_as(license_file)
    assert license_file.read_text().startswith("-----BEGIN SHIPKEY LICENSE FILE-----")

    page.get_by_role("button", name="Deactivate Laptop").click()
    expect(page.get_by_role("status").filter(has_text="Laptop was deactivated.")).to_be_visible()
    expect(page.locator("[data-activations]")).to_have_text("1/2")
    expect(page.get_by_role("button", name="Deactivate Laptop")).to_have_count(0)
    assert _validate(site, key, "machine-laptop") == "NOT_ACTIVATED"
    assert _validate(site, key, "machine-office") == "VALID"

    page.get_by_role("button", name="Deutsch").click()
    expect(page.get_by_role("heading", name="Lizenzschlüssel")).to_be_visible()
    expect(page.get_by_role("button", name="Download-Link erzeugen")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "de")


def test_sign_in_link_works_once(page: Page, site: Site) -> None:
    _sell(site)
    sign_in_by_email(page, site, BUYER)
    link = site.wait_for_sign_in_link(BUYER)
    other = page.context.browser
    assert other is not None
    fresh = other.new_context()
    try:
        tab = fresh.new_page()
        tab.goto(link)
        expect(tab.get_by_role("heading", name="This sign-in link no longer works")).to_be_visible()
    finally:
        fresh.close()
