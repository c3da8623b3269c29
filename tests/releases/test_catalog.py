"""The update check's snapshot of each product's releases."""

from __future__ import annotations

import asyncio

from fastapi.testclient import TestClient
from sqlalchemy import update

from shipkey.db.engine import Database
from shipkey.releases.catalog import ReleaseCatalog
from shipkey.releases.models import Release
from tests.licensing.helpers import licensed_product
from tests.releases.helpers import publish


def test_a_snapshot_is_read_once_sorted_and_dropped_on_forget(
    admin: TestClient, db: Database
) -> None:
    licensed_product(admin)
    for version in ("1.10.0", "1.2.0", "1.9.0-beta.1"):
        publish(admin, version, {f"app-{version}.zip": b"x"})
    catalog = ReleaseCatalog(db, fresh_seconds=3600)
    first = asyncio.run(catalog.releases("pixel-app"))
    assert [r.version for r in first] == ["1.10.0", "1.9.0-beta.1", "1.2.0"]
    assert first[0].files[0].file_name == "app-1.10.0.zip"
    with db.session() as session:
        session.execute(update(Release).values(notes="changed"))
    assert asyncio.run(catalog.releases("pixel-app")) is first  # still fresh
    catalog.forget("pixel-app")
    assert {r.notes for r in asyncio.run(catalog.releases("pixel-app"))} == {"changed"}
    assert asyncio.run(catalog.releases("no-such-product")) == ()
    stale = ReleaseCatalog(db, fresh_seconds=0)
    snapshot = asyncio.run(stale.releases("pixel-app"))
    assert asyncio.run(stale.releases("pixel-app")) is not snapshot  # read again
