"""Releases for the release tests, made through the real admin API."""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import update

from shipkey.db.engine import Database
from shipkey.licensing.models import License


def publish(
    admin: TestClient,
    version: str,
    files: dict[str, bytes] | None = None,
    *,
    product: str = "pixel-app",
    channel: str = "stable",
    platform: str = "any",
    arch: str = "any",
    notes: str = "",
) -> dict[str, Any]:
    """A release with its files; the release as the admin API shows it afterwards."""
    response = admin.post(
        f"/api/admin/products/{product}/releases",
        json={"version": version, "channel": channel, "notes": notes},
    )
    assert response.status_code == 201, response.text
    release: dict[str, Any] = response.json()
    for name, data in (files or {}).items():
        put = admin.put(
            f"/api/admin/releases/{release['id']}/artifacts",
            params={"filename": name, "platform": platform, "arch": arch},
            content=data,
        )
        assert put.status_code == 200, put.text
    return release


def backdate(db: Database, release_id: str, when: datetime) -> None:
    from shipkey.releases.models import Release

    with db.session() as session:
        session.execute(update(Release).where(Release.id == release_id).values(published_at=when))


def expire(db: Database, key: str, when: datetime) -> None:
    """Give a license an end in the past (it is noticed as EXPIRED on its next use)."""
    with db.session() as session:
        session.execute(update(License).where(License.key == key).values(expires_at=when))


def wheel(name: str, version: str, module_body: str = "") -> tuple[str, bytes]:
    """A minimal pure-Python wheel (PEP 427) with a correct RECORD: its file name and bytes."""
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    files = {
        f"{dist}/__init__.py": (module_body or f'VERSION = "{version}"\n').encode(),
        f"{info}/METADATA": (f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n").encode(),
        f"{info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return f"{dist}-{version}-py3-none-any.whl", buffer.getvalue()
