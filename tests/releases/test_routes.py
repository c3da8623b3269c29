"""The admin API of releases and the update check programs call."""

from __future__ import annotations

import base64
import hashlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi.testclient import TestClient
from sqlalchemy import select

from shipkey.clock import utcnow
from shipkey.db.engine import Database
from shipkey.hooks.models import OutboundEvent, WebhookEndpoint
from tests.licensing.helpers import buy, licensed_key, licensed_product
from tests.releases.helpers import backdate, expire, publish


def _latest(client: TestClient, key: str, **params: Any) -> Any:
    return client.get(
        "/api/releases/pixel-app/latest", params=params, headers={"Authorization": f"License {key}"}
    )


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_publish_upload_sign_and_list(admin: TestClient, client: TestClient) -> None:
    licensed_product(admin)
    data = os.urandom(100_000)
    release = publish(admin, "1.2.0", notes="Faster.")
    assert release["channel"] == "stable"
    assert release["normalized"] == "1.2.0"
    put = admin.put(
        f"/api/admin/releases/{release['id']}/artifacts",
        params={"filename": "pixel-1.2.0.dmg", "platform": "macos", "arch": "arm64"},
        content=data,
    )
    assert put.status_code == 200, put.text
    artifact = put.json()
    assert set(artifact) == {
        "id",
        "fileName",
        "size",
        "sha256",
        "platform",
        "arch",
        "signature",
        "kid",
    }
    assert artifact["size"] == len(data)
    assert artifact["sha256"] == hashlib.sha256(data).hexdigest()
    keys = client.get("/api/licenses/public-keys").json()["keys"]
    public = next(k for k in keys if k["kid"] == artifact["kid"])
    Ed25519PublicKey.from_public_bytes(base64.b64decode(public["publicKey"])).verify(
        base64.b64decode(artifact["signature"]), data
    )
    listed = admin.get("/api/admin/products/pixel-app/releases").json()
    assert [r["version"] for r in listed] == ["1.2.0"]
    assert listed[0]["artifacts"][0]["downloads"] == 0
    # the same name again is refused: a published file never changes
    again = admin.put(
        f"/api/admin/releases/{release['id']}/artifacts",
        params={"filename": "pixel-1.2.0.dmg", "platform": "macos"},
        content=b"other",
    )
    assert again.status_code == 409
    assert again.json()["code"] == "ARTIFACT_EXISTS"


def test_versions_are_checked_and_unique(admin: TestClient) -> None:
    licensed_product(admin)
    url = "/api/admin/products/pixel-app/releases"
    assert (
        admin.post(url, json={"version": "1.3.0-beta.1", "channel": "beta"}).json()["normalized"]
        == "1.3.0b1"
    )
    bad = admin.post(url, json={"version": "not a version"})
    assert bad.status_code == 400
    assert bad.json()["code"] == "INVALID_VERSION"
    dup = admin.post(url, json={"version": "1.3.0b1"})
    assert dup.status_code == 409
    assert dup.json()["code"] == "RELEASE_EXISTS"
    assert admin.post(url, json={"version": "1.0", "channel": "nightly"}).status_code == 422
    assert admin.post("/api/admin/products/nope/releases", json={"version": "1"}).status_code == 404
    missing = admin.put(
        "/api/admin/releases/rel_nope/artifacts", params={"filename": "a.zip"}, content=b"x"
    )
    assert missing.status_code == 404
    assert admin.post("/api/admin/releases/rel_nope/yank").status_code == 404


def test_the_admin_api_needs_the_token(client: TestClient) -> None:
    assert client.get("/api/admin/products/pixel-app/releases").status_code == 401


