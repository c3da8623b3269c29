"""The buyer's purchase page lists, per license, the versions it may download."""

from __future__ import annotations

import html
from datetime import timedelta
from urllib.parse import urlsplit

from fastapi.testclient import TestClient

from shipkey.clock import utcnow
from shipkey.db.engine import Database
from tests.factories import create_purchase, product_with_file
from tests.portal.helpers import sign_in
from tests.releases.helpers import backdate, expire, publish


def test_versions_per_license_with_notes_and_links(
    admin: TestClient, client: TestClient, db: Database
) -> None:
    product_with_file(admin, name="Pixel Forge", slug="pixel-forge", type="LICENSE")
    sale = create_purchase(admin, "pixel-forge", email="ada@example.com")
    key = sale["licenses"][0]["key"]
    old = publish(admin, "1.0.0", {"forge-1.0.zip": b"one"}, product="pixel-forge", notes="First")
    new = publish(
        admin,
        "1.1.0-beta.1",
        {"forge-1.1b1.zip": b"beta"},
        product="pixel-forge",
        channel="beta",
        notes="Try <this>",
    )
    bad = publish(admin, "1.0.1", {"forge-1.0.1.zip": b"bad"}, product="pixel-forge")
    admin.post(f"/api/admin/releases/{bad['id']}/yank")
    publish(admin, "2.0.0", product="pixel-forge")  # no file yet
    sign_in(client, db, "ada@example.com")
    page = client.get(f"/purchases/{sale['id']}").text
    assert "Versions you may download" in page
    assert 'data-version="1.0.0"' in page
    assert 'data-version="1.1.0-beta.1"' in page
    assert "Try &lt;this&gt;" in page
    assert 'data-version="1.0.1"' not in page  # yanked
    assert 'data-version="2.0.0"' not in page  # nothing to download yet
    hrefs = [
        html.unescape(part.split('"', 1)[0])
        for part in page.split('href="')[1:]
        if part.startswith("http://testserver/api/releases/files/")
    ]
    assert len(hrefs) == 2
    link = urlsplit(next(h for h in hrefs if "forge-1.0.zip" in h))
    assert client.get(f"{link.path}?{link.query}").content == b"one"

    now = utcnow()
    backdate(db, old["id"], now - timedelta(days=10))
    backdate(db, new["id"], now - timedelta(days=1))
    expire(db, key, now - timedelta(days=5))
    page = client.get(f"/purchases/{sale['id']}").text
    assert 'data-version="1.0.0"' in page
    assert 'data-version="1.1.0-beta.1"' not in page  # published after it expired
    assert admin.post(f"/api/admin/licenses/{key}/revoke").status_code == 200
    assert "Versions you may download" not in client.get(f"/purchases/{sale['id']}").text