def test_latest_follows_channel_platform_and_current_version(
    admin: TestClient, client: TestClient
) -> None:
    key = licensed_key(admin)
    publish(admin, "1.0.0", {"pixel-1.0.0.zip": b"one"}, notes="First.")
    publish(admin, "1.1.0", {"pixel-1.1.0-linux.tar.gz": b"linux"}, platform="linux")
    publish(admin, "2.0.0-beta.1", {"pixel-2.0.0b1.zip": b"beta"}, channel="beta")
    publish(admin, "2.0.0-alpha.1", {"pixel-2.0.0a1.zip": b"alpha"}, channel="alpha")
    publish(admin, "3.0.0")  # no files yet: not offered

    stable = _latest(client, key)
    assert stable.status_code == 200, stable.text
    body = stable.json()
    assert body["version"] == "1.0.0"  # 1.1.0 is for linux only
    assert body["notes"] == "First."
    assert body["channel"] == "stable"
    assert set(body["artifacts"][0]) == {
        "fileName",
        "size",
        "sha256",
        "platform",
        "arch",
        "url",
        "signature",
        "kid",
    }
    linux = _latest(client, key, platform="linux", arch="x86_64").json()
    assert linux["version"] == "1.1.0"
    assert [a["fileName"] for a in linux["artifacts"]] == ["pixel-1.1.0-linux.tar.gz"]
    assert _latest(client, key, channel="beta").json()["version"] == "2.0.0-beta.1"
    assert _latest(client, key, channel="alpha").json()["version"] == "2.0.0-beta.1"
    assert _latest(client, key, currentVersion="1.0.0").status_code == 204
    assert _latest(client, key, currentVersion="1.0.0", channel="beta").status_code == 200
    assert _latest(client, key, currentVersion="2.0.0b1", channel="beta").status_code == 204
    assert _latest(client, key, currentVersion="v0.9").json()["version"] == "1.0.0"
    bad = _latest(client, key, currentVersion="banana")
    assert bad.status_code == 400
    assert bad.json()["code"] == "INVALID_VERSION"
    assert _latest(client, key, channel="nightly").status_code == 422
    assert _latest(client, key, platform="Linux OS").status_code == 422


def test_the_link_serves_the_file_and_counts(admin: TestClient, client: TestClient) -> None:
    key = licensed_key(admin)
    data = os.urandom(50_000)
    publish(admin, "1.0.0", {"pixel.zip": data})
    artifact = _latest(client, key).json()["artifacts"][0]
    got = client.get(_path(artifact["url"]))
    assert got.status_code == 200
    assert got.content == data
    part = client.get(_path(artifact["url"]), headers={"Range": "bytes=10-19"})
    assert part.status_code == 206
    assert part.content == data[10:20]
    flipped = artifact["url"].replace("sig=", "sig=0")[:-1]
    assert client.get(_path(flipped)).status_code == 403
    listed = admin.get("/api/admin/products/pixel-app/releases").json()
    assert listed[0]["artifacts"][0]["downloads"] == 1  # the Range resume is not counted


@pytest.mark.parametrize(
    ("action", "status", "code"),
    [("suspend", 403, "SUSPENDED"), ("revoke", 403, "REVOKED")],
)
def test_suspended_and_revoked_get_nothing(
    admin: TestClient, client: TestClient, action: str, status: int, code: str
) -> None:
    key = licensed_key(admin)
    publish(admin, "1.0.0", {"pixel.zip": b"x"})
    assert admin.post(f"/api/admin/licenses/{key}/{action}").status_code == 200
    refused = _latest(client, key)
    assert refused.status_code == status
    assert refused.json()["code"] == code


def test_unknown_and_malformed_keys_are_401(admin: TestClient, client: TestClient) -> None:
    key = licensed_key(admin)
    publish(admin, "1.0.0", {"pixel.zip": b"x"})
    assert _latest(client, "nonsense").json()["code"] == "INVALID_FORMAT"
    assert _latest(client, "nonsense").status_code == 401
    assert client.get("/api/releases/pixel-app/latest").status_code == 401
    other = licensed_product(admin, slug="other-app", name="Other")
    assert other["slug"] == "other-app"
    other_key = buy(admin, "other-app")[1]
    mismatch = _latest(client, other_key)
    assert mismatch.status_code == 403
    assert mismatch.json()["code"] == "PRODUCT_MISMATCH"
    assert _latest(client, key).status_code == 200


def test_an_expired_license_keeps_what_came_before(
    admin: TestClient, client: TestClient, db: Database
) -> None:
    key = licensed_key(admin)
    old = publish(admin, "1.0.0", {"pixel-1.0.zip": b"old"})
    new = publish(admin, "1.1.0", {"pixel-1.1.zip": b"new"})
    now = utcnow()
    backdate(db, old["id"], now - timedelta(days=30))
    backdate(db, new["id"], now - timedelta(days=5))
    expire(db, key, now - timedelta(days=10))
    answer = _latest(client, key)
    assert answer.status_code == 200
    assert answer.json()["version"] == "1.0.0"
    assert _latest(client, key, currentVersion="1.0.0").status_code == 204
    expire(db, key, now - timedelta(days=40))  # ended before anything was published
    nothing = _latest(client, key)
    assert nothing.status_code == 403
    assert nothing.json()["code"] == "EXPIRED"


def test_yanked_releases_are_not_offered_nor_served(admin: TestClient, client: TestClient) -> None:
    key = licensed_key(admin)
    publish(admin, "1.0.0", {"pixel-1.0.zip": b"old"})
    bad = publish(admin, "1.1.0", {"pixel-1.1.zip": b"bad"})
    url = _latest(client, key).json()["artifacts"][0]["url"]
    yanked = admin.post(f"/api/admin/releases/{bad['id']}/yank", json={"reason": "crashes"})
    assert yanked.status_code == 200
    assert yanked.json()["yanked"] is True
    assert yanked.json()["yankReason"] == "crashes"
    assert _latest(client, key).json()["version"] == "1.0.0"
    gone = client.get(_path(url))
    assert gone.status_code == 410
    assert gone.json()["code"] == "RELEASE_YANKED"


def test_publishing_tells_the_sellers_systems(admin: TestClient, db: Database) -> None:
    licensed_product(admin)
    with db.session() as session:
        session.add(
            WebhookEndpoint(
                id="ep_rel",
                url="http://127.0.0.1:9/hook",
                events=["release.published"],
                secret="whsec_x",
                enabled=True,
            )
        )
    release = publish(admin, "1.4.0", notes="New.")
    with db.read_session() as session:
        events = session.scalars(select(OutboundEvent)).all()
    assert [e.type for e in events] == ["release.published"]
    assert events[0].data == release
    # a refused publication tells no one
    assert (
        admin.post("/api/admin/products/pixel-app/releases", json={"version": "1.4.0"}).status_code
        == 409
    )
    with db.read_session() as session:
        assert len(session.scalars(select(OutboundEvent)).all()) == 1


def test_an_empty_file_is_signed_too(admin: TestClient, client: TestClient) -> None:
    licensed_product(admin)
    release = publish(admin, "0.0.1")
    put = admin.put(
        f"/api/admin/releases/{release['id']}/artifacts", params={"filename": "empty.txt"}
    )
    assert put.status_code == 200, put.text
    artifact = put.json()
    assert artifact["size"] == 0
    keys = {
        k["kid"]: k["publicKey"] for k in client.get("/api/licenses/public-keys").json()["keys"]
    }
    Ed25519PublicKey.from_public_bytes(base64.b64decode(keys[artifact["kid"]])).verify(
        base64.b64decode(artifact["signature"]), b""
    )


def test_parallel_publications_of_one_version_make_one_release(
    admin: TestClient, live_server: str
) -> None:
    licensed_product(admin)
    barrier = threading.Barrier(8)

    def _publish(_: int) -> int:
        with httpx.Client(base_url=live_server, headers=dict(admin.headers)) as http:
            barrier.wait()
            answer = http.post("/api/admin/products/pixel-app/releases", json={"version": "3.0.0"})
            return answer.status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(_publish, range(8)))
    assert statuses == [201] + [409] * 7
    assert len(admin.get("/api/admin/products/pixel-app/releases").json()) == 1
